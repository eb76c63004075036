// Reactor helpers shared by the services.
//
// BoardWatchReactor: a server-streaming reactor that follows a StatusBoard
// (WatchVlaStatuses, WatchObjectiveStatuses). It writes one event at a time,
// as the board delivers them, and ends the stream with UNAVAILABLE when the
// board closes (server shutdown) or the client goes away.
#ifndef VLA_SERVICES_COMMON_REACTORS_H_
#define VLA_SERVICES_COMMON_REACTORS_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/statusor.h"
#include "services/common/executor.h"
#include "services/common/status_board.h"
#include "services/common/status_util.h"

namespace vla {

template <typename Status, typename EventProto>
class BoardWatchReactor final
    : public grpc::ServerWriteReactor<EventProto>,
      public StatusBoard<Status, EventProto>::Subscriber {
 public:
  using Board = StatusBoard<Status, EventProto>;

  // Finishes at once with `filter`'s error if it has one; else attaches to
  // `board` (resuming after `resume_after` when >= 0).
  BoardWatchReactor(Board* board, absl::StatusOr<Filter> filter,
                    int64_t resume_after)
      : board_(board) {
    if (!filter.ok()) {
      this->Finish(ToGrpcStatus(filter.status()));
      return;
    }
    attached_ = true;
    board_->Attach(this, *std::move(filter), resume_after);
  }

  void OnWriteDone(bool ok) override { board_->WriteDone(this, ok); }
  void OnCancel() override {
    if (attached_) board_->Cancel(this);
  }
  void OnDone() override {
    if (attached_) board_->Detach(this);
    delete this;
  }

 protected:
  void Deliver(typename Board::MessagePtr message) override {
    // The message is shared with the other streams: written as is. Nothing
    // after StartWrite: the write may complete (and the stream end) at once.
    // No buffer hint (WriteOptions::set_buffer_hint) even within a snapshot:
    // with gRPC 1.51 and 10,000 streams, hinted writes stalled for good
    // (bench/README.md).
    current_ = std::move(message);
    this->StartWrite(current_.get());
  }
  void End() override {
    this->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "stream ended (server shutting down or client "
                              "gone); reconnect to continue"));
  }

 private:
  Board* board_;
  typename Board::MessagePtr current_;  // the write in flight
  bool attached_ = false;
};

// Answers a unary callback call from `executor` with the status `fn`
// returns, for work that may block (disk syncs, calls to other services), so
// that gRPC's callback threads never wait. `fn` must capture the request and
// response pointers by value.
template <typename Fn>
grpc::ServerUnaryReactor* ReplyFrom(Executor* executor,
                                    grpc::CallbackServerContext* ctx, Fn fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  executor->Submit([ctx, reactor, fn = std::move(fn)] {
    // A call whose deadline passed (or whose client left) while it waited
    // for a thread is not applied.
    if (ctx->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                                   "call cancelled or deadline exceeded "
                                   "before it was applied"));
      return;
    }
    reactor->Finish(ToGrpcStatus(fn()));
  });
  return reactor;
}

// Answers a unary callback call inline with the status `fn` returns.
template <typename Fn>
grpc::ServerUnaryReactor* ReplyNow(grpc::CallbackServerContext* ctx, Fn fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(fn()));
  return reactor;
}

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_REACTORS_H_
