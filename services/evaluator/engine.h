// Engine: the evaluator's in-memory state and computations, independent of
// gRPC and SQL. It holds the definitions (from the VMDB change feed) and the
// accepted records, indexed so that evaluation never rescans history:
//
// - Observations live in per-(value stream, signal) series, bucketed by
//   minute; resolved work items are indexed per value stream by the minute of
//   their last resolution (re-indexed when late events change them).
// - Every KVI selection keeps cached, mergeable aggregates per day, hour and
//   5-minute block, each valid until data in it changes (day and hour blocks
//   keep their percentile sketches, flat arrays, so merges add buckets). A
//   window [start, end) is answered from the merge of its whole minutes
//   (cached per selection: its whole 5-minute blocks, themselves a cached
//   merge of whole days, hours and 5-minute blocks, plus the whole minutes
//   at its edges; reused while the window slides within a minute and no
//   block it touches changes), plus the partial minutes at its two ends
//   scanned from raw data. Cost depends on the window's length in buckets,
//   not on the number of records stored.
//
// Thread-safe: one mutex guards everything (writers are the ingest pipeline
// and the change feed; readers fill caches, so they lock too).
#ifndef VLA_SERVICES_EVALUATOR_ENGINE_H_
#define VLA_SERVICES_EVALUATOR_ENGINE_H_

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/clock.h"
#include "services/common/status_board.h"
#include "services/evaluator/aggregate.h"
#include "services/evaluator/work_item.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::evaluator {

// Limits on ingested records (documented in the README).
struct IngestLimits {
  static constexpr int kMaxLabels = 16;
  static constexpr size_t kMaxLabelKey = 64;
  static constexpr size_t kMaxLabelValue = 256;
  static constexpr size_t kMaxEventId = 256;
  static constexpr size_t kMaxName = 256;
  static constexpr absl::Duration kMaxFuture = absl::Hours(24);
};

class Engine {
 public:
  explicit Engine(const Clock* clock);
  ~Engine();

  // --- Definitions -------------------------------------------------------
  // Applies one VMDB change (create, update or delete of any resource).
  void ApplyChange(const v1::Change& change);
  // Loads a stored definition (a serialized Change resource by name).
  void LoadDefinition(absl::string_view name, absl::string_view data);

  // --- Records -------------------------------------------------------------
  // OK if the record may be stored, else INVALID_ARGUMENT with the reason.
  absl::Status CheckObservation(const v1::Observation& o) const;
  absl::Status CheckEvent(const v1::WorkItemEvent& e) const;
  // Adds accepted records to memory.
  void AddObservation(const v1::Observation& o);
  void AddEvent(const v1::WorkItemEvent& e);
  // The same for a whole batch under one lock: one status per record,
  // observations first, then work item events.
  std::vector<absl::Status> CheckBatch(const v1::IngestRequest& batch) const;
  void AddBatch(const std::vector<const v1::Observation*>& observations,
                const std::vector<const v1::WorkItemEvent*>& events);

  // --- Queries ---------------------------------------------------------------
  absl::StatusOr<v1::KviValue> KviValue(const std::string& kvi, absl::Time at);
  // FAILED_PRECONDITION if the VLA is not ACTIVE, NOT_FOUND if unknown.
  absl::StatusOr<v1::VlaStatus> VlaStatus(const std::string& vla,
                                          absl::Time at);
  absl::StatusOr<v1::ValueStreamFlow> Flow(const std::string& value_stream,
                                           absl::Duration window,
                                           absl::Time at);

  // Names of the ACTIVE VLAs.
  std::vector<std::string> ActiveVlas() const;
  // Names of all KVIs.
  std::vector<std::string> KviNames() const;
  // Filter attributes of a KVI's value (kvi, value_stream).
  FilterAttributes KviAttributes(const std::string& kvi) const;
  // Filter attributes of a VLA's status (value_stream, team, ...).
  FilterAttributes VlaAttributes(const std::string& vla,
                                 const v1::VlaStatus& status) const;
  // What to re-evaluate: the ACTIVE VLAs and the KVIs whose inputs changed
  // since the last call (new data in their value stream, or definitions).
  struct Dirty {
    std::set<std::string> vlas;
    std::set<std::string> kvis;
  };
  Dirty TakeDirty();

 private:
  struct State;
  absl::Status CheckObservationLocked(const v1::Observation& o,
                                      absl::Time now) const;
  absl::Status CheckEventLocked(const v1::WorkItemEvent& e,
                                absl::Time now) const;
  void AddObservationLocked(const v1::Observation& o);
  void AddEventLocked(const v1::WorkItemEvent& e);
  std::unique_ptr<State> state_;
  const Clock* clock_;
  mutable std::mutex mu_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_ENGINE_H_
