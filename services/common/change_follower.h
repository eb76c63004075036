// ChangeFollower: follows VmdbService.WatchChanges from a revision and hands
// the changes, in commit order and in batches (what arrived since the
// handler last ran, whatever messages carried it), to a handler on its own
// thread. After a dropped stream it reconnects with backoff and resumes after
// the last revision the handler accepted, so every change is applied once.
//
//   ChangeFollower follower(channel, stored_revision,
//       [&](const std::vector<v1::Change>& batch) { return Apply(batch); });
//   follower.Start();
//   follower.WaitCaughtUp(absl::Seconds(5));
#ifndef VLA_SERVICES_COMMON_CHANGE_FOLLOWER_H_
#define VLA_SERVICES_COMMON_CHANGE_FOLLOWER_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla {

// Initial metadata of WatchChanges: the revision of the last change committed
// when the stream started. A follower that has applied it has caught up.
inline constexpr absl::string_view kHeadRevisionMetadata = "vla-head-revision";

class ChangeFollower {
 public:
  // Applies a batch; on error the batch is retried after a reconnect.
  using Handler = std::function<absl::Status(const std::vector<v1::Change>&)>;

  // `on_caught_up`, if set, runs once when the follower first catches up.
  ChangeFollower(std::shared_ptr<grpc::Channel> channel, int64_t since_revision,
                 Handler handler, std::function<void()> on_caught_up = nullptr);
  ~ChangeFollower();
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  void Start();
  // Cancels the stream and joins the thread. Idempotent.
  void Stop();

  // True once every change that existed when a stream started is applied.
  bool caught_up() const;
  bool WaitCaughtUp(absl::Duration timeout);
  int64_t applied_revision() const;

 private:
  class Reactor;
  void Loop();
  // From the reactor.
  void OnHead(int64_t head);
  // Takes the changes of one message.
  void OnChanges(google::protobuf::RepeatedPtrField<v1::Change>* changes);
  void OnStreamDone(const grpc::Status& status);
  // Marks caught up; returns true the first time.
  bool SetCaughtUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<v1::VmdbService::Stub> stub_;
  Handler handler_;
  std::function<void()> on_caught_up_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Change> queue_ ABSL_GUARDED_BY(mu_);
  int64_t applied_ ABSL_GUARDED_BY(mu_);
  int64_t head_ ABSL_GUARDED_BY(mu_) = -1;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_done_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_CHANGE_FOLLOWER_H_
