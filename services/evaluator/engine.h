// Engine: the evaluator's in-memory state and computations, independent of
// gRPC and SQL. It wires the pieces and owns the lock:
//
// - definitions.h: teams, value streams, KVIs and VLAs from the VMDB feed;
// - record_check.h: what an ingested record must satisfy;
// - record_index.h: the accepted records, compact and bucketed by time;
// - selection.h / range_cache.h: each KVI selection's cached aggregates, so
//   that a window is answered from cached days, hours and spans plus a scan
//   of its partial minutes, never a rescan of history;
// - kvi_value.h: windows and the KVI formulas, pure;
// - vla_revisions.h: every VLA revision, for the periods of a report;
// - flow.h: the value stream map, cached per block like a KVI;
// - vla_eval.h: VLA evaluation, pure.
//
// Thread-safe: one mutex guards everything (writers are the ingest pipeline
// and the change feed; readers fill caches, so they lock too).
#ifndef VLA_SERVICES_EVALUATOR_ENGINE_H_
#define VLA_SERVICES_EVALUATOR_ENGINE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/common/clock.h"
#include "services/common/status_board.h"
#include "services/evaluator/kvi_value.h"
#include "services/evaluator/record_check.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::evaluator {

// One record of an ingest batch on its way through check, store and add.
struct IngestRecord {
  // Exactly one is set; it points into the caller's batch.
  const v1::Observation* observation = nullptr;
  const v1::WorkItemEvent* event = nullptr;
  int index = 0;       // in its list of the batch (for a Rejection)
  absl::Status check;  // set by Engine::Check
  // The store's sequence of the record; 0 when it was not stored (a
  // duplicate).
  int64_t seq = 0;
  bool stored() const { return seq > 0; }

  v1::RecordKind kind() const {
    return observation != nullptr ? v1::RECORD_KIND_OBSERVATION
                                  : v1::RECORD_KIND_WORK_ITEM_EVENT;
  }
  const std::string& event_id() const {
    return observation != nullptr ? observation->event_id() : event->event_id();
  }
  const std::string& value_stream() const {
    return observation != nullptr ? observation->value_stream()
                                  : event->value_stream();
  }
  // The serialized Observation or WorkItemEvent.
  std::string Serialize() const {
    return observation != nullptr ? observation->SerializeAsString()
                                  : event->SerializeAsString();
  }
};

// The records of `batch`, observations first, each with its index.
std::vector<IngestRecord> RecordsOf(const v1::IngestRequest& batch);

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
  // Sets each record's `check` (record_check.h), under one lock.
  void Check(absl::Span<IngestRecord> records) const;
  // Adds the records that passed their check and were stored, in order.
  void Add(absl::Span<const IngestRecord> records);
  // One stored record, as when memory is rebuilt at start (records come in
  // sequence order).
  void AddObservation(const v1::Observation& o, int64_t seq);
  void AddEvent(const v1::WorkItemEvent& e, int64_t seq);
  // The store sequence of the last record added: every stored record up to
  // it is in memory.
  int64_t applied_seq() const;

  // --- Checkpoints (snapshot_file.h) -------------------------------------
  // Writes the records in memory to `path`, piece by piece (a series, or
  // 4,096 work items), each under the lock for a moment only, so ingest
  // goes on meanwhile; each piece remembers the sequence it covers.
  // `pace`, if set, is called after each piece with the time it took (to
  // make it under the lock, checksum and write it), outside the lock: it
  // may sleep to bound the snapshot's share of the machine.
  // Returns the sequence the whole snapshot covers.
  absl::StatusOr<int64_t> SaveSnapshot(
      const std::string& path,
      const std::function<void(absl::Duration)>& pace = nullptr);
  // Loads `path` into this engine, which holds no records yet (on any error
  // it still holds none). Returns the sequence to replay the store after;
  // then Replay each later record and EndReplay.
  absl::StatusOr<int64_t> LoadSnapshot(const std::string& path);
  // Adds a stored record unless the loaded snapshot's piece holds it.
  void Replay(int64_t seq, const v1::Observation& o);
  void Replay(int64_t seq, const v1::WorkItemEvent& e);
  void EndReplay();

  // --- Queries ---------------------------------------------------------------
  absl::StatusOr<v1::KviValue> KviValue(const std::string& kvi, absl::Time at);
  // FAILED_PRECONDITION if the VLA is not ACTIVE, NOT_FOUND if unknown.
  absl::StatusOr<v1::VlaStatus> VlaStatus(const std::string& vla,
                                          absl::Time at);
  absl::StatusOr<v1::ValueStreamFlow> Flow(const std::string& value_stream,
                                           absl::Duration window,
                                           absl::Time at);

  // --- History (reports, series) ----------------------------------------
  // These use the second slot of cached spans (range_cache.h), so they never
  // evict what the next evaluation pass reuses.
  //
  // The KVI at each of `times`, each with its own window: every point equal
  // to KviValue(kvi, time). Locks once per point. NOT_FOUND if unknown.
  absl::StatusOr<std::vector<v1::KviValue>> KviSeries(
      const std::string& kvi, absl::Span<const absl::Time> times);
  // The VLA's revision in force at `window.end` (vla_revisions.h; whatever
  // its state), evaluated at `window.end` with every clause's and the SLA's
  // KVI computed over `window` instead of its own window (domain.md,
  // "Per-period reports"). NOT_FOUND if no revision of it is known.
  absl::StatusOr<v1::VlaStatus> VlaStatusOver(const std::string& vla,
                                              const TimeWindow& window);
  // Whether any revision of `vla` is known (also after it was deleted).
  bool KnowsVla(const std::string& vla) const;
  // A VLA revision from the store, as committed by change `change_revision`
  // of the VMDB's feed.
  void LoadVlaRevision(int64_t change_revision, const v1::Vla& vla);

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
  std::unique_ptr<State> state_;
  const Clock* clock_;
  mutable std::mutex mu_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_ENGINE_H_
