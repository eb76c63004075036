// Many watch subscribers for the benchmarks (okr_bench, evaluator_bench), on
// gRPC's async API over a few completion queues, each drained by a thread of
// its own. (Not the callback API: with Debian's libgrpc, built without
// NDEBUG, every completion on a completion queue scans the queue's
// outstanding tags, and the callback API puts all streams on one queue.
// Here each stream has one tag outstanding, on one of the client's queues.)
//
//   ClientQueues queues(4);
//   class Sub : public AsyncWatcher<v1::WatchVlaStatusesResponse> {
//     void OnMessage(const v1::WatchVlaStatusesResponse& m) override {...}
//   };
//   sub.Begin([&](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
//     return stub->PrepareAsyncWatchVlaStatuses(ctx, request, cq);
//   }, queues.get(i));
#ifndef VLA_BENCH_WATCH_CLIENT_H_
#define VLA_BENCH_WATCH_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vla::bench {

// A tag on a ClientQueues queue.
class ClientTag {
 public:
  virtual void Proceed(bool ok) = 0;

 protected:
  ~ClientTag() = default;
};

// Completion queues, each drained by a thread of its own; tags are
// ClientTags. Destroy after every stream on them has ended.
class ClientQueues {
 public:
  explicit ClientQueues(int count) : cqs_(count) {
    for (auto& cq : cqs_) {
      threads_.emplace_back([&cq] {
        void* tag = nullptr;
        bool ok = false;
        while (cq.Next(&tag, &ok)) static_cast<ClientTag*>(tag)->Proceed(ok);
      });
    }
  }
  ~ClientQueues() {
    for (auto& cq : cqs_) cq.Shutdown();
    for (auto& t : threads_) t.join();
  }
  grpc::CompletionQueue* get(int i) { return &cqs_[i % cqs_.size()]; }

 private:
  std::vector<grpc::CompletionQueue> cqs_;
  std::vector<std::thread> threads_;
};

// One subscriber: reads every message and hands it to OnMessage (on a queue
// thread). A `stalled` subscriber stops reading after its first message, so
// the server's writes to it back up in flow control.
template <typename Response>
class AsyncWatcher : public ClientTag {
 public:
  using Start =
      std::function<std::unique_ptr<grpc::ClientAsyncReader<Response>>(
          grpc::ClientContext* ctx, grpc::CompletionQueue* cq)>;

  explicit AsyncWatcher(bool stalled = false) : stalled_(stalled) {}
  virtual ~AsyncWatcher() = default;

  // Starts the stream (once the subclass is constructed: messages may
  // arrive at once).
  void Begin(const Start& start, grpc::CompletionQueue* cq) {
    std::lock_guard<std::mutex> lock(mu_);
    reader_ = start(&context_, cq);
    reader_->StartCall(this);
  }

  // Ends the stream; the stalled one (which has nothing outstanding) is
  // finished here, the others when their pending read fails.
  void Cancel() {
    context_.TryCancel();
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kStalled) {
      state_ = State::kFinishing;
      reader_->Finish(&status_, this);
    }
  }
  bool ended() const { return ended_.load(); }
  // Valid once ended().
  const grpc::Status& status() const { return status_; }

  void Proceed(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    switch (state_) {
      case State::kStarting:
      case State::kReading:
        if (state_ == State::kReading && ok) OnMessage(message_);
        if (!ok) {
          state_ = State::kFinishing;
          reader_->Finish(&status_, this);
        } else if (stalled_ && state_ == State::kReading) {
          state_ = State::kStalled;
        } else {
          state_ = State::kReading;
          message_.Clear();
          reader_->Read(&message_, this);
        }
        break;
      case State::kFinishing:
        state_ = State::kDone;
        OnEnd();
        ended_.store(true);
        break;
      case State::kStalled:
      case State::kDone:
        break;
    }
  }

 protected:
  // Called for each message, in order, one at a time.
  virtual void OnMessage(const Response& message) = 0;
  // Called once the stream has ended.
  virtual void OnEnd() {}

 private:
  enum class State { kStarting, kReading, kStalled, kFinishing, kDone };

  const bool stalled_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReader<Response>> reader_;
  std::mutex mu_;
  State state_ = State::kStarting;
  Response message_;
  grpc::Status status_;
  std::atomic<bool> ended_{false};
};

}  // namespace vla::bench

#endif  // VLA_BENCH_WATCH_CLIENT_H_
