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
  // Appends a check-in; committed before it returns. Check-ins are numbered
  // 1, 2, 3, ... in commit order, also across processes sharing the store.
  virtual absl::Status AddCheckIn(const v1::CheckIn& check_in) = 0;
  // Calls `fn` for every check-in numbered after `after`, in order; returns
  // the number of the last one (`after` if none).
  virtual absl::StatusOr<int64_t> ReadCheckIns(
      int64_t after,
      const std::function<void(int64_t number, const v1::CheckIn&)>& fn) = 0;
  // Definitions followed from the VMDB (data empty: deleted) and the
  // revision they bring us to.
  virtual absl::Status ApplyDefinitions(
      const std::vector<std::pair<std::string, std::string>>& rows,
      int64_t revision) = 0;
  virtual absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view data)>& fn) = 0;
  virtual const std::string& secret() const = 0;

  // Sets the function called (from the store's thread; it must not block)
  // when another process sharing the store may have added check-ins. Stores
  // of one process never call it. Set once.
  virtual void OnCheckIns(std::function<void()> fn) { (void)fn; }
  // OK while the database can be reached.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

absl::StatusOr<std::unique_ptr<OkrStore>> OpenSqliteOkrStore(
    const std::string& path);

// Opens (creating and migrating schema vla_okr as needed) the PostgreSQL
// database at `uri`; replicas of the service share it.
absl::StatusOr<std::unique_ptr<OkrStore>> OpenPostgresOkrStore(
    const std::string& uri, int connections = 2);

}  // namespace vla::okr

#endif  // VLA_SERVICES_OKR_OKR_STORE_H_
