#include "services/http/grpc_caller.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "services/common/request_id.h"
#include "services/common/status_util.h"

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

// The calls' private completion queue: waits for one tag at a time.
class Queue {
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

void* Tag(int n) { return reinterpret_cast<void*>(static_cast<intptr_t>(n)); }

}  // namespace

absl::Status GrpcCaller::Unary(const std::string& method,
                               const google::protobuf::Message& request,
                               const CallMetadata& metadata,
                               google::protobuf::Message* response) {
  grpc::ClientContext ctx;
  AddMetadata(metadata, &ctx);
  Queue queue;
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

absl::Status GrpcCaller::ServerStream(
    const std::string& method, const google::protobuf::Message& request,
    const google::protobuf::Message& prototype, const CallMetadata& metadata,
    absl::Duration idle, const StreamCallbacks& callbacks) {
  grpc::ClientContext ctx;
  AddMetadata(metadata, &ctx);
  Queue queue;
  // A server stream is a bidi call with one request written.
  auto call = stub_.PrepareCall(&ctx, method, queue.get());
  grpc::Status status;
  const auto finish = [&] {
    call->Finish(&status, Tag(9));
    queue.Wait(Tag(9));
    return FromGrpcStatus(status);
  };
  call->StartCall(Tag(1));
  if (!queue.Wait(Tag(1))) return finish();
  call->WriteLast(Serialize(request), grpc::WriteOptions(), Tag(2));
  if (!queue.Wait(Tag(2))) return finish();
  std::unique_ptr<google::protobuf::Message> message(prototype.New());
  bool cancelled = false;
  for (;;) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, Tag(3));
    absl::Time deadline = absl::Now() + idle;
    std::optional<bool> read;
    while (!(read = queue.WaitUntil(Tag(3), deadline)).has_value()) {
      if (!cancelled && callbacks.on_idle && !callbacks.on_idle()) {
        ctx.TryCancel();
        cancelled = true;
      }
      deadline = absl::Now() + idle;
    }
    if (!*read) break;
    message->Clear();
    if (!Parse(buffer, message.get())) {
      ctx.TryCancel();
      (void)finish();
      return absl::InternalError(
          absl::StrCat(method, ": a stream message does not parse"));
    }
    if (!cancelled && !callbacks.on_message(*message)) {
      ctx.TryCancel();
      cancelled = true;
    }
  }
  absl::Status final_status = finish();
  if (cancelled) return absl::CancelledError("cancelled by the HTTP side");
  return final_status;
}

}  // namespace vla::http
