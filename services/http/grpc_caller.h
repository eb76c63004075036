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

  // Starts a server-streaming call; `prototype` is a message of the
  // output type.
  std::unique_ptr<class ServerStreamCall> ServerStream(
      const std::string& method, const google::protobuf::Message& request,
      const google::protobuf::Message& prototype, const CallMetadata& metadata);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
};

// One server-streaming call, read by one thread at a time: Next() waits for
// the next message or the end of the call. Destroying it cancels a call
// that has not ended.
class ServerStreamCall {
 public:
  enum class Event { kMessage, kIdle, kDone };

  ServerStreamCall(grpc::GenericStub* stub, const std::string& method,
                   const google::protobuf::Message& request,
                   const google::protobuf::Message& prototype,
                   const CallMetadata& metadata);
  ~ServerStreamCall();
  ServerStreamCall(const ServerStreamCall&) = delete;
  ServerStreamCall& operator=(const ServerStreamCall&) = delete;

  // kMessage: message() holds the next one; kIdle: none came within
  // `wait`; kDone: the call has ended with status() (also every later
  // call).
  Event Next(absl::Duration wait);
  const google::protobuf::Message& message() const { return *message_; }
  const absl::Status& status() const { return status_; }
  // Ends the call (CANCELLED) unless it has ended.
  void Cancel() { ctx_.TryCancel(); }

  // A private completion queue (internal; also used by GrpcCaller::Unary).
  class Queue;

 private:
  void Finish();

  grpc::ClientContext ctx_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  std::unique_ptr<google::protobuf::Message> message_;
  grpc::ByteBuffer buffer_;
  bool read_pending_ = false;
  bool done_ = false;
  absl::Status status_;
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_GRPC_CALLER_H_
