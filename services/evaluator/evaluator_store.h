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
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

// A record as stored: its kind and serialized Observation / WorkItemEvent.
struct RecordRow {
  std::string event_id;
  v1::RecordKind kind = v1::RECORD_KIND_UNSPECIFIED;
  std::string data;
  // The record's value stream (stored where replicas load records by value
  // stream: RecordLog).
  std::string value_stream;
};

// A record read back from a RecordLog.
struct LoggedRecord {
  int64_t sequence = 0;
  v1::RecordKind kind = v1::RECORD_KIND_UNSPECIFIED;
  absl::string_view value_stream;
  absl::string_view data;
};

// The records of a store that several processes share (PostgreSQL), in
// commit order, so that a process follows what the others store. Sequence
// numbers grow in commit order (with gaps): once a reader has seen a
// record, it has seen every record committed before it.
class RecordLog {
 public:
  virtual ~RecordLog() = default;
  // Calls `fn` for up to `limit` records with sequence > `after`, in order;
  // returns the last sequence read (`after` if none).
  virtual absl::StatusOr<int64_t> Read(
      int64_t after, int limit,
      const std::function<void(const LoggedRecord&)>& fn) = 0;
  // Calls `fn` for every record of `value_stream` with sequence <= `upto`,
  // in order.
  virtual absl::Status ReadValueStream(
      absl::string_view value_stream, int64_t upto,
      const std::function<void(const LoggedRecord&)>& fn) = 0;
  // The sequence of the last committed record (0 if none).
  virtual absl::StatusOr<int64_t> LastSequence() = 0;
  // Sets the function called (from the store's thread; it must not block)
  // when records may have been committed by any process: on their NOTIFY,
  // and every poll interval in case one was missed. Set once.
  virtual void OnStored(std::function<void()> fn) = 0;
};

// A definition change to persist (data empty: deleted).
struct DefinitionRow {
  std::string name;
  std::string data;
};

// A value stream's lease: which replica owns it, and where that replica
// takes calls.
struct Lease {
  std::string value_stream;
  std::string owner;    // replica id
  std::string address;  // HOST:PORT
};

// A status an owner published, as other replicas read it back.
struct PublishedStatus {
  enum class Board { kVla = 1, kKvi = 2 };
  int64_t sequence = 0;  // set when read
  Board board = Board::kVla;
  std::string key;   // VLA or KVI name
  std::string data;  // serialized VlaStatus or KviValue
};

// How the evaluator's replicas share the work through the database
// (PostgreSQL): live replicas, leases on value streams, and the latest
// status each owner published.
class ReplicaCoordinator {
 public:
  virtual ~ReplicaCoordinator() = default;

  // One heartbeat of replica `replica` (taking calls at `address`), in one
  // transaction, by the database's clock: records it as live for `ttl`;
  // forgets replicas silent for longer and the leases they did not renew;
  // renews its own leases for `ttl`; gives up those whose preferred owner
  // (rendezvous hashing of value stream and replica id over the live
  // replicas) is another replica; takes the unowned ones of
  // `value_streams` it is the preferred owner of. Returns every lease.
  virtual absl::StatusOr<std::vector<Lease>> Heartbeat(
      const std::string& replica, const std::string& address,
      const std::vector<std::string>& value_streams, absl::Duration ttl) = 0;
  // Gives up the replica's leases and forgets it (a clean shutdown).
  virtual absl::Status Leave(const std::string& replica) = 0;

  // Stores the latest status of each key (an older one is replaced).
  virtual absl::Status Publish(
      const std::vector<PublishedStatus>& statuses) = 0;
  // Calls `fn` for every status published (replaced) after `after`, in
  // commit order; returns the last sequence read (`after` if none).
  virtual absl::StatusOr<int64_t> ReadPublished(
      int64_t after, const std::function<void(const PublishedStatus&)>& fn) = 0;
  // Sets the function called (from the store's thread; it must not block)
  // when statuses may have been published. Set once.
  virtual void OnPublished(std::function<void()> fn) = 0;
};

// The preferred owner of `value_stream` among `replicas` (rendezvous
// hashing: the same answer in every process); "" if there are none.
std::string PreferredOwner(const std::string& value_stream,
                           const std::vector<std::string>& replicas);
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
  // result gives per row the sequence it was stored under (sequences rise
  // in commit order and within `rows`; PostgreSQL may leave gaps), or 0
  // when it was not new: its event_id was already stored, or repeated
  // earlier in `rows`.
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
  // The last evaluation of every VLA (in (time, id) order), by VLA name.
  virtual absl::StatusOr<std::vector<v1::VlaStatus>> LatestEvaluations() = 0;
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

  // The log of records when processes share the store (they then learn of
  // new records only from it); null for a store of one process.
  virtual RecordLog* record_log() { return nullptr; }
  // Where replicas coordinate; null for a store of one process.
  virtual ReplicaCoordinator* coordinator() { return nullptr; }
  // OK while the database can be reached.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenSqliteEvaluatorStore(
    const std::string& path);

// Opens (creating and migrating schema vla_evaluator as needed) the
// PostgreSQL database at `uri`; its record_log() is set. Replicas of the
// evaluator share it.
absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenPostgresEvaluatorStore(
    const std::string& uri, int connections = 4);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATOR_STORE_H_
