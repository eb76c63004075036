// RecordFollower: brings into memory, from a store's RecordLog, every record
// that any process sharing the store commits (the evaluator's replicas over
// PostgreSQL): in commit order and once each (the log's sequence moves a
// cursor past it), whichever replica stored it. It reads when told (Wake,
// the store's NOTIFY) and catches up after the database comes back.
//
//   RecordFollower follower(store->record_log(), sink);
//   follower.Start();
//   ... store->InsertRecords(rows) ...
//   follower.CatchUp(absl::Seconds(5));   // memory now holds those rows
#ifndef VLA_SERVICES_EVALUATOR_RECORD_FOLLOWER_H_
#define VLA_SERVICES_EVALUATOR_RECORD_FOLLOWER_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/evaluator/evaluator_store.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

class RecordFollower {
 public:
  // Receives the records read, in commit order (pointers valid during the
  // call).
  using Sink =
      std::function<void(const std::vector<const v1::Observation*>&,
                         const std::vector<const v1::WorkItemEvent*>&)>;

  // `log` must outlive the follower. With `filter`, only the records of
  // value streams loaded with Load reach the sink (a replica holds the
  // value streams it owns or owned); else all of them.
  RecordFollower(RecordLog* log, Sink sink, bool filter = false);
  // Stops the thread.
  ~RecordFollower();
  RecordFollower(const RecordFollower&) = delete;
  RecordFollower& operator=(const RecordFollower&) = delete;

  // Starts reading from the beginning of the log.
  void Start();
  // Records may have been committed: read them soon.
  void Wake();
  // Waits until every record committed before the call has reached the
  // sink; UNAVAILABLE if that takes longer than `timeout` (the database is
  // unreachable).
  absl::Status CatchUp(absl::Duration timeout);
  // The sequence of the last record read.
  int64_t position() const;

  // Starts following `value_stream` (with a filter): its records read so
  // far are read again, from the log, and go to the sink first. Returns at
  // once; IsLoaded says when that is done.
  void Load(const std::string& value_stream);
  bool IsLoaded(const std::string& value_stream) const;

 private:
  void Loop();
  // Reads one chunk; false when the log had no more.
  bool ReadChunk();
  // Loads the value streams Load asked for; false if one failed.
  bool LoadPending();
  // Parses `r` and adds it to the batch.
  struct Batch;

  RecordLog* const log_;
  const Sink sink_;
  const bool filter_;
  mutable std::mutex mu_;
  std::condition_variable wake_cv_, progress_cv_;
  bool woken_ ABSL_GUARDED_BY(mu_) = true;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t position_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> loaded_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> to_load_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_RECORD_FOLLOWER_H_
