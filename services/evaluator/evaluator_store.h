// Durable storage of the evaluator: every accepted observation and work item
// event (keyed by event_id, so a retried record is found as a duplicate, also
// across restarts), the definitions it follows from the VMDB with the last
// revision applied, and the history of VLA evaluations. The only place with
// SQL in the evaluator.
#ifndef VLA_SERVICES_EVALUATOR_EVALUATOR_STORE_H_
#define VLA_SERVICES_EVALUATOR_EVALUATOR_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

// A record as stored: its kind and serialized Observation / WorkItemEvent.
struct RecordRow {
  std::string event_id;
  v1::RecordKind kind = v1::RECORD_KIND_UNSPECIFIED;
  std::string data;
};

// A definition change to persist (data empty: deleted).
struct DefinitionRow {
  std::string name;
  std::string data;
};

class EvaluatorStore {
 public:
  virtual ~EvaluatorStore() = default;

  // Inserts `rows` in one transaction, committed before it returns. The
  // result gives per row the sequence it was stored under (sequences grow
  // by one per new record, in commit order), or 0 when it was not new: its
  // event_id was already stored, or repeated earlier in `rows`.
  virtual absl::StatusOr<std::vector<int64_t>> InsertRecords(
      const std::vector<RecordRow>& rows) = 0;
  // Calls `fn(sequence, kind, data)` for every stored record with a
  // sequence above `after`, in sequence order.
  virtual absl::Status ForEachRecord(
      int64_t after,
      const std::function<void(int64_t, v1::RecordKind, absl::string_view)>&
          fn) = 0;
  virtual absl::StatusOr<int64_t> RecordCount() = 0;

  // Stores definition changes and the VMDB revision they bring us to.
  virtual absl::Status ApplyDefinitions(const std::vector<DefinitionRow>& rows,
                                        int64_t revision) = 0;
  // Calls `fn` for every stored definition; returns the stored revision.
  virtual absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view name, absl::string_view data)>&
          fn) = 0;

  // Appends evaluations to the history.
  virtual absl::Status AppendEvaluations(
      const std::vector<v1::VlaStatus>& statuses) = 0;
  // The evaluations of `vla` with evaluate_time in [from_us, to_us), oldest
  // first, at most `limit`.
  virtual absl::StatusOr<std::vector<v1::VlaStatus>> Evaluations(
      absl::string_view vla, int64_t from_us, int64_t to_us, int limit) = 0;

  // The page-token secret, created on first open.
  virtual const std::string& secret() const = 0;
};

absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenSqliteEvaluatorStore(
    const std::string& path);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATOR_STORE_H_
