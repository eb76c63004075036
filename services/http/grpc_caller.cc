#include "services/http/grpc_caller.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "services/common/request_id.h"

namespace vla::http {
namespace {

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool Parse(const grpc::ByteBuffer& buffer, google::protobuf::Message* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out->ParseFromString(bytes);
}

void AddMetadata(const CallMetadata& metadata, grpc::ClientContext* ctx) {
  if (!metadata.authorization.empty()) {
    ctx->AddMetadata("authorization", metadata.authorization);
  }
  if (!metadata.request_id.empty()) {
    ctx->AddMetadata(kRequestIdKey, metadata.request_id);
  }
}

}  // namespace

// The calls' private completion queue: waits for one tag at a time.
class ServerStreamCall::Queue {
 public:
  ~Queue() {
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  grpc::CompletionQueue* get() { return &cq_; }
  // Waits for the operation started with `tag`; false when it failed.
  bool Wait(void* tag) {
    void* got = nullptr;
    bool ok = false;
    while (cq_.Next(&got, &ok)) {
      if (got == tag) return ok;
    }
    return false;
  }
  // Like Wait, up to `deadline`; nullopt on timeout.
  std::optional<bool> WaitUntil(void* tag, absl::Time deadline) {
    void* got = nullptr;
    bool ok = false;
    for (;;) {
      switch (cq_.AsyncNext(&got, &ok, absl::ToChronoTime(deadline))) {
        case grpc::CompletionQueue::TIMEOUT:
          return std::nullopt;
        case grpc::CompletionQueue::SHUTDOWN:
          return false;
        case grpc::CompletionQueue::GOT_EVENT:
          if (got == tag) return ok;
      }
    }
  }

 private:
  grpc::CompletionQueue cq_;
};

namespace {

void* Tag(int n) { return reinterpret_cast<void*>(static_cast<intptr_t>(n)); }

}  // namespace

absl::Status GrpcCaller::Unary(const std::string& method,
                               const google::protobuf::Message& request,
                               const CallMetadata& metadata,
                               google::protobuf::Message* response) {
  grpc::ClientContext ctx;
  AddMetadata(metadata, &ctx);
  ServerStreamCall::Queue queue;
  const grpc::ByteBuffer request_buffer = Serialize(request);
  auto call = stub_.PrepareUnaryCall(&ctx, method, request_buffer, queue.get());
  call->StartCall();
  grpc::ByteBuffer response_buffer;
  grpc::Status status;
  call->Finish(&response_buffer, &status, Tag(1));
  queue.Wait(Tag(1));
  if (!status.ok()) return FromGrpcStatus(status);
  if (!Parse(response_buffer, response)) {
    return absl::InternalError(
        absl::StrCat(method, ": the response does not parse"));
  }
  return absl::OkStatus();
}

std::unique_ptr<ServerStreamCall> GrpcCaller::ServerStream(
    const std::string& method, const google::protobuf::Message& request,
    const google::protobuf::Message& prototype, const CallMetadata& metadata) {
  return std::make_unique<ServerStreamCall>(&stub_, method, request, prototype,
                                            metadata);
}

ServerStreamCall::ServerStreamCall(grpc::GenericStub* stub,
                                   const std::string& method,
                                   const google::protobuf::Message& request,
                                   const google::protobuf::Message& prototype,
                                   const CallMetadata& metadata)
    : queue_(std::make_unique<Queue>()), message_(prototype.New()) {
  AddMetadata(metadata, &ctx_);
  // A server stream is a bidi call with one request written.
  call_ = stub->PrepareCall(&ctx_, method, queue_->get());
  call_->StartCall(Tag(1));
  if (!queue_->Wait(Tag(1))) {
    Finish();
    return;
  }
  call_->WriteLast(Serialize(request), grpc::WriteOptions(), Tag(2));
  if (!queue_->Wait(Tag(2))) Finish();
}

ServerStreamCall::~ServerStreamCall() {
  if (done_) return;
  ctx_.TryCancel();
  if (read_pending_) queue_->Wait(Tag(3));
  Finish();
}

void ServerStreamCall::Finish() {
  grpc::Status status;
  call_->Finish(&status, Tag(9));
  queue_->Wait(Tag(9));
  status_ = FromGrpcStatus(status);
  done_ = true;
}

ServerStreamCall::Event ServerStreamCall::Next(absl::Duration wait) {
  if (done_) return Event::kDone;
  if (!read_pending_) {
    call_->Read(&buffer_, Tag(3));
    read_pending_ = true;
  }
  const std::optional<bool> read =
      queue_->WaitUntil(Tag(3), absl::Now() + wait);
  if (!read.has_value()) return Event::kIdle;
  read_pending_ = false;
  if (!*read) {
    Finish();
    return Event::kDone;
  }
  message_->Clear();
  if (!Parse(buffer_, message_.get())) {
    ctx_.TryCancel();
    Finish();
    status_ = absl::InternalError("a stream message does not parse");
    return Event::kDone;
  }
  return Event::kMessage;
}

}  // namespace vla::http
