// Durable storage of the evaluator: every accepted observation and work item
// event (keyed by event_id, so a retried record is found as a duplicate, also
// across restarts), the definitions it follows from the VMDB with the last
// revision applied, every VLA revision seen, and the history of VLA
// evaluations (pruned after a retention period). The only place with SQL in
// the evaluator.
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

// A VLA revision to keep: the VMDB change that committed it and the
// serialized Vla.
struct VlaRevisionRow {
  std::string vla;
  int64_t change_revision = 0;
  std::string data;
};

// A stored evaluation and its row id (the order of evaluations published at
// the same instant).
struct StoredEvaluation {
  int64_t id = 0;
  v1::VlaStatus status;
};

// Where a page of evaluations resumes: after the row (time_us, id) in the
// order (time_us, id). {from_us, 0} starts at from_us.
struct EvaluationCursor {
  int64_t time_us = 0;
  int64_t id = 0;
};

// What time in state needs of an evaluation.
struct EvaluationState {
  int64_t time_us = 0;
  v1::ComplianceState state = v1::COMPLIANCE_STATE_UNSPECIFIED;
  bool watermelon = false;
  bool disputed = false;
};

class EvaluatorStore {
 public:
  virtual ~EvaluatorStore() = default;

  // Inserts `rows` in one transaction, committed before it returns. The
  // result says per row whether it was new (false: its event_id was already
  // stored, or repeated earlier in `rows`).
  virtual absl::StatusOr<std::vector<bool>> InsertRecords(
      const std::vector<RecordRow>& rows) = 0;
  // Calls `fn` for every stored record.
  virtual absl::Status ForEachRecord(
      const std::function<void(v1::RecordKind, absl::string_view)>& fn) = 0;
  virtual absl::StatusOr<int64_t> RecordCount() = 0;

  // Stores definition changes and the VMDB revision they bring us to.
  virtual absl::Status ApplyDefinitions(const std::vector<DefinitionRow>& rows,
                                        int64_t revision) = 0;
  // Calls `fn` for every stored definition; returns the stored revision.
  virtual absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view name, absl::string_view data)>&
          fn) = 0;

  // Keeps VLA revisions; a (vla, change_revision) stored before is left as
  // it is, so the rows may be stored again (a replayed change feed).
  virtual absl::Status AddVlaRevisions(
      const std::vector<VlaRevisionRow>& rows) = 0;
  // Calls `fn` for every stored VLA revision.
  virtual absl::Status ForEachVlaRevision(
      const std::function<void(int64_t change_revision,
                               absl::string_view data)>& fn) = 0;

  // Appends evaluations to the history, in one transaction.
  virtual absl::Status AppendEvaluations(
      const std::vector<v1::VlaStatus>& statuses) = 0;
  // The evaluations of `vla` after `after` with evaluate_time before `to_us`,
  // in (time, id) order, at most `limit`.
  virtual absl::StatusOr<std::vector<StoredEvaluation>> Evaluations(
      absl::string_view vla, EvaluationCursor after, int64_t to_us,
      int limit) = 0;
  // The last evaluation of `vla` before `from_us` (if any), then every one
  // with evaluate_time in [from_us, to_us), in (time, id) order.
  virtual absl::StatusOr<std::vector<EvaluationState>> EvaluationStates(
      absl::string_view vla, int64_t from_us, int64_t to_us) = 0;
  // Deletes the evaluations before `before_us` except, per VLA, the last one
  // before it (the state still in force at `before_us`). Returns how many
  // were deleted.
  virtual absl::StatusOr<int64_t> PruneEvaluations(int64_t before_us) = 0;

  // The page-token secret, created on first open.
  virtual const std::string& secret() const = 0;
};

absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenSqliteEvaluatorStore(
    const std::string& path);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATOR_STORE_H_
