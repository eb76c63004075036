// gRPC server reflection (grpc.reflection.v1alpha) on the callback API, so
// that tools like grpcurl can list and describe the services. gRPC's own
// implementation is a sync service, whose thread pool makes shutdown wait out
// its whole deadline; this one costs a reactor per stream and no threads.
#ifndef VLA_SERVICES_SERVER_REFLECTION_SERVICE_H_
#define VLA_SERVICES_SERVER_REFLECTION_SERVICE_H_

#include <string>
#include <vector>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace vla {

class ReflectionService final
    : public grpc::reflection::v1alpha::ServerReflection::CallbackService {
 public:
  // `services`: full names of the services to list. Descriptors come from
  // the generated pool.
  explicit ReflectionService(std::vector<std::string> services)
      : services_(std::move(services)) {}

  grpc::ServerBidiReactor<grpc::reflection::v1alpha::ServerReflectionRequest,
                          grpc::reflection::v1alpha::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

  // The answer to one request (exposed for tests).
  grpc::reflection::v1alpha::ServerReflectionResponse Answer(
      const grpc::reflection::v1alpha::ServerReflectionRequest& request) const;

 private:
  std::vector<std::string> services_;
};

}  // namespace vla

#endif  // VLA_SERVICES_SERVER_REFLECTION_SERVICE_H_
