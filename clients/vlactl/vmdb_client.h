// The VMDB's standard methods for any of the five resource kinds, chosen by
// KindInfo at run time (vlactl handles resources generically). Reads and
// creates (which carry a request_id) are retried on UNAVAILABLE.
#ifndef VLA_CLIENTS_VLACTL_VMDB_CLIENT_H_
#define VLA_CLIENTS_VLACTL_VMDB_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "clients/lib/client.h"
#include "clients/vlactl/documents.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla::vlactl {

class VmdbClient {
 public:
  VmdbClient(std::shared_ptr<grpc::Channel> channel,
             client::ConnectionOptions options);

  // A new, empty message of the kind's resource type.
  static std::unique_ptr<google::protobuf::Message> NewResource(
      const KindInfo& kind);

  grpc::Status Get(const KindInfo& kind, const std::string& name,
                   google::protobuf::Message* out);
  grpc::Status Create(const KindInfo& kind, const std::string& id,
                      const google::protobuf::Message& resource,
                      google::protobuf::Message* out);
  // `resource` carries name and etag.
  grpc::Status Update(const KindInfo& kind,
                      const google::protobuf::Message& resource,
                      const google::protobuf::FieldMask& mask,
                      google::protobuf::Message* out);
  grpc::Status Delete(const KindInfo& kind, const std::string& name,
                      const std::string& etag);
  // Every page.
  grpc::Status List(
      const KindInfo& kind, const std::string& filter,
      std::vector<std::unique_ptr<google::protobuf::Message>>* out);

  v1::VmdbService::Stub& stub() { return *stub_; }

 private:
  grpc::Status Call(const std::string& method,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response, bool retry);

  std::unique_ptr<v1::VmdbService::Stub> stub_;
  client::ConnectionOptions options_;
};

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_VMDB_CLIENT_H_
