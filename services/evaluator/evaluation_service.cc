#include "services/evaluator/evaluation_service.h"

#include <deque>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "services/common/reactors.h"

namespace vla::evaluator {
namespace {

// Set on a call one replica forwards to another.
constexpr char kForwardedMetadata[] = "vla-forwarded";
// How long a call waits for its value stream to have an owner (a failover,
// a new value stream) before UNAVAILABLE.
constexpr absl::Duration kRouteWait = absl::Seconds(3);

// An optional request time (field `field`): unset means the method's
// default; set must be valid.
absl::StatusOr<std::optional<absl::Time>> OptionalTime(
    absl::string_view field, bool has, const google::protobuf::Timestamp& t) {
  if (!has) return std::optional<absl::Time>();
  if (!IsValidProtoTime(t)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid timestamp"));
  }
  return std::optional<absl::Time>(FromProtoTime(t));
}

// The optional [start_time, end_time) of a history request.
struct TimeRange {
  std::optional<absl::Time> start, end;
};
template <typename Request>
absl::StatusOr<TimeRange> RequestRange(const Request& req) {
  TimeRange r;
  VLA_ASSIGN_OR_RETURN(r.start, OptionalTime("start_time", req.has_start_time(),
                                             req.start_time()));
  VLA_ASSIGN_OR_RETURN(
      r.end, OptionalTime("end_time", req.has_end_time(), req.end_time()));
  return r;
}

// An optional request duration (field `field`), likewise.
absl::StatusOr<std::optional<absl::Duration>> OptionalDuration(
    absl::string_view field, bool has, const google::protobuf::Duration& d) {
  if (!has) return std::optional<absl::Duration>();
  if (!IsValidProtoDuration(d)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": invalid duration"));
  }
  return std::optional<absl::Duration>(FromProtoDuration(d));
}

// The Ingest stream: reads batches, up to kInFlight at a time, and writes
// their acknowledgements in order, each after its batch is committed.
class IngestReactor final
    : public grpc::ServerBidiReactor<v1::IngestRequest, v1::IngestResponse> {
 public:
  explicit IngestReactor(Evaluator* evaluator) : evaluator_(evaluator) {
    StartNextRead();
  }

  void OnReadDone(bool ok) override {
    Slot* slot = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ok) {
        reading_ = false;
        reads_done_ = true;
        MaybeFinishLocked();
        return;
      }
      // reading_ stays set until the batch is queued: otherwise another
      // thread (a commit or a write completing) could start the next read,
      // and that batch could be queued, hence committed, before this one.
      slot = &slots_.back();
      in_flight_++;
    }
    // Without the lock: IngestAsync may call back inline (a batch refused
    // at once, e.g. over --max_ingest_batch_records).
    evaluator_->IngestAsync(&slot->request,
                            [this, slot](absl::StatusOr<v1::IngestResponse> r) {
                              OnCommitted(slot, std::move(r));
                            });
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
    if (!reads_done_ && !failed_ && !finished_ && in_flight_ < kInFlight) {
      StartNextReadLocked();
    }
    MaybeFinishLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    slots_.pop_front();
    if (!ok) failed_ = true;
    WriteNextLocked();
    if (!reading_ && !reads_done_ && !failed_ && in_flight_ < kInFlight) {
      StartNextReadLocked();
    }
    MaybeFinishLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    failed_ = true;
    MaybeFinishLocked();
  }

  void OnDone() override { delete this; }

 private:
  static constexpr int kInFlight = 4;
  struct Slot {
    v1::IngestRequest request;
    bool done = false;
    v1::IngestResponse response;
  };

  void StartNextRead() {
    std::lock_guard<std::mutex> lock(mu_);
    StartNextReadLocked();
  }
  void StartNextReadLocked() {
    slots_.emplace_back();
    reading_ = true;
    StartRead(&slots_.back().request);
  }

  void OnCommitted(Slot* slot, absl::StatusOr<v1::IngestResponse> result) {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_--;
    if (!result.ok()) {
      if (error_.ok()) error_ = ToGrpcStatus(result.status());
      failed_ = true;
    } else {
      slot->response = *std::move(result);
      slot->done = true;
      WriteNextLocked();
    }
    if (!reading_ && !reads_done_ && !failed_ && in_flight_ < kInFlight) {
      StartNextReadLocked();
    }
    MaybeFinishLocked();
  }

  // Writes the oldest acknowledgement if it is ready and no write is busy.
  void WriteNextLocked() {
    if (writing_ || failed_ || slots_.empty() || !slots_.front().done) return;
    writing_ = true;
    StartWrite(&slots_.front().response);
  }

  void MaybeFinishLocked() {
    if (finished_ || writing_ || in_flight_ > 0 || reading_) return;
    const bool all_acked =
        slots_.empty() ||
        (slots_.size() == 1 && !slots_.front().done && reads_done_);
    if (failed_ || (reads_done_ && all_acked)) {
      finished_ = true;
      Finish(failed_ && !error_.ok() ? error_ : grpc::Status::OK);
    }
  }

  Evaluator* evaluator_;
  std::mutex mu_;
  std::deque<Slot> slots_;  // oldest first; the back one may be reading
  int in_flight_ = 0;
  bool reading_ = false;
  bool reads_done_ = false;
  bool writing_ = false;
  bool failed_ = false;
  bool finished_ = false;
  grpc::Status error_;
};

}  // namespace

EvaluationServiceImpl::EvaluationServiceImpl(Evaluator* evaluator,
                                             const AccessPolicy* policy,
                                             PeerChannelFactory peers)
    : evaluator_(evaluator),
      guard_(policy, v1::EvaluationService::service_full_name()),
      peers_(std::move(peers)),
      status_watch_(&evaluator->board(),
                    StatusWatch::RequestCallOf(
                        this, &EvaluationServiceImpl::RequestWatchVlaStatuses),
                    [this](grpc::ServerContext* ctx,
                           const v1::WatchVlaStatusesRequest& req) {
                      return StatusWatch::CheckAndFilter(
                          guard_, ctx, "WatchVlaStatuses", req,
                          Evaluator::StatusFilterFields());
                    }),
      kvi_watch_(&evaluator->kvi_board(),
                 KviWatch::RequestCallOf(
                     this, &EvaluationServiceImpl::RequestWatchKviValues),
                 [this](grpc::ServerContext* ctx,
                        const v1::WatchKviValuesRequest& req) {
                   return KviWatch::CheckAndFilter(
                       guard_, ctx, "WatchKviValues", req,
                       Evaluator::KviFilterFields());
                 }) {}

grpc::ServerBidiReactor<v1::IngestRequest, v1::IngestResponse>*
EvaluationServiceImpl::Ingest(grpc::CallbackServerContext* ctx) {
  if (auto* r = guard_.Reject<
                grpc::ServerBidiReactor<v1::IngestRequest, v1::IngestResponse>>(
          ctx, __func__)) {
    return r;
  }
  return new IngestReactor(evaluator_);
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::IngestBatch(
    grpc::CallbackServerContext* ctx, const v1::IngestRequest* req,
    v1::IngestResponse* resp) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) {
    return r;
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  evaluator_->IngestAsync(
      req, [reactor, resp](absl::StatusOr<v1::IngestResponse> result) {
        if (result.ok()) *resp = *std::move(result);
        reactor->Finish(ToGrpcStatus(result.status()));
      });
  return reactor;
}

absl::StatusOr<v1::EvaluationService::Stub*> EvaluationServiceImpl::Peer(
    const std::string& address) {
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto& stub = peer_stubs_[address];
  if (stub == nullptr) {
    VLA_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                         peers_(address));
    stub = v1::EvaluationService::NewStub(channel);
  }
  return stub.get();
}

template <typename Request, typename Response, typename Local, typename Forward>
grpc::ServerUnaryReactor* EvaluationServiceImpl::Routed(
    grpc::CallbackServerContext* ctx, absl::string_view method,
    const Request* req, const std::string& name, Response* resp, Local local,
    Forward forward) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, method, req)) {
    return r;
  }
  const bool forwarded =
      ctx->client_metadata().count(grpc::string_ref(kForwardedMetadata)) > 0;
  const Replication::Route route =
      evaluator_->RouteOf(name, forwarded ? absl::ZeroDuration() : kRouteWait);
  using Kind = Replication::Route::Kind;
  if (route.kind == Kind::kLocal) return ReplyNow(ctx, local);
  if (route.kind == Kind::kNone || forwarded || peers_ == nullptr) {
    return ReplyNow(ctx, [&] {
      return absl::UnavailableError(
          absl::StrCat("the owner of ", name,
                       " is changing (a replica started or "
                       "stopped); retry"));
    });
  }
  absl::StatusOr<v1::EvaluationService::Stub*> peer = Peer(route.address);
  if (!peer.ok()) return ReplyNow(ctx, [&] { return peer.status(); });
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto client = std::make_shared<grpc::ClientContext>();
  client->set_deadline(ctx->deadline());
  client->AddMetadata(kForwardedMetadata, "1");
  forward(*peer, client.get(), resp,
          [reactor, client](grpc::Status s) { reactor->Finish(s); });
  return reactor;
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::GetKviValue(
    grpc::CallbackServerContext* ctx, const v1::GetKviValueRequest* req,
    v1::KviValue* resp) {
  return Routed(
      ctx, __func__, req, req->kvi(), resp,
      [&]() -> absl::Status {
        VLA_ASSIGN_OR_RETURN(
            auto at, OptionalTime("time", req->has_time(), req->time()));
        VLA_ASSIGN_OR_RETURN(*resp, evaluator_->GetKviValue(req->kvi(), at));
        return absl::OkStatus();
      },
      [req](auto* stub, auto* client, auto* out, auto done) {
        stub->async()->GetKviValue(client, req, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::GetVlaStatus(
    grpc::CallbackServerContext* ctx, const v1::GetVlaStatusRequest* req,
    v1::VlaStatus* resp) {
  return Routed(
      ctx, __func__, req, req->vla(), resp,
      [&]() -> absl::Status {
        VLA_ASSIGN_OR_RETURN(
            auto at, OptionalTime("time", req->has_time(), req->time()));
        VLA_ASSIGN_OR_RETURN(*resp, evaluator_->GetVlaStatus(req->vla(), at));
        return absl::OkStatus();
      },
      [req](auto* stub, auto* client, auto* out, auto done) {
        stub->async()->GetVlaStatus(client, req, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::ListVlaStatuses(
    grpc::CallbackServerContext* ctx, const v1::ListVlaStatusesRequest* req,
    v1::ListVlaStatusesResponse* resp) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) {
    return r;
  }
  return ReplyNow(ctx, [&] {
    return evaluator_->ListVlaStatuses(req->filter(), req->page_size(),
                                       req->page_token(), resp);
  });
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::GetValueStreamFlow(
    grpc::CallbackServerContext* ctx, const v1::GetValueStreamFlowRequest* req,
    v1::ValueStreamFlow* resp) {
  return Routed(
      ctx, __func__, req, req->value_stream(), resp,
      [&]() -> absl::Status {
        VLA_ASSIGN_OR_RETURN(
            auto at, OptionalTime("time", req->has_time(), req->time()));
        VLA_ASSIGN_OR_RETURN(
            auto window,
            OptionalDuration("window", req->has_window(), req->window()));
        VLA_ASSIGN_OR_RETURN(*resp, evaluator_->GetValueStreamFlow(
                                        req->value_stream(), window, at));
        return absl::OkStatus();
      },
      [req](auto* stub, auto* client, auto* out, auto done) {
        stub->async()->GetValueStreamFlow(client, req, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::ListVlaEvaluations(
    grpc::CallbackServerContext* ctx, const v1::ListVlaEvaluationsRequest* req,
    v1::ListVlaEvaluationsResponse* resp) {
  // Routed like GetVlaStatus although the evaluations are in the shared
  // store: the owner has stored every evaluation it published, so the
  // history ends where its status does.
  return Routed(
      ctx, __func__, req, req->vla(), resp,
      [&]() -> absl::Status {
        VLA_ASSIGN_OR_RETURN(const TimeRange range, RequestRange(*req));
        return evaluator_->ListVlaEvaluations(req->vla(), range.start,
                                              range.end, req->page_size(),
                                              req->page_token(), resp);
      },
      [req](auto* stub, auto* client, auto* out, auto done) {
        stub->async()->ListVlaEvaluations(client, req, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::GetVlaReport(
    grpc::CallbackServerContext* ctx, const v1::GetVlaReportRequest* req,
    v1::VlaReport* resp) {
  // Routed: the report's KVI values come from the records in memory, which
  // only the owner of the VLA's value stream holds.
  return Routed(
      ctx, __func__, req, req->vla(), resp,
      [&]() -> absl::Status {
        VLA_ASSIGN_OR_RETURN(const TimeRange range, RequestRange(*req));
        VLA_ASSIGN_OR_RETURN(
            *resp,
            evaluator_->GetVlaReport(req->vla(), req->period(),
                                     req->time_zone(), range.start, range.end));
        return absl::OkStatus();
      },
      [req](auto* stub, auto* client, auto* out, auto done) {
        stub->async()->GetVlaReport(client, req, out, std::move(done));
      });
}

grpc::ServerUnaryReactor* EvaluationServiceImpl::GetKviSeries(
    grpc::CallbackServerContext* ctx, const v1::GetKviSeriesRequest* req,
    v1::KviSeries* resp) {
  // Routed: the series is computed from the records in memory, which only
  // the owner of the KVI's value stream holds.
  return Routed(
      ctx, __func__, req, req->kvi(), resp,
      [&]() -> absl::Status {
        VLA_ASSIGN_OR_RETURN(const TimeRange range, RequestRange(*req));
        VLA_ASSIGN_OR_RETURN(
            auto step, OptionalDuration("step", req->has_step(), req->step()));
        VLA_ASSIGN_OR_RETURN(
            *resp,
            evaluator_->GetKviSeries(req->kvi(), range.start, range.end, step));
        return absl::OkStatus();
      },
      [req](auto* stub, auto* client, auto* out, auto done) {
        stub->async()->GetKviSeries(client, req, out, std::move(done));
      });
}

}  // namespace vla::evaluator
