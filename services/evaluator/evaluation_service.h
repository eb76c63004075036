// The gRPC face of the evaluator: a thin adapter from EvaluationService's
// callback API to Evaluator.
#ifndef VLA_SERVICES_EVALUATOR_EVALUATION_SERVICE_H_
#define VLA_SERVICES_EVALUATOR_EVALUATION_SERVICE_H_

#include "services/evaluator/evaluator.h"
#include "vla/v1/evaluation.grpc.pb.h"

namespace vla::evaluator {

class EvaluationServiceImpl final
    : public v1::EvaluationService::CallbackService {
 public:
  // `evaluator` must outlive the service.
  explicit EvaluationServiceImpl(Evaluator* evaluator)
      : evaluator_(evaluator) {}

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
  grpc::ServerWriteReactor<v1::VlaStatusEvent>* WatchVlaStatuses(
      grpc::CallbackServerContext* ctx,
      const v1::WatchVlaStatusesRequest* req) override;
  grpc::ServerWriteReactor<v1::KviValueEvent>* WatchKviValues(
      grpc::CallbackServerContext* ctx,
      const v1::WatchKviValuesRequest* req) override;
  grpc::ServerUnaryReactor* GetValueStreamFlow(
      grpc::CallbackServerContext* ctx,
      const v1::GetValueStreamFlowRequest* req,
      v1::ValueStreamFlow* resp) override;

 private:
  Evaluator* evaluator_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_EVALUATION_SERVICE_H_
