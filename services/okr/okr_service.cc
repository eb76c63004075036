#include "services/okr/okr_service.h"

#include "services/common/proto_time.h"
#include "services/common/status_util.h"

namespace vla::okr {
namespace {

template <typename Fn>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, Fn fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(fn()));
  return reactor;
}

using Board = StatusBoard<v1::ObjectiveStatus>;

// WatchObjectiveStatuses: a StatusBoard subscriber with resume tokens.
class WatchReactor final
    : public grpc::ServerWriteReactor<v1::ObjectiveStatusEvent>,
      public Board::Subscriber {
 public:
  WatchReactor(OkrCore* core, const v1::WatchObjectiveStatusesRequest& req)
      : core_(core) {
    auto filter = Filter::Parse(req.filter(), OkrCore::FilterFields());
    if (!filter.ok()) {
      Finish(ToGrpcStatus(filter.status()));
      return;
    }
    int64_t resume_after = -1;
    if (!req.resume_token().empty()) {
      auto seq = core_->ParseResumeToken(req.resume_token());
      if (!seq.ok()) {
        Finish(ToGrpcStatus(seq.status()));
        return;
      }
      resume_after = *seq;
    }
    attached_ = true;
    core_->board().Attach(this, *std::move(filter), resume_after);
  }

  void OnWriteDone(bool ok) override { core_->board().WriteDone(this, ok); }
  void OnCancel() override {
    if (attached_) core_->board().Cancel(this);
  }
  void OnDone() override {
    if (attached_) core_->board().Detach(this);
    delete this;
  }

 protected:
  void Deliver(const Board::Event& event) override {
    current_.Clear();
    current_.set_snapshot(event.snapshot);
    current_.set_sequence(event.sequence);
    current_.set_resume_token(core_->ResumeToken(event.sequence));
    switch (event.kind) {
      case Board::Event::Kind::kSnapshotComplete:
        current_.set_snapshot_complete(true);
        break;
      case Board::Event::Kind::kRemoved:
        current_.mutable_status()->set_objective(event.key);
        current_.mutable_status()->set_status(v1::OKR_STATUS_UNSPECIFIED);
        break;
      case Board::Event::Kind::kStatus:
        *current_.mutable_status() = event.status;
        break;
    }
    StartWrite(&current_);
  }

  void End() override {
    Finish(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "server shutting down; resume with the last resume_token"));
  }

 private:
  OkrCore* core_;
  v1::ObjectiveStatusEvent current_;
  bool attached_ = false;
};

}  // namespace

grpc::ServerUnaryReactor* OkrStatusServiceImpl::GetObjectiveStatus(
    grpc::CallbackServerContext* ctx, const v1::GetObjectiveStatusRequest* req,
    v1::ObjectiveStatus* resp) {
  return Reply(ctx, [&]() -> absl::Status {
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
  return Reply(ctx, [&] {
    return core_->ListObjectiveStatuses(req->filter(), req->page_size(),
                                        req->page_token(), resp);
  });
}

grpc::ServerWriteReactor<v1::ObjectiveStatusEvent>*
OkrStatusServiceImpl::WatchObjectiveStatuses(
    grpc::CallbackServerContext*,
    const v1::WatchObjectiveStatusesRequest* req) {
  return new WatchReactor(core_, *req);
}

grpc::ServerUnaryReactor* OkrStatusServiceImpl::RecordCheckIn(
    grpc::CallbackServerContext* ctx, const v1::RecordCheckInRequest* req,
    v1::CheckIn* resp) {
  return Reply(ctx, [&]() -> absl::Status {
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
