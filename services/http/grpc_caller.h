// Calls any method of a gRPC server with serialized messages, by its full
// name ("/vla.v1.VmdbService/GetTeam"), over one channel: the HTTP
// transcoder's way into the real service code, so that auth and roles,
// limits, metrics and request-id logging are the gRPC ones.
//
// Each call blocks the calling thread (an HTTP worker) on a completion queue
// of its own; no other thread is involved.
#ifndef VLA_SERVICES_HTTP_GRPC_CALLER_H_
#define VLA_SERVICES_HTTP_GRPC_CALLER_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace vla::http {

// What the HTTP caller sends along as gRPC metadata.
struct CallMetadata {
  std::string authorization;  // the `Authorization` header as sent, or ""
  std::string request_id;     // sent as x-request-id
};

class GrpcCaller {
 public:
  explicit GrpcCaller(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), stub_(channel_) {}

  // A unary call; `response` is an empty message of the output type.
  absl::Status Unary(const std::string& method,
                     const google::protobuf::Message& request,
                     const CallMetadata& metadata,
                     google::protobuf::Message* response);

  // What a server stream reports; each callback returns false to cancel
  // the call (e.g. the HTTP client went away).
  struct StreamCallbacks {
    // Each response message, in order.
    std::function<bool(const google::protobuf::Message&)> on_message;
    // No message for `idle` since the call started or the last message or
    // idle call.
    std::function<bool()> on_idle;
  };

  // A server-streaming call: returns its final status (CANCELLED when a
  // callback cancelled it). `prototype` is a message of the output type.
  absl::Status ServerStream(const std::string& method,
                            const google::protobuf::Message& request,
                            const google::protobuf::Message& prototype,
                            const CallMetadata& metadata, absl::Duration idle,
                            const StreamCallbacks& callbacks);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_GRPC_CALLER_H_
