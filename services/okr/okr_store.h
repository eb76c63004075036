// Durable storage of the OKR status service: check-ins (with their history)
// and the objective definitions it follows from the VMDB with the last
// revision applied. The only place with SQL in the service.
#ifndef VLA_SERVICES_OKR_OKR_STORE_H_
#define VLA_SERVICES_OKR_OKR_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vla/v1/okr_status.pb.h"

namespace vla::okr {

class OkrStore {
 public:
  virtual ~OkrStore() = default;
  // Appends a check-in; committed before it returns.
  virtual absl::Status AddCheckIn(const v1::CheckIn& check_in) = 0;
  // Every stored check-in, oldest first.
  virtual absl::Status ForEachCheckIn(
      const std::function<void(const v1::CheckIn&)>& fn) = 0;
  // Definitions followed from the VMDB (data empty: deleted) and the
  // revision they bring us to.
  virtual absl::Status ApplyDefinitions(
      const std::vector<std::pair<std::string, std::string>>& rows,
      int64_t revision) = 0;
  virtual absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view data)>& fn) = 0;
  virtual const std::string& secret() const = 0;
};

absl::StatusOr<std::unique_ptr<OkrStore>> OpenSqliteOkrStore(
    const std::string& path);

}  // namespace vla::okr

#endif  // VLA_SERVICES_OKR_OKR_STORE_H_
