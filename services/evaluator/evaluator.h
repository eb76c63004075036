// Evaluator: the EvaluationService's logic without gRPC. It owns the engine
// (in-memory state), the store (durable records and definitions), the status
// board that WatchVlaStatuses streams from, and two threads:
//
// - the ingest writer: takes every queued batch, validates each record,
//   stores the good ones in one SQLite transaction (group commit), adds them
//   to the engine, then acknowledges; a batch is acknowledged only after it
//   is committed, and a retried record is found as a duplicate;
// - the evaluation loop: re-evaluates the VLAs and KVIs whose inputs changed
//   (debounced after new data) and all of them on a clock tick (windows
//   slide), publishes changed statuses and KVI values, stores each
//   published evaluation with the VLA revision it used, and prunes
//   evaluations older than the retention (keeping each VLA's last one).
//
// History: the stored evaluations (ListVlaEvaluations), per-period reports
// from them and the engine (period_report.h), and KVI series.
#ifndef VLA_SERVICES_EVALUATOR_EVALUATOR_H_
#define VLA_SERVICES_EVALUATOR_EVALUATOR_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/clock.h"
#include "services/common/disk_space.h"
#include "services/common/metrics.h"
#include "services/common/page_token.h"
#include "services/common/stream_items.h"
#include "services/evaluator/engine.h"
#include "services/evaluator/evaluator_store.h"
#include "services/evaluator/record_follower.h"
#include "services/evaluator/replication.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::evaluator {

// The boards WatchVlaStatuses and WatchKviValues stream from: their items
// are the streams' events, each encoded once and shared by every subscriber
// (stream_items.h). They also hold what status reads without a time answer:
// the latest evaluation pass's statuses.
using VlaBoard = EncodedBoard<v1::VlaStatus>;
using KviBoard = EncodedBoard<v1::KviValue>;

struct EvaluatorOptions {
  // Records per batch; more is RESOURCE_EXHAUSTED.
  int max_batch_records = 10000;
  // Re-evaluation after new data waits this long for more.
  absl::Duration debounce = absl::Milliseconds(200);
  // Every VLA is re-evaluated at least this often (windows slide).
  absl::Duration tick = absl::Seconds(10);
  // Run the evaluation loop thread (tests may drive EvaluatePass instead).
  bool run_loop = true;
  // Published evaluations are kept at least this long (api.md: 400 days);
  // older ones are pruned by the evaluation passes, at most once per
  // prune_interval of the clock, except each VLA's last one (the state it
  // was in since).
  absl::Duration evaluation_retention = absl::Hours(24 * 400);
  absl::Duration prune_interval = absl::Hours(1);
  // Where ingest counts and pass durations go (none when null); must
  // outlive the evaluator.
  metrics::Registry* metrics = nullptr;
  // The folder of a local (SQLite) store, where checkpoints of memory
  // (evaluator.db.snapshot) are kept and whose free space the ingest
  // reserve watches; empty: neither (a PostgreSQL store). Open(db_path)
  // sets it to db_path's folder.
  std::string local_dir;
  // Checkpoints: written this often when records came since the last one
  // (0: never on a timer), and at shutdown.
  absl::Duration snapshot_interval = absl::Minutes(5);
  // The share of one core a snapshot on the timer may take: it sleeps after
  // each piece so that its work is at most this share of the time (in
  // (0, 1]; 1: no pause). The snapshot at shutdown runs at full speed.
  double snapshot_cpu_share = 0.1;
  bool snapshot_at_shutdown = true;
  // Ingest stops (RESOURCE_EXHAUSTED) while the database's folder has less
  // free space than this, so that definitions and check-ins still fit
  // (0: no reserve). `free_bytes` replaces statvfs of the folder (tests).
  uint64_t min_free_bytes = 256 << 20;
  std::function<absl::StatusOr<uint64_t>()> free_bytes;
  // Largest message of the watch streams, in bytes (--watch_batch_bytes).
  size_t watch_batch_bytes = StatusBoardOptions().max_batch_size;
};

class Evaluator {
 public:
  using IngestDone = std::function<void(absl::StatusOr<v1::IngestResponse>)>;

  // Opens the SQLite store at `db_path` and rebuilds memory from it.
  static absl::StatusOr<std::unique_ptr<Evaluator>> Open(
      const std::string& db_path, const Clock* clock,
      EvaluatorOptions options = {});
  // The same over any store. With a shared store (store->record_log() set:
  // PostgreSQL) memory is fed from the store's log, so that it holds what
  // every replica stores.
  static absl::StatusOr<std::unique_ptr<Evaluator>> Open(
      std::unique_ptr<EvaluatorStore> store, const Clock* clock,
      EvaluatorOptions options = {});
  ~Evaluator();

  // --- Definitions (from the VMDB change feed) ---
  absl::Status ApplyChanges(const std::vector<v1::Change>& changes);
  int64_t definitions_revision() const;
  // Until set, ingest answers UNAVAILABLE (the definitions are loading).
  void SetDefinitionsReady();

  // --- Ingest ---
  // Queues `batch` (which must outlive `done`); `done` runs on the writer
  // thread once the batch is committed, or with an error status for the
  // whole batch (RESOURCE_EXHAUSTED, UNAVAILABLE).
  void IngestAsync(const v1::IngestRequest* batch, IngestDone done);
  absl::StatusOr<v1::IngestResponse> Ingest(const v1::IngestRequest& batch);

  // --- Queries ---
  // At `at`, computed; without it, the latest evaluation pass's value or
  // status as published on the boards (computed only when the pass has not
  // reached the KVI or VLA yet, e.g. right after it was created).
  absl::StatusOr<v1::KviValue> GetKviValue(const std::string& kvi,
                                           std::optional<absl::Time> at);
  absl::StatusOr<v1::VlaStatus> GetVlaStatus(const std::string& vla,
                                             std::optional<absl::Time> at);
  absl::Status ListVlaStatuses(const std::string& filter, int page_size,
                               const std::string& page_token,
                               v1::ListVlaStatusesResponse* response);
  absl::StatusOr<v1::ValueStreamFlow> GetValueStreamFlow(
      const std::string& value_stream, std::optional<absl::Duration> window,
      std::optional<absl::Time> at);

  // --- History ---
  // The stored evaluations of `vla` with evaluate_time in [start, end)
  // (defaults: end now, start end - 30 days), a page at a time.
  absl::Status ListVlaEvaluations(const std::string& vla,
                                  std::optional<absl::Time> start,
                                  std::optional<absl::Time> end, int page_size,
                                  const std::string& page_token,
                                  v1::ListVlaEvaluationsResponse* response);
  // One PeriodReport per calendar period (UNSPECIFIED: MONTH) of
  // `time_zone` (empty: UTC) that overlaps [start, end) and has begun
  // (defaults: end now, start five periods before the one holding end);
  // at most 120 periods.
  absl::StatusOr<v1::VlaReport> GetVlaReport(const std::string& vla,
                                             v1::CalendarPeriod period,
                                             const std::string& time_zone,
                                             std::optional<absl::Time> start,
                                             std::optional<absl::Time> end);
  // The KVI at start, start + step, ... before end (defaults: end now, start
  // end - 30 days, step 1 day); step at least 60 s, at most 10,000 points.
  absl::StatusOr<v1::KviSeries> GetKviSeries(
      const std::string& kvi, std::optional<absl::Time> start,
      std::optional<absl::Time> end, std::optional<absl::Duration> step);

  VlaBoard& board() { return board_; }
  static const std::vector<FilterField>& StatusFilterFields();
  // KVI values, published by the evaluation passes (WatchKviValues).
  KviBoard& kvi_board() { return kvi_board_; }
  static const std::vector<FilterField>& KviFilterFields();

  // One evaluation pass at the clock's now: every VLA if `all`, else those
  // whose inputs changed. Changed statuses are published (each board's in
  // one Publish, so an idle subscriber gets them in one message); the
  // others replace their board entries silently (reads answer the newest).
  void EvaluatePass(bool all);

  // Writes a checkpoint of memory now (if records came since the last one):
  // the next start loads it and replays only the records stored after it.
  // `paced`: at options().snapshot_cpu_share of a core (until shutdown
  // begins), else at full speed.
  absl::Status WriteSnapshot(bool paced = false);

  // OK while records can be stored; RESOURCE_EXHAUSTED (saying why) while
  // the data folder is below its reserve or the last insert found the disk
  // full and no space has been freed since. Health reports NOT_SERVING
  // meanwhile.
  absl::Status StorageHealth();

  // How the last start filled memory: the record sequence its snapshot
  // covered (0: no usable snapshot, a full rebuild) and how many stored
  // records it replayed after that.
  struct LoadStats {
    int64_t snapshot_covers = 0;
    int64_t records_replayed = 0;
  };
  const LoadStats& load_stats() const { return load_stats_; }

  // Stops the threads; pending ingests get UNAVAILABLE. Writes a last
  // snapshot.
  void Shutdown();

  // OK while the store's database can be reached and records can be stored
  // (StorageHealth).
  absl::Status CheckHealth();

  // --- Replicas (a store shared through PostgreSQL) ---
  // Joins the replicas sharing the store (replication.h); a no-op for a
  // store of one process.
  absl::Status StartReplication(const ReplicationOptions& replication);
  // A shutdown begins: gives up this replica's value streams now
  // (Replication::Leave), so the others serve them while this one drains;
  // calls about them get UNAVAILABLE here. A no-op without replicas.
  void LeaveReplicas();
  // Where a call about `name` (a KVI, VLA or value stream) is answered:
  // here, or by its owner (waiting up to `wait` while it has none); always
  // here without replicas.
  Replication::Route RouteOf(const std::string& name,
                             absl::Duration wait) const;

 private:
  struct PendingIngest {
    const v1::IngestRequest* batch;
    IngestDone done;
  };

  Evaluator(std::unique_ptr<EvaluatorStore> store, const Clock* clock,
            EvaluatorOptions options);
  // The clock's now, rounded down to the second: the instant queries without
  // a time and evaluation passes use, so that they share computed values.
  absl::Time Now() const;
  // Loads the snapshot (if usable) and replays the records after it.
  absl::Status LoadRecords();
  void StartThreads();
  // Keeps value_streams_ and value_stream_of_ up to date.
  void TrackDefinition(const v1::Change& change);
  // The value stream of a KVI, VLA or value stream name ("" if unknown).
  std::string ValueStreamOf(const std::string& name) const;
  // Whether this process evaluates and publishes `name` (a KVI or VLA):
  // always without replicas, else when it owns its value stream.
  bool Serves(const std::string& name) const;
  // A status another replica published: onto this replica's board.
  void ApplyPublished(const PublishedStatus& status);
  void WriterLoop();
  void EvaluationLoop();
  void SnapshotLoop();
  void ProcessBatches(std::vector<PendingIngest> work);
  // Stores rows in one transaction unless the data folder is below its
  // reserve; remembers a full disk for StorageHealth.
  absl::StatusOr<std::vector<int64_t>> StoreRecords(
      const std::vector<RecordRow>& rows);
  absl::StatusOr<uint64_t> FreeBytesNow() const;
  // Adds stored records (the follower's) to the engine and schedules an
  // evaluation.
  void AddToEngine(const std::vector<const v1::Observation*>& observations,
                   const std::vector<const v1::WorkItemEvent*>& events);
  // Schedules an evaluation pass for new records.
  void DataChanged();
  // Prunes old evaluations if prune_interval has passed since the last time.
  void MaybePrune(absl::Time now);

  struct Metrics {
    metrics::Counter accepted, duplicates, rejected;
    metrics::Histogram full_pass, changed_pass;
  };
  static Metrics MakeMetrics(metrics::Registry* registry);

  std::unique_ptr<EvaluatorStore> store_;
  const Clock* clock_;
  EvaluatorOptions options_;
  const Metrics metrics_;
  Engine engine_;
  VlaBoard board_;
  KviBoard kvi_board_;
  PageTokenCodec page_tokens_;
  // With a shared store: what feeds the engine (null otherwise).
  std::unique_ptr<RecordFollower> follower_;
  // With replicas (after StartReplication): this replica's share. Read by
  // every thread through replication_, set once.
  std::unique_ptr<Replication> replication_owner_;
  std::atomic<Replication*> replication_{nullptr};

  mutable std::mutex mu_;
  std::condition_variable writer_cv_, loop_cv_, snapshot_cv_;
  std::deque<PendingIngest> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool data_changed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  // Definitions as replicas need them: the value streams, and the value
  // stream of every KVI and VLA.
  std::set<std::string> value_streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> value_stream_of_ ABSL_GUARDED_BY(mu_);
  std::thread writer_, loop_, snapshotter_;
  std::mutex snapshot_mu_;  // one snapshot at a time
  std::string snapshot_path_;
  LoadStats load_stats_;                  // set once in Open
  std::unique_ptr<DiskReserve> reserve_;  // null: no reserve
  // Free bytes when an insert last failed on a full disk (-1: it did not);
  // cleared by a stored batch or by space freed since.
  std::atomic<int64_t> full_at_free_{-1};
  // Covered by the last snapshot written or read.
  int64_t snapshot_seq_ ABSL_GUARDED_BY(snapshot_mu_) = 0;
  std::mutex pass_mu_;  // one evaluation pass at a time
  absl::Time last_prune_ ABSL_GUARDED_BY(pass_mu_) = absl::InfinitePast();
  // The evaluation of each VLA stored last before this process started
  // (sole writer of its store only): a VLA's first status is stored only if
  // it differs, so a restart does not repeat unchanged states in the
  // history. An entry goes at the VLA's first publication.
  std::map<std::string, v1::VlaStatus> stored_at_open_
      ABSL_GUARDED_BY(pass_mu_);
  // Whether `status` repeats stored_at_open_[name] (forgetting it).
  bool RepeatsStoredAtOpen(const std::string& name, const v1::VlaStatus& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pass_mu_);
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATOR_H_
