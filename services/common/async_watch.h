// Serving a StatusBoard's watch method with gRPC's async API on completion
// queues of the server's own.
//
// Why not the callback API, like every other method: in the gRPC of Debian
// 12 (1.51, built without NDEBUG), the callback API puts every call of the
// process on one global completion queue, and every completion on a queue
// scans all the tags outstanding on it (`cq_check_tag`). A watch stream
// keeps a tag outstanding for its whole life, so with 10,000 subscribers
// each event scanned 10,000 tags: a quarter of the server's CPU. Here the
// streams are spread over several queues (AsyncQueues), each drained by a
// thread of its own, so each scan covers only the streams of one queue
// (bench/README.md, okr_bench).
//
//   AsyncQueues queues(&builder, 4);          // before BuildAndStart
//   ... server = builder.BuildAndStart(); queues.Start();
//   watch.Serve(&queues);                     // an AsyncBoardWatch
//   ... server->Shutdown(deadline); queues.Shutdown();
#ifndef VLA_SERVICES_COMMON_ASYNC_WATCH_H_
#define VLA_SERVICES_COMMON_ASYNC_WATCH_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "common/status_util.h"
#include "services/common/access.h"
#include "services/common/filter.h"
#include "services/common/status_board.h"
#include "services/common/stream_items.h"

namespace vla {

// A tag on an AsyncQueues queue: Run(ok) is called on the queue's thread
// when its operation completes.
class AsyncTag {
 public:
  virtual void Run(bool ok) = 0;

 protected:
  ~AsyncTag() = default;
};

// A tag that calls `(owner->*fn)(ok)`.
template <typename Owner, void (Owner::*fn)(bool)>
class MemberTag final : public AsyncTag {
 public:
  explicit MemberTag(Owner* owner) : owner_(owner) {}
  void Run(bool ok) override { (owner_->*fn)(ok); }

 private:
  Owner* owner_;
};

// Server completion queues, each drained by one thread that runs its tags
// (AsyncTag) and the work posted to it (RunOn).
class AsyncQueues {
 public:
  // Adds `count` (>= 1) queues to `builder`; call before BuildAndStart.
  AsyncQueues(grpc::ServerBuilder* builder, int count) {
    for (int i = 0; i < count; ++i) {
      queues_.push_back(builder->AddCompletionQueue());
      lanes_.push_back(std::make_unique<Lane>());
    }
  }
  AsyncQueues(const AsyncQueues&) = delete;
  AsyncQueues& operator=(const AsyncQueues&) = delete;
  ~AsyncQueues() { Shutdown(); }

  // Starts the threads; call once the server is built.
  void Start() {
    for (int i = 0; i < size(); ++i) {
      threads_.emplace_back([this, i] {
        current_ = {this, i};
        grpc::ServerCompletionQueue* cq = queues_[i].get();
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Run(ok);
        current_ = {nullptr, -1};
      });
    }
  }

  // Call after the server's Shutdown has returned: refuses new requests and
  // posts, shuts the queues down, runs the tags left (with ok false) and
  // joins the threads. Idempotent.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) return;
      shut_down_ = true;
      for (auto& lane : lanes_) {
        std::lock_guard<std::mutex> lane_lock(lane->mu);
        lane->closed = true;
      }
      for (auto& queue : queues_) queue->Shutdown();
    }
    for (std::thread& t : threads_) t.join();
    // Without threads (never started), drain here.
    if (threads_.empty()) {
      for (auto& queue : queues_) {
        void* tag = nullptr;
        bool ok = false;
        while (queue->Next(&tag, &ok)) static_cast<AsyncTag*>(tag)->Run(ok);
      }
    }
  }

  int size() const { return static_cast<int>(queues_.size()); }
  grpc::ServerCompletionQueue* queue(int i) const { return queues_[i].get(); }

  // Runs `request` (which asks the server for a call on one of the queues)
  // unless Shutdown has begun; returns whether it ran. Requesting on a shut
  // down queue would crash gRPC.
  bool Request(absl::FunctionRef<void()> request) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return false;
    request();
    return true;
  }

  // Runs `fn` on queue `i`'s thread: at once when called there, else soon
  // (after what that thread is doing; posts run in order, with one wake-up
  // for all the posts made meanwhile). Returns false, without running it,
  // once Shutdown has begun.
  bool RunOn(int i, std::function<void()> fn) {
    if (current_.first == this && current_.second == i) {
      fn();
      return true;
    }
    Lane& lane = *lanes_[i];
    std::lock_guard<std::mutex> lock(lane.mu);
    if (lane.closed) return false;
    lane.posted.push_back(std::move(fn));
    if (!lane.kicked) {
      lane.kicked = true;
      lane.alarm.Set(queues_[i].get(), gpr_now(GPR_CLOCK_MONOTONIC), &lane);
    }
    return true;
  }

 private:
  // The work posted to one queue; its alarm (set when the first post
  // arrives) runs it all on the queue's thread.
  struct Lane final : AsyncTag {
    void Run(bool) override {
      std::vector<std::function<void()>> work;
      {
        std::lock_guard<std::mutex> lock(mu);
        work.swap(posted);
        kicked = false;
      }
      for (auto& fn : work) fn();
    }
    std::mutex mu;
    std::vector<std::function<void()>> posted;
    bool kicked = false;  // the alarm is set
    bool closed = false;
    grpc::Alarm alarm;
  };

  // The queue whose thread this is, if any.
  static inline thread_local std::pair<const AsyncQueues*, int> current_{
      nullptr, -1};

  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  bool shut_down_ = false;
};

// One server-streaming watch method (WatchObjectiveStatuses,
// WatchVlaStatuses, WatchKviValues) over an EncodedBoard, on AsyncQueues.
// The method is served raw (the generated WithRawMethod_ wrapper): each
// message is the board's batch of encoded items (stream_items.h), written
// without serializing anything per subscriber. Each call parses and checks
// its request with `open`, then follows the board: one message in flight
// at a time, as the board delivers them, ending with UNAVAILABLE when the
// board closes (server shutdown) or the client goes away.
template <typename Status, typename Request>
class AsyncBoardWatch {
 public:
  using Board = EncodedBoard<Status>;
  using Writer = grpc::ServerAsyncWriter<grpc::ByteBuffer>;
  // Asks the server for one call of the method on `cq` (the generated raw
  // Request<Method> of the service), completing `tag`.
  using RequestCall = std::function<void(
      grpc::ServerContext* ctx, grpc::ByteBuffer* request, Writer* writer,
      grpc::ServerCompletionQueue* cq, void* tag)>;
  // What a call follows: the board's statuses matching `filter`, after
  // `resume_after` (-1: from a snapshot).
  struct Subscription {
    Filter filter;
    int64_t resume_after = -1;
  };
  // Checks a call (access, filter, resume token): what it follows, or the
  // error it ends with.
  using Open = std::function<absl::StatusOr<Subscription>(
      grpc::ServerContext* ctx, const Request& request)>;

  // The RequestCall of a generated raw async method, e.g.
  // RequestCallOf(this, &Impl::RequestWatchVlaStatuses).
  template <typename Service, typename Method>
  static RequestCall RequestCallOf(Service* service, Method method) {
    return [service, method](grpc::ServerContext* ctx,
                             grpc::ByteBuffer* request, Writer* writer,
                             grpc::ServerCompletionQueue* cq, void* tag) {
      (service->*method)(ctx, request, writer, cq, cq, tag);
    };
  }

  // The usual Open's first steps: `guard`'s access check for `method`,
  // then the request's filter parsed against `fields`.
  static absl::StatusOr<Subscription> CheckAndFilter(
      const AccessGuard& guard, grpc::ServerContext* ctx,
      absl::string_view method, const Request& request,
      const std::vector<FilterField>& fields) {
    VLA_RETURN_IF_ERROR(FromGrpcStatus(guard.Check(ctx, method, &request)));
    Subscription subscription;
    VLA_ASSIGN_OR_RETURN(subscription.filter,
                         Filter::Parse(request.filter(), fields));
    return subscription;
  }

  // `board` must outlive the calls, i.e. the server and its AsyncQueues.
  AsyncBoardWatch(Board* board, RequestCall request_call, Open open)
      : board_(board),
        request_call_(std::move(request_call)),
        open_(std::move(open)) {}

  // Accepts calls on every queue of `queues` (`pending` requests outstanding
  // on each), until the queues shut down. `this` must outlive the queues'
  // Shutdown.
  void Serve(AsyncQueues* queues, int pending = 4) {
    for (int i = 0; i < queues->size(); ++i) {
      for (int j = 0; j < pending; ++j) (new Call(this, queues, i))->Await();
    }
  }

 private:
  // One call, from its request to its end; deletes itself.
  class Call final : public Board::Subscriber {
   public:
    Call(AsyncBoardWatch* method, AsyncQueues* queues, int queue)
        : method_(method),
          queues_(queues),
          queue_(queue),
          cq_(queues->queue(queue)),
          writer_(&ctx_) {}

    // Asks for the next call of the method on cq_; gives up (deleting
    // itself) when the queues are shutting down.
    void Await() {
      ctx_.AsyncNotifyWhenDone(&done_);
      if (!queues_->Request([this] {
            method_->request_call_(&ctx_, &request_, &writer_, cq_, &accepted_);
          })) {
        delete this;
      }
    }

   protected:
    void Deliver(typename Board::Batch batch) override {
      // On the call's own queue thread (the previous write completed): the
      // write starts now. From elsewhere (a publication) it is posted
      // there, so a publisher never waits for the writes it starts, and
      // they spread over the queues' threads. The items are shared with
      // the other streams: the message refers to them. Nothing after Write:
      // it may complete (and the call end) on the queue's thread at once.
      // (The queues close only after the server's shutdown, when no call
      // is left to deliver to.)
      queues_->RunOn(queue_, [this, batch = std::move(batch)] {
        writer_.Write(BatchMessage(batch), &written_);
      });
    }
    void End() override {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "stream ended (server shutting down or client "
                          "gone); reconnect to continue"));
    }

   private:
    void OnAccepted(bool ok) {
      if (!ok) {
        // The server is shutting down and the call never started: neither
        // done_ nor finished_ will come.
        delete this;
        return;
      }
      (new Call(method_, queues_, queue_))->Await();  // the next call
      Request request;
      if (!grpc::SerializationTraits<Request>::Deserialize(&request_, &request)
               .ok()) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "request: not a valid message"));
        return;
      }
      absl::StatusOr<Subscription> subscription =
          method_->open_(&ctx_, request);
      if (!subscription.ok()) {
        Finish(ToGrpcStatus(subscription.status()));
        return;
      }
      attached_ = true;
      method_->board_->Attach(this, std::move(subscription->filter),
                              subscription->resume_after);
    }
    void OnWritten(bool ok) { method_->board_->WriteDone(this, ok); }
    // The call is over (finished, or cancelled by the client or the
    // server's shutdown).
    void OnDone(bool) {
      if (attached_) method_->board_->Cancel(this);
      Release();
    }
    void OnFinished(bool) { Release(); }

    void Finish(const grpc::Status& status) {
      writer_.Finish(status, &finished_);
    }
    // done_ and finished_ both came: nothing else can reach this call.
    void Release() {
      if (outstanding_.fetch_sub(1) != 1) return;
      if (attached_) method_->board_->Detach(this);
      delete this;
    }

    AsyncBoardWatch* method_;
    AsyncQueues* queues_;
    const int queue_;
    grpc::ServerCompletionQueue* cq_;
    grpc::ServerContext ctx_;
    grpc::ByteBuffer request_;
    Writer writer_;
    bool attached_ = false;            // set on cq_'s thread
    std::atomic<int> outstanding_{2};  // done_ and finished_
    MemberTag<Call, &Call::OnAccepted> accepted_{this};
    MemberTag<Call, &Call::OnWritten> written_{this};
    MemberTag<Call, &Call::OnDone> done_{this};
    MemberTag<Call, &Call::OnFinished> finished_{this};
  };

  Board* board_;
  RequestCall request_call_;
  Open open_;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_ASYNC_WATCH_H_
