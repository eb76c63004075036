// Fuzzes VMDB request validation: the input is a selector byte (which of the
// five resource kinds) followed by a serialized Create<Kind>Request. The
// request is checked the way VmdbCore checks a create: the id, the writable
// fields, the references (against default instances of the referenced
// resources), and the filter values of the resource are computed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/names.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "services/vmdb/resource_kinds.h"
#include "vla/v1/vmdb.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::Message;
using google::protobuf::MessageFactory;

// The Create<Kind>Request message of a kind, from the generated pool (which
// holds vmdb.proto once its code is linked in: the reference below does it).
const Descriptor* CreateRequestOf(const vla::vmdb::ResourceKind& kind) {
  (void)vla::v1::CreateTeamRequest::descriptor();
  return DescriptorPool::generated_pool()->FindMessageTypeByName(
      absl::StrCat("vla.v1.Create", kind.descriptor->name(), "Request"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& kinds = vla::vmdb::AllKinds();
  const vla::vmdb::ResourceKind& kind = *kinds[data[0] % kinds.size()];
  const Descriptor* request_type = CreateRequestOf(kind);
  if (request_type == nullptr) __builtin_trap();  // the API changed
  std::unique_ptr<Message> request(
      MessageFactory::generated_factory()->GetPrototype(request_type)->New());
  if (!request->ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;

  // Field 1 is the id, field 2 the resource (vmdb.proto).
  const auto* reflection = request->GetReflection();
  const std::string id =
      reflection->GetString(*request, request_type->FindFieldByNumber(1));
  const Message& resource =
      reflection->GetMessage(*request, request_type->FindFieldByNumber(2));
  if (resource.GetDescriptor() != kind.descriptor) __builtin_trap();

  (void)vla::ValidateId(absl::StrCat(kind.singular, "_id"), id);
  std::unique_ptr<Message> copy(resource.New());
  copy->CopyFrom(resource);
  vla::vmdb::ClearOutputFields(copy.get());

  std::vector<vla::Reference> refs;
  const bool valid = kind.validate(*copy, &refs).ok();
  for (const vla::FilterField& field : kind.filter_fields) {
    (void)kind.filter_values(*copy, field.name);
  }
  if (!valid || !kind.check_references) return 0;

  // Every reference resolves to a default instance of its kind.
  std::vector<std::unique_ptr<Message>> resolved;
  auto lookup = [&](const std::string& name) -> const Message* {
    const vla::vmdb::ResourceKind* target = vla::vmdb::FindKindForName(name);
    if (target == nullptr) return nullptr;
    resolved.emplace_back(MessageFactory::generated_factory()
                              ->GetPrototype(target->descriptor)
                              ->New());
    return resolved.back().get();
  };
  (void)kind.check_references(*copy, lookup);
  return 0;
}
