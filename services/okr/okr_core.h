// OkrCore: the OkrStatusService's logic without gRPC. Follows objectives
// from the VMDB, stores check-ins, scores objectives (scoring.h) from KVI
// values (asked of the evaluator through a KviSource) and check-ins, and
// publishes each change of score, colour or status on a StatusBoard that
// WatchObjectiveStatuses streams from.
#ifndef VLA_SERVICES_OKR_OKR_CORE_H_
#define VLA_SERVICES_OKR_OKR_CORE_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/clock.h"
#include "services/common/page_token.h"
#include "services/common/stream_items.h"
#include "services/okr/okr_store.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/okr_status.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::okr {

// Where KVI values come from (the evaluator).
class KviSource {
 public:
  virtual ~KviSource() = default;
  virtual absl::StatusOr<v1::KviValue> Value(const std::string& kvi,
                                             absl::Time at) = 0;
};

// The board WatchObjectiveStatuses streams from: its items are the stream's
// events, each encoded once and shared by every subscriber
// (stream_items.h). It also holds what status reads without a time answer:
// the latest scoring pass's statuses.
using ObjectiveBoard = EncodedBoard<v1::ObjectiveStatus>;

struct OkrOptions {
  // Every objective is re-scored at least this often (time passes, KVI
  // values move).
  absl::Duration tick = absl::Seconds(5);
  bool run_loop = true;
  // Largest message of WatchObjectiveStatuses, in bytes
  // (--watch_batch_bytes).
  size_t watch_batch_bytes = StatusBoardOptions().max_batch_size;
};

class OkrCore {
 public:
  // Over the SQLite store at `path`.
  static absl::StatusOr<std::unique_ptr<OkrCore>> Open(const std::string& path,
                                                       const Clock* clock,
                                                       KviSource* kvis,
                                                       OkrOptions options = {});
  // Over any store; with one shared by replicas (PostgreSQL), check-ins
  // recorded by the others are followed from it.
  static absl::StatusOr<std::unique_ptr<OkrCore>> Open(
      std::unique_ptr<OkrStore> store, const Clock* clock, KviSource* kvis,
      OkrOptions options = {});
  ~OkrCore();

  absl::Status ApplyChanges(const std::vector<v1::Change>& changes);
  int64_t definitions_revision() const;

  // At `at`, scored; without it, the latest scoring pass's status as
  // published on the board (scored only when no pass has reached the
  // objective yet).
  absl::StatusOr<v1::ObjectiveStatus> GetObjectiveStatus(
      const std::string& objective, std::optional<absl::Time> at);
  absl::Status ListObjectiveStatuses(
      const std::string& filter, int page_size, const std::string& page_token,
      v1::ListObjectiveStatusesResponse* response);
  absl::StatusOr<v1::CheckIn> RecordCheckIn(
      const v1::RecordCheckInRequest& req);

  ObjectiveBoard& board() { return board_; }
  static const std::vector<FilterField>& FilterFields();
  // Opaque resume tokens for WatchObjectiveStatuses.
  std::string ResumeToken(int64_t sequence) const;
  // The sequence to resume after: that of `token`, or -1 (a fresh snapshot)
  // for a token from an earlier run of the server; INVALID_ARGUMENT if it
  // was altered.
  absl::StatusOr<int64_t> ParseResumeToken(const std::string& token) const;

  // A KVI's value changed (from the evaluator's WatchKviValues): objectives
  // with a key result on it are re-scored soon. An empty name means "any"
  // (after a reconnect).
  void KviChanged(const std::string& kvi);

  // Scores every objective at the clock's now and publishes the changes (in
  // one Publish); the other statuses replace their board entries silently.
  void EvaluatePass();
  void Shutdown();

  // OK while the store's database can be reached.
  absl::Status CheckHealth() { return store_->CheckHealth(); }

 private:
  OkrCore(std::unique_ptr<OkrStore> store, const Clock* clock, KviSource* kvis,
          OkrOptions options);
  void Loop();
  // Reads the check-ins stored since the last read into check_ins_.
  absl::Status ReadCheckInsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyChangeLocked(const v1::Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::ObjectiveStatus Score(const v1::Objective& objective, absl::Time at,
                            const std::vector<v1::CheckIn>& check_ins);
  FilterAttributes Attributes(const v1::Objective& objective,
                              const v1::ObjectiveStatus& status) const;

  std::unique_ptr<OkrStore> store_;
  const Clock* clock_;
  KviSource* kvis_;
  OkrOptions options_;
  ObjectiveBoard board_;
  ResumeTokenCodec resume_tokens_;
  PageTokenCodec tokens_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, v1::Objective> objectives_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> teams_ ABSL_GUARDED_BY(mu_);
  // Check-ins per objective, in recording order.
  std::map<std::string, std::vector<v1::CheckIn>> check_ins_
      ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  // The number of the last check-in read from the store.
  int64_t check_in_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  // Other replicas may have recorded check-ins.
  bool check_ins_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::mutex pass_mu_;
  std::thread loop_;
};

}  // namespace vla::okr

#endif  // VLA_SERVICES_OKR_OKR_CORE_H_
