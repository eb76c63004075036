// Reactor helpers shared by the services.
//
// BoardWatchReactor: a server-streaming reactor that follows a StatusBoard
// (WatchVlaStatuses, WatchObjectiveStatuses). It writes one event at a time,
// as the board delivers them, and ends the stream with UNAVAILABLE when the
// board closes (server shutdown) or the client goes away.
#ifndef VLA_SERVICES_COMMON_REACTORS_H_
#define VLA_SERVICES_COMMON_REACTORS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <utility>

#include "absl/status/statusor.h"
#include "services/common/executor.h"
#include "services/common/status_board.h"
#include "services/common/status_util.h"

namespace vla {

template <typename Status, typename EventProto>
class BoardWatchReactor final : public grpc::ServerWriteReactor<EventProto>,
                                public StatusBoard<Status>::Subscriber {
 public:
  using Board = StatusBoard<Status>;
  // Fills the proto event from a board event.
  using Convert =
      std::function<void(const typename Board::Event&, EventProto*)>;

  // Finishes at once with `filter`'s error if it has one; else attaches to
  // `board` (resuming after `resume_after` when >= 0).
  BoardWatchReactor(Board* board, absl::StatusOr<Filter> filter,
                    int64_t resume_after, Convert convert)
      : board_(board), convert_(std::move(convert)) {
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
  void Deliver(const typename Board::Event& event) override {
    current_.Clear();
    convert_(event, &current_);
    this->StartWrite(&current_);
  }
  void End() override {
    this->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "stream ended (server shutting down or client "
                              "gone); reconnect to continue"));
  }

 private:
  Board* board_;
  Convert convert_;
  EventProto current_;
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
  executor->Submit(
      [reactor, fn = std::move(fn)] { reactor->Finish(ToGrpcStatus(fn())); });
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
