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

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/common/page_token.h"
#include "services/common/status_board.h"
#include "services/evaluator/engine.h"
#include "services/evaluator/evaluator_store.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::evaluator {

// The boards WatchVlaStatuses and WatchKviValues stream from: their messages
// are the streams' events, each built once and shared by every subscriber.
using VlaBoard = StatusBoard<v1::VlaStatus, v1::VlaStatusEvent>;
using KviBoard = StatusBoard<v1::KviValue, v1::KviValueEvent>;

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
};

class Evaluator {
 public:
  using IngestDone = std::function<void(absl::StatusOr<v1::IngestResponse>)>;

  // Opens the store at `db_path` and rebuilds memory from it.
  static absl::StatusOr<std::unique_ptr<Evaluator>> Open(
      const std::string& db_path, const Clock* clock,
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
  // whose inputs changed.
  void EvaluatePass(bool all);

  // Stops the threads; pending ingests get UNAVAILABLE.
  void Shutdown();

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
  void WriterLoop();
  void EvaluationLoop();
  void ProcessBatches(std::vector<PendingIngest> work);
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

  mutable std::mutex mu_;
  std::condition_variable writer_cv_, loop_cv_;
  std::deque<PendingIngest> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool data_changed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread writer_, loop_;
  std::mutex pass_mu_;  // one evaluation pass at a time
  absl::Time last_prune_ ABSL_GUARDED_BY(pass_mu_) = absl::InfinitePast();
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATOR_H_
