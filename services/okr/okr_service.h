// The gRPC face of the OKR status service: a thin adapter from
// OkrStatusService's callback API to OkrCore (WatchObjectiveStatuses on the
// async API: services/common/async_watch.h), plus the KviSource that asks
// the evaluator over gRPC.
#ifndef VLA_SERVICES_OKR_OKR_SERVICE_H_
#define VLA_SERVICES_OKR_OKR_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>

#include "services/common/access.h"
#include "services/common/async_watch.h"
#include "services/common/executor.h"
#include "services/okr/okr_core.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"

namespace vla::okr {

// Every method on the callback API but WatchObjectiveStatuses, which is
// served on AsyncQueues as a raw method (async_watch.h: its messages are
// batches of items encoded once). The raw wrapper must come first: gRPC
// changes a method's kind only from its default (sync) kind.
using OkrStatusServiceBase =
    v1::OkrStatusService::WithCallbackMethod_GetObjectiveStatus<
        v1::OkrStatusService::WithCallbackMethod_ListObjectiveStatuses<
            v1::OkrStatusService::WithCallbackMethod_RecordCheckIn<
                v1::OkrStatusService::WithRawMethod_WatchObjectiveStatuses<
                    v1::OkrStatusService::Service>>>>;

class OkrStatusServiceImpl final : public OkrStatusServiceBase {
 public:
  // `core` and `policy` (null: no checks) must outlive the service.
  explicit OkrStatusServiceImpl(OkrCore* core,
                                const AccessPolicy* policy = nullptr)
      : core_(core),
        guard_(policy, v1::OkrStatusService::service_full_name()),
        executor_(4),
        watch_(&core->board(),
               Watch::RequestCallOf(
                   this, &OkrStatusServiceImpl::RequestWatchObjectiveStatuses),
               [this](grpc::ServerContext* ctx,
                      const v1::WatchObjectiveStatusesRequest& req) {
                 return OpenWatch(ctx, req);
               }) {}

  // Serves WatchObjectiveStatuses on `queues` (until they shut down).
  void ServeAsync(AsyncQueues* queues) { watch_.Serve(queues); }

  grpc::ServerUnaryReactor* GetObjectiveStatus(
      grpc::CallbackServerContext* ctx,
      const v1::GetObjectiveStatusRequest* req,
      v1::ObjectiveStatus* resp) override;
  grpc::ServerUnaryReactor* ListObjectiveStatuses(
      grpc::CallbackServerContext* ctx,
      const v1::ListObjectiveStatusesRequest* req,
      v1::ListObjectiveStatusesResponse* resp) override;
  grpc::ServerUnaryReactor* RecordCheckIn(grpc::CallbackServerContext* ctx,
                                          const v1::RecordCheckInRequest* req,
                                          v1::CheckIn* resp) override;

 private:
  using Watch =
      AsyncBoardWatch<v1::ObjectiveStatus, v1::WatchObjectiveStatusesRequest>;
  // A WatchObjectiveStatuses call's access, filter and resume token.
  absl::StatusOr<Watch::Subscription> OpenWatch(
      grpc::ServerContext* ctx, const v1::WatchObjectiveStatusesRequest& req);

  OkrCore* core_;
  AccessGuard guard_;
  // Runs the calls that block: check-ins (a disk sync) and on-demand scoring
  // (calls to the evaluator).
  Executor executor_;
  Watch watch_;
};

// KVI values from an EvaluationService over gRPC; UNAVAILABLE until
// Connect() names the channel (known only once the server runs).
class GrpcKviSource final : public KviSource {
 public:
  // Null disconnects.
  void Connect(std::shared_ptr<grpc::Channel> channel);
  absl::StatusOr<v1::KviValue> Value(const std::string& kvi,
                                     absl::Time at) override;

 private:
  std::mutex mu_;
  std::shared_ptr<v1::EvaluationService::Stub> stub_;
};

}  // namespace vla::okr

#endif  // VLA_SERVICES_OKR_OKR_SERVICE_H_
