// FeedFollower: follows a feed, a server stream of items in a fixed order,
// each with a position (greater than the one before it), that can start after
// any position (e.g. VmdbService.WatchChanges: changes by revision; see
// services/vmdb/change_follower.h). It hands the items, in order and in
// batches (what arrived since the handler last ran, whatever messages carried
// it), to a handler on its own thread. The stream is a StreamFollower: after
// it drops, or after the handler fails a batch, it reconnects with backoff and
// resumes after the last position the handler accepted, so every item is
// applied once and in order.
//
// The server may tell, in the stream's initial metadata, the position of the
// last item that existed when the stream started (the head): once the handler
// has accepted it the follower has caught up.
#ifndef VLA_SERVICES_COMMON_FEED_FOLLOWER_H_
#define VLA_SERVICES_COMMON_FEED_FOLLOWER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_callback.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "services/common/stream_follower.h"

namespace vla {

template <typename Message, typename Item>
class FeedFollower {
 public:
  // What the follower needs to know of the feed.
  struct Feed {
    std::string what;  // names the stream in logs
    // Starts the call on `context` with `reactor`, resuming after `since`
    // (the call's request must outlive it: calls do not overlap).
    std::function<void(grpc::ClientContext* context, int64_t since,
                       grpc::ClientReadReactor<Message>* reactor)>
        start;
    // The items of one message.
    std::function<google::protobuf::RepeatedPtrField<Item>*(Message*)> items;
    // An item's position.
    std::function<int64_t(const Item&)> position;
    // Initial metadata key with the head's position (decimal); empty: none.
    std::string head_metadata;
  };
  // Applies a batch; on error the batch is retried after a reconnect.
  using Handler = std::function<absl::Status(const std::vector<Item>&)>;

  // Follows `feed` after position `since`. `on_caught_up`, if set, runs once
  // when the follower first catches up.
  FeedFollower(Feed feed, int64_t since, Handler handler,
               std::function<void()> on_caught_up = nullptr)
      : feed_(std::move(feed)),
        handler_(std::move(handler)),
        on_caught_up_(std::move(on_caught_up)),
        applied_(since) {
    stream_ = std::make_unique<StreamFollower<Message>>(
        feed_.what,
        [this](grpc::ClientContext* context,
               grpc::ClientReadReactor<Message>* reactor) {
          feed_.start(context, applied(), reactor);
        },
        [this](Message& message) { OnMessage(message); },
        [this](const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
          OnMetadata(md);
        });
  }
  ~FeedFollower() { Stop(); }
  FeedFollower(const FeedFollower&) = delete;
  FeedFollower& operator=(const FeedFollower&) = delete;

  void Start() {
    thread_ = std::thread([this] { Loop(); });
    stream_->Start();
  }

  // Cancels the stream and joins the threads (after the handler's call in
  // progress, if any). Idempotent.
  void Stop() {
    stream_->Stop();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // True once every item that existed when a stream started is applied.
  bool caught_up() const {
    std::lock_guard<std::mutex> lock(mu_);
    return caught_up_;
  }
  bool WaitCaughtUp(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                        [this] { return caught_up_; });
  }
  // The position of the last item the handler accepted.
  int64_t applied() const {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }

 private:
  void OnMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
    if (feed_.head_metadata.empty()) return;
    auto it = md.find(feed_.head_metadata);
    int64_t head = 0;
    if (it == md.end() ||
        !absl::SimpleAtoi(
            absl::string_view(it->second.data(), it->second.size()), &head)) {
      return;
    }
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      head_ = head;
      if (applied_ >= head_) first = SetCaughtUpLocked();
    }
    if (first && on_caught_up_) on_caught_up_();
  }

  // A message of the stream numbered `stream_->connections()`. A newer
  // stream resumed from at most the position applied now: what older ones
  // left queued comes again in it.
  void OnMessage(Message& message) {
    const int stream = stream_->connections();
    std::lock_guard<std::mutex> lock(mu_);
    if (stream <= failed_stream_) return;  // the rest of a failed stream
    if (stream != queued_stream_) {
      queue_.clear();
      queued_stream_ = stream;
    }
    for (Item& item : *feed_.items(&message)) queue_.push_back(std::move(item));
    cv_.notify_all();
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      // Items after the applied position, in order (a resumed stream may
      // repeat some).
      std::vector<Item> batch;
      int64_t last = applied_;
      for (Item& item : queue_) {
        const int64_t position = feed_.position(item);
        if (position > last) {
          last = position;
          batch.push_back(std::move(item));
        }
      }
      queue_.clear();
      const int stream = queued_stream_;
      if (batch.empty()) continue;
      lock.unlock();
      const absl::Status status = handler_(batch);
      lock.lock();
      if (!status.ok()) {
        Log(LogLevel::kError,
            absl::StrCat("applying ", feed_.what, " items failed; retrying"),
            {{"error", status.ToString()}});
        failed_stream_ = std::max(failed_stream_, stream);
        if (queued_stream_ <= failed_stream_) queue_.clear();
        lock.unlock();
        stream_->Reconnect(stream);
        lock.lock();
        continue;
      }
      applied_ = last;
      if (head_ >= 0 && applied_ >= head_ && SetCaughtUpLocked() &&
          on_caught_up_) {
        lock.unlock();
        on_caught_up_();
        lock.lock();
      }
    }
  }

  // Marks caught up; returns true the first time.
  bool SetCaughtUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (caught_up_) return false;
    caught_up_ = true;
    cv_.notify_all();
    return true;
  }

  const Feed feed_;
  const Handler handler_;
  const std::function<void()> on_caught_up_;
  std::unique_ptr<StreamFollower<Message>> stream_;
  std::thread thread_;  // applies the items

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  int queued_stream_ ABSL_GUARDED_BY(mu_) = 0;  // the stream queue_ came from
  int failed_stream_ ABSL_GUARDED_BY(mu_) = 0;  // streams <= this: skipped
  int64_t applied_ ABSL_GUARDED_BY(mu_);
  int64_t head_ ABSL_GUARDED_BY(mu_) = -1;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_FEED_FOLLOWER_H_
