// StreamFollower: keeps one server-streaming call open for as long as it
// runs. Each message (a batch of events, api.md "Streams carry batches")
// goes to a handler (on a gRPC thread: keep it short); after the stream
// ends it reconnects with backoff (100 ms doubling to 5 s, reset once a
// message arrives). Used as is for status streams whose snapshot
// re-establishes everything after a reconnect (WatchKviValues), and by
// FeedFollower for feeds that resume from a position (WatchChanges).
//
//   StreamFollower<v1::WatchKviValuesResponse> follower(
//       [stub](grpc::ClientContext* ctx,
//              grpc::ClientReadReactor<v1::WatchKviValuesResponse>* r) {
//         stub->async()->WatchKviValues(ctx, &request, r);
//       },
//       [&](const v1::WatchKviValuesResponse& m) { for (e : m.events()) ...;
//       });
//   follower.Start();
#ifndef VLA_SERVICES_COMMON_STREAM_FOLLOWER_H_
#define VLA_SERVICES_COMMON_STREAM_FOLLOWER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_callback.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace vla {

template <typename Message>
class StreamFollower {
 public:
  // Starts the call on `context` with `reactor` (e.g. stub->async()->Watch).
  using StartCall = std::function<void(
      grpc::ClientContext* context, grpc::ClientReadReactor<Message>* reactor)>;
  // Takes one message (it may move from it).
  using Handler = std::function<void(Message&)>;
  // Takes the server's initial metadata of each stream.
  using MetadataHandler = std::function<void(
      const std::multimap<grpc::string_ref, grpc::string_ref>&)>;

  // `what` names the stream in logs.
  StreamFollower(std::string what, StartCall start, Handler handler,
                 MetadataHandler on_metadata = nullptr)
      : what_(std::move(what)),
        start_(std::move(start)),
        handler_(std::move(handler)),
        on_metadata_(std::move(on_metadata)) {}
  ~StreamFollower() { Stop(); }
  StreamFollower(const StreamFollower&) = delete;
  StreamFollower& operator=(const StreamFollower&) = delete;

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

  // Cancels the stream and joins the thread. Idempotent.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Ends stream number `connection` (see connections()) if it is still the
  // current one, so that the follower reconnects (after the backoff, which
  // keeps growing until a stream has delivered a message without a
  // Reconnect). A newer stream is left alone: it already starts afresh.
  void Reconnect(int connection) {
    std::lock_guard<std::mutex> lock(mu_);
    if (connection != connections_) return;
    failed_ = true;
    if (reactor_ != nullptr) reactor_->Cancel();
  }

  // Streams opened so far (1 after the first connection). During a
  // handler's call: the number of the stream its message came from.
  int connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }

 private:
  class Reactor final : public grpc::ClientReadReactor<Message> {
   public:
    explicit Reactor(StreamFollower* follower) : follower_(follower) {
      follower_->start_(&context_, this);
      this->StartRead(&message_);
      this->StartCall();
    }
    void Cancel() { context_.TryCancel(); }
    void OnReadInitialMetadataDone(bool ok) override {
      if (ok && follower_->on_metadata_) {
        follower_->on_metadata_(context_.GetServerInitialMetadata());
      }
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      follower_->OnMessage(message_);
      message_.Clear();
      this->StartRead(&message_);
    }
    void OnDone(const grpc::Status& status) override {
      follower_->OnStreamDone(status);
    }

   private:
    StreamFollower* follower_;
    grpc::ClientContext context_;
    Message message_;
  };

  void OnMessage(Message& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_ = true;
    }
    handler_(message);
  }

  void OnStreamDone(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    if (!stopping_ && status.error_code() != grpc::StatusCode::CANCELLED) {
      Log(LogLevel::kWarning, absl::StrCat(what_, " ended; reconnecting"),
          {{"code", absl::StrCat(status.error_code())},
           {"error", status.error_message()}});
    }
    cv_.notify_all();
  }

  void Loop() {
    absl::Duration backoff = absl::Milliseconds(100);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      done_ = false;
      received_ = false;
      failed_ = false;
      ++connections_;
      auto reactor = std::make_unique<Reactor>(this);
      reactor_ = reactor.get();
      cv_.wait(lock, [this] { return stopping_ || done_; });
      if (stopping_) {
        reactor->Cancel();
        cv_.wait(lock, [this] { return done_; });
        reactor_ = nullptr;
        return;
      }
      reactor_ = nullptr;
      reactor.reset();
      if (received_ && !failed_) backoff = absl::Milliseconds(100);
      cv_.wait_for(lock, absl::ToChronoMilliseconds(backoff),
                   [this] { return stopping_; });
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
  }

  const std::string what_;
  const StartCall start_;
  const Handler handler_;
  const MetadataHandler on_metadata_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool received_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;  // Reconnect() was called
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_STREAM_FOLLOWER_H_
