// Reactor helpers shared by the services (the watch streams are served by
// async_watch.h).
#ifndef VLA_SERVICES_COMMON_REACTORS_H_
#define VLA_SERVICES_COMMON_REACTORS_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/statusor.h"
#include "common/status_util.h"
#include "services/common/executor.h"

namespace vla {

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
