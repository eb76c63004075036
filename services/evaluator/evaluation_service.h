// The gRPC face of the evaluator: a thin adapter from EvaluationService's
// callback API to Evaluator (the watch methods on the async API:
// services/common/async_watch.h).
#ifndef VLA_SERVICES_EVALUATOR_EVALUATION_SERVICE_H_
#define VLA_SERVICES_EVALUATOR_EVALUATION_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "services/common/access.h"
#include "services/common/async_watch.h"
#include "services/evaluator/evaluator.h"
#include "vla/v1/evaluation.grpc.pb.h"

namespace vla::evaluator {

// Every method on the callback API but the watches, which are served on
// AsyncQueues as raw methods (async_watch.h: their messages are batches of
// items encoded once). The raw wrappers must come first: gRPC changes a
// method's kind only from its default (sync) kind.
using EvaluationServiceBase = v1::EvaluationService::WithCallbackMethod_Ingest<
    v1::EvaluationService::WithCallbackMethod_IngestBatch<
        v1::EvaluationService::WithCallbackMethod_GetKviValue<
            v1::EvaluationService::WithCallbackMethod_GetVlaStatus<
                v1::EvaluationService::WithCallbackMethod_ListVlaStatuses<
                    v1::EvaluationService::WithCallbackMethod_GetValueStreamFlow<
                        v1::EvaluationService::WithCallbackMethod_ListVlaEvaluations<
                            v1::EvaluationService::WithCallbackMethod_GetVlaReport<
                                v1::EvaluationService::
                                    WithCallbackMethod_GetKviSeries<
                                        v1::EvaluationService::
                                            WithRawMethod_WatchVlaStatuses<
                                                v1::EvaluationService::
                                                    WithRawMethod_WatchKviValues<
                                                        v1::EvaluationService::
                                                            Service>>>>>>>>>>>;

// Makes the channel to another replica at HOST:PORT (with the server's TLS
// and peer token).
using PeerChannelFactory =
    std::function<absl::StatusOr<std::shared_ptr<grpc::Channel>>(
        const std::string& address)>;

class EvaluationServiceImpl final : public EvaluationServiceBase {
 public:
  // `evaluator` and `policy` (null: no checks) must outlive the service.
  // With replicas, GetKviValue, GetVlaStatus and GetValueStreamFlow about a
  // value stream another replica owns are forwarded to it over a channel
  // from `peers`.
  explicit EvaluationServiceImpl(Evaluator* evaluator,
                                 const AccessPolicy* policy = nullptr,
                                 PeerChannelFactory peers = nullptr);

  // Serves WatchVlaStatuses and WatchKviValues on `queues` (until they shut
  // down).
  void ServeAsync(AsyncQueues* queues) {
    status_watch_.Serve(queues);
    kvi_watch_.Serve(queues);
  }

  grpc::ServerBidiReactor<v1::IngestRequest, v1::IngestResponse>* Ingest(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* IngestBatch(grpc::CallbackServerContext* ctx,
                                        const v1::IngestRequest* req,
                                        v1::IngestResponse* resp) override;
  grpc::ServerUnaryReactor* GetKviValue(grpc::CallbackServerContext* ctx,
                                        const v1::GetKviValueRequest* req,
                                        v1::KviValue* resp) override;
  grpc::ServerUnaryReactor* GetVlaStatus(grpc::CallbackServerContext* ctx,
                                         const v1::GetVlaStatusRequest* req,
                                         v1::VlaStatus* resp) override;
  grpc::ServerUnaryReactor* ListVlaStatuses(
      grpc::CallbackServerContext* ctx, const v1::ListVlaStatusesRequest* req,
      v1::ListVlaStatusesResponse* resp) override;
  grpc::ServerUnaryReactor* GetValueStreamFlow(
      grpc::CallbackServerContext* ctx,
      const v1::GetValueStreamFlowRequest* req,
      v1::ValueStreamFlow* resp) override;
  grpc::ServerUnaryReactor* ListVlaEvaluations(
      grpc::CallbackServerContext* ctx,
      const v1::ListVlaEvaluationsRequest* req,
      v1::ListVlaEvaluationsResponse* resp) override;
  grpc::ServerUnaryReactor* GetVlaReport(grpc::CallbackServerContext* ctx,
                                         const v1::GetVlaReportRequest* req,
                                         v1::VlaReport* resp) override;
  grpc::ServerUnaryReactor* GetKviSeries(grpc::CallbackServerContext* ctx,
                                         const v1::GetKviSeriesRequest* req,
                                         v1::KviSeries* resp) override;

 private:
  // Checks the call (`method`, `req`: the guard), then answers it about
  // `name` with `local`, or forwards it (`forward` makes the same call on a
  // stub) to the replica that owns its value stream. A call that was
  // forwarded already is answered here or not at all (UNAVAILABLE:
  // ownership is moving).
  template <typename Request, typename Response, typename Local,
            typename Forward>
  grpc::ServerUnaryReactor* Routed(grpc::CallbackServerContext* ctx,
                                   absl::string_view method, const Request* req,
                                   const std::string& name, Response* resp,
                                   Local local, Forward forward);
  // The stub for the replica at `address`.
  absl::StatusOr<v1::EvaluationService::Stub*> Peer(const std::string& address);

  using StatusWatch =
      AsyncBoardWatch<v1::VlaStatus, v1::WatchVlaStatusesRequest>;
  using KviWatch = AsyncBoardWatch<v1::KviValue, v1::WatchKviValuesRequest>;

  Evaluator* evaluator_;
  AccessGuard guard_;
  const PeerChannelFactory peers_;
  std::mutex peers_mu_;
  std::map<std::string, std::unique_ptr<v1::EvaluationService::Stub>>
      peer_stubs_;  // guarded by peers_mu_
  StatusWatch status_watch_;
  KviWatch kvi_watch_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATION_SERVICE_H_
