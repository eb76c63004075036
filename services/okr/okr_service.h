// The gRPC face of the OKR status service: a thin adapter from
// OkrStatusService's callback API to OkrCore, plus the KviSource that asks
// the evaluator over gRPC.
#ifndef VLA_SERVICES_OKR_OKR_SERVICE_H_
#define VLA_SERVICES_OKR_OKR_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>

#include "services/common/executor.h"
#include "services/okr/okr_core.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"

namespace vla::okr {

class OkrStatusServiceImpl final
    : public v1::OkrStatusService::CallbackService {
 public:
  // `core` must outlive the service.
  explicit OkrStatusServiceImpl(OkrCore* core) : core_(core), executor_(4) {}

  grpc::ServerUnaryReactor* GetObjectiveStatus(
      grpc::CallbackServerContext* ctx,
      const v1::GetObjectiveStatusRequest* req,
      v1::ObjectiveStatus* resp) override;
  grpc::ServerUnaryReactor* ListObjectiveStatuses(
      grpc::CallbackServerContext* ctx,
      const v1::ListObjectiveStatusesRequest* req,
      v1::ListObjectiveStatusesResponse* resp) override;
  grpc::ServerWriteReactor<v1::ObjectiveStatusEvent>* WatchObjectiveStatuses(
      grpc::CallbackServerContext* ctx,
      const v1::WatchObjectiveStatusesRequest* req) override;
  grpc::ServerUnaryReactor* RecordCheckIn(grpc::CallbackServerContext* ctx,
                                          const v1::RecordCheckInRequest* req,
                                          v1::CheckIn* resp) override;

 private:
  OkrCore* core_;
  // Runs the calls that block: check-ins (a disk sync) and on-demand scoring
  // (calls to the evaluator).
  Executor executor_;
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
