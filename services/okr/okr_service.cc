#include "services/okr/okr_service.h"

#include "common/proto_time.h"
#include "common/status_util.h"
#include "services/common/reactors.h"

namespace vla::okr {
grpc::ServerUnaryReactor* OkrStatusServiceImpl::GetObjectiveStatus(
    grpc::CallbackServerContext* ctx, const v1::GetObjectiveStatusRequest* req,
    v1::ObjectiveStatus* resp) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) {
    return r;
  }
  // Scoring on demand asks the evaluator: off gRPC's threads.
  return ReplyFrom(&executor_, ctx, [this, req, resp]() -> absl::Status {
    std::optional<absl::Time> at;
    if (req->has_time()) {
      if (!IsValidProtoTime(req->time())) {
        return absl::InvalidArgumentError("time: invalid timestamp");
      }
      at = FromProtoTime(req->time());
    }
    VLA_ASSIGN_OR_RETURN(*resp,
                         core_->GetObjectiveStatus(req->objective(), at));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* OkrStatusServiceImpl::ListObjectiveStatuses(
    grpc::CallbackServerContext* ctx,
    const v1::ListObjectiveStatusesRequest* req,
    v1::ListObjectiveStatusesResponse* resp) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) {
    return r;
  }
  return ReplyNow(ctx, [&] {
    return core_->ListObjectiveStatuses(req->filter(), req->page_size(),
                                        req->page_token(), resp);
  });
}

absl::StatusOr<OkrStatusServiceImpl::Watch::Subscription>
OkrStatusServiceImpl::OpenWatch(grpc::ServerContext* ctx,
                                const v1::WatchObjectiveStatusesRequest& req) {
  VLA_ASSIGN_OR_RETURN(
      Watch::Subscription subscription,
      Watch::CheckAndFilter(guard_, ctx, "WatchObjectiveStatuses", req,
                            OkrCore::FilterFields()));
  if (!req.resume_token().empty()) {
    VLA_ASSIGN_OR_RETURN(subscription.resume_after,
                         core_->ParseResumeToken(req.resume_token()));
  }
  return subscription;
}

grpc::ServerUnaryReactor* OkrStatusServiceImpl::RecordCheckIn(
    grpc::CallbackServerContext* ctx, const v1::RecordCheckInRequest* req,
    v1::CheckIn* resp) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) {
    return r;
  }
  // A durable write: off gRPC's threads.
  return ReplyFrom(&executor_, ctx, [this, req, resp]() -> absl::Status {
    VLA_ASSIGN_OR_RETURN(*resp, core_->RecordCheckIn(*req));
    return absl::OkStatus();
  });
}

void GrpcKviSource::Connect(std::shared_ptr<grpc::Channel> channel) {
  std::lock_guard<std::mutex> lock(mu_);
  stub_ =
      channel == nullptr ? nullptr : v1::EvaluationService::NewStub(channel);
}

absl::StatusOr<v1::KviValue> GrpcKviSource::Value(const std::string& kvi,
                                                  absl::Time at) {
  std::shared_ptr<v1::EvaluationService::Stub> stub;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stub = stub_;
  }
  if (stub == nullptr) return absl::UnavailableError("evaluator not connected");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetKviValueRequest req;
  req.set_kvi(kvi);
  *req.mutable_time() = ToProtoTime(at);
  v1::KviValue value;
  VLA_RETURN_IF_ERROR(FromGrpcStatus(stub->GetKviValue(&ctx, req, &value)));
  return value;
}

}  // namespace vla::okr
