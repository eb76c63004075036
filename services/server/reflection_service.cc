#include "services/server/reflection_service.h"

#include <set>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace vla {
namespace {

using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

// Adds `file` and, transitively, its dependencies (each once).
void AddFileAndDeps(const google::protobuf::FileDescriptor* file,
                    std::set<std::string>* seen,
                    grpc::reflection::v1alpha::FileDescriptorResponse* out) {
  if (!seen->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileAndDeps(file->dependency(i), seen, out);
  }
}

void SetError(ServerReflectionResponse* resp, grpc::StatusCode code,
              const std::string& message) {
  resp->mutable_error_response()->set_error_code(code);
  resp->mutable_error_response()->set_error_message(message);
}

class Reactor final : public grpc::ServerBidiReactor<ServerReflectionRequest,
                                                     ServerReflectionResponse> {
 public:
  explicit Reactor(const ReflectionService* service) : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    response_ = service_->Answer(request_);
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNKNOWN, "write failed"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  const ReflectionService* service_;
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
};

}  // namespace

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext*) {
  return new Reactor(this);
}

ServerReflectionResponse ReflectionService::Answer(
    const ServerReflectionRequest& request) const {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  ServerReflectionResponse resp;
  resp.set_valid_host(request.host());
  *resp.mutable_original_request() = request;
  std::set<std::string> seen;
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        resp.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case ServerReflectionRequest::kFileByFilename: {
      const auto* file = pool->FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        SetError(&resp, grpc::StatusCode::NOT_FOUND, "file not found");
      } else {
        AddFileAndDeps(file, &seen, resp.mutable_file_descriptor_response());
      }
      break;
    }
    case ServerReflectionRequest::kFileContainingSymbol: {
      const auto* file =
          pool->FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        SetError(&resp, grpc::StatusCode::NOT_FOUND, "symbol not found");
      } else {
        AddFileAndDeps(file, &seen, resp.mutable_file_descriptor_response());
      }
      break;
    }
    case ServerReflectionRequest::kFileContainingExtension: {
      const auto* type = pool->FindMessageTypeByName(
          request.file_containing_extension().containing_type());
      const auto* ext =
          type == nullptr
              ? nullptr
              : pool->FindExtensionByNumber(
                    type,
                    request.file_containing_extension().extension_number());
      if (ext == nullptr) {
        SetError(&resp, grpc::StatusCode::NOT_FOUND, "extension not found");
      } else {
        AddFileAndDeps(ext->file(), &seen,
                       resp.mutable_file_descriptor_response());
      }
      break;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const auto* type =
          pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        SetError(&resp, grpc::StatusCode::NOT_FOUND, "type not found");
      } else {
        std::vector<const google::protobuf::FieldDescriptor*> exts;
        pool->FindAllExtensions(type, &exts);
        auto* out = resp.mutable_all_extension_numbers_response();
        out->set_base_type_name(type->full_name());
        for (const auto* e : exts) out->add_extension_number(e->number());
      }
      break;
    }
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      SetError(&resp, grpc::StatusCode::INVALID_ARGUMENT,
               "no message_request set");
      break;
  }
  return resp;
}

}  // namespace vla
