#include "clients/vlactl/vmdb_client.h"

#include <functional>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/empty.pb.h"

namespace vla::vlactl {
namespace {

using google::protobuf::Message;
using Stub = v1::VmdbService::Stub;
using UnaryFn = std::function<grpc::Status(Stub&, grpc::ClientContext*,
                                           const Message&, Message*)>;

template <typename Req, typename Resp>
UnaryFn Wrap(grpc::Status (Stub::*fn)(grpc::ClientContext*, const Req&,
                                      Resp*)) {
  return [fn](Stub& stub, grpc::ClientContext* ctx, const Message& req,
              Message* resp) {
    return (stub.*fn)(ctx, static_cast<const Req&>(req),
                      static_cast<Resp*>(resp));
  };
}

#define VLA_KIND_METHODS(K, KS)                                           \
  {"Create" #K, Wrap(&Stub::Create##K)}, {"Get" #K, Wrap(&Stub::Get##K)}, \
      {"List" #KS, Wrap(&Stub::List##KS)},                                \
      {"Update" #K, Wrap(&Stub::Update##K)}, {                            \
    "Delete" #K, Wrap(&Stub::Delete##K)                                   \
  }

const std::map<std::string, UnaryFn>& Methods() {
  static const auto* methods = new std::map<std::string, UnaryFn>{
      VLA_KIND_METHODS(Team, Teams),
      VLA_KIND_METHODS(ValueStream, ValueStreams),
      VLA_KIND_METHODS(Kvi, Kvis),
      VLA_KIND_METHODS(Vla, Vlas),
      VLA_KIND_METHODS(Objective, Objectives),
  };
  return *methods;
}

// A new message of the request or response type "vla.v1.<type>".
std::unique_ptr<Message> NewMessage(const std::string& type) {
  const auto* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          absl::StrCat("vla.v1.", type));
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(d)
          ->New());
}

void SetString(Message* m, const char* field, const std::string& value) {
  m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName(field),
                                value);
}

Message* MutableMessage(Message* m, const std::string& field) {
  return m->GetReflection()->MutableMessage(
      m, m->GetDescriptor()->FindFieldByName(field));
}

std::string RequestId() {
  std::random_device rd;
  return absl::StrFormat("vlactl-%08x%08x%08x", rd(), rd(), rd());
}

}  // namespace

VmdbClient::VmdbClient(std::shared_ptr<grpc::Channel> channel,
                       client::ConnectionOptions options)
    : stub_(v1::VmdbService::NewStub(std::move(channel))),
      options_(std::move(options)) {}

std::unique_ptr<Message> VmdbClient::NewResource(const KindInfo& kind) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(kind.descriptor)
          ->New());
}

grpc::Status VmdbClient::Call(const std::string& method, const Message& request,
                              Message* response, bool retry) {
  const UnaryFn& fn = Methods().at(method);
  if (!retry) {
    auto ctx = client::MakeContext(options_);
    return fn(*stub_, ctx.get(), request, response);
  }
  return client::CallWithRetry(options_, client::RetryPolicy(),
                               [&](grpc::ClientContext* ctx) {
                                 return fn(*stub_, ctx, request, response);
                               });
}

grpc::Status VmdbClient::Get(const KindInfo& kind, const std::string& name,
                             Message* out) {
  auto req = NewMessage(absl::StrCat("Get", kind.kind, "Request"));
  SetString(req.get(), "name", name);
  return Call(absl::StrCat("Get", kind.kind), *req, out, true);
}

grpc::Status VmdbClient::Create(const KindInfo& kind, const std::string& id,
                                const Message& resource, Message* out) {
  auto req = NewMessage(absl::StrCat("Create", kind.kind, "Request"));
  SetString(req.get(), absl::StrCat(kind.singular, "_id").c_str(), id);
  SetString(req.get(), "request_id", RequestId());
  MutableMessage(req.get(), kind.singular)->CopyFrom(resource);
  return Call(absl::StrCat("Create", kind.kind), *req, out, true);
}

grpc::Status VmdbClient::Update(const KindInfo& kind, const Message& resource,
                                const google::protobuf::FieldMask& mask,
                                Message* out) {
  auto req = NewMessage(absl::StrCat("Update", kind.kind, "Request"));
  MutableMessage(req.get(), kind.singular)->CopyFrom(resource);
  MutableMessage(req.get(), "update_mask")->CopyFrom(mask);
  return Call(absl::StrCat("Update", kind.kind), *req, out, false);
}

grpc::Status VmdbClient::Delete(const KindInfo& kind, const std::string& name,
                                const std::string& etag) {
  auto req = NewMessage(absl::StrCat("Delete", kind.kind, "Request"));
  SetString(req.get(), "name", name);
  SetString(req.get(), "etag", etag);
  google::protobuf::Empty empty;
  return Call(absl::StrCat("Delete", kind.kind), *req, &empty, false);
}

grpc::Status VmdbClient::List(const KindInfo& kind, const std::string& filter,
                              std::vector<std::unique_ptr<Message>>* out) {
  const std::string kinds = absl::StrCat(kind.kind, "s");
  std::string page_token;
  do {
    auto req = NewMessage(absl::StrCat("List", kinds, "Request"));
    auto resp = NewMessage(absl::StrCat("List", kinds, "Response"));
    SetString(req.get(), "filter", filter);
    SetString(req.get(), "page_token", page_token);
    req->GetReflection()->SetInt32(
        req.get(), req->GetDescriptor()->FindFieldByName("page_size"), 500);
    grpc::Status s = Call(absl::StrCat("List", kinds), *req, resp.get(), true);
    if (!s.ok()) return s;
    const auto* items = resp->GetDescriptor()->FindFieldByName(kind.plural);
    const auto* r = resp->GetReflection();
    for (int i = 0; i < r->FieldSize(*resp, items); ++i) {
      std::unique_ptr<Message> item(NewResource(kind));
      item->CopyFrom(r->GetRepeatedMessage(*resp, items, i));
      out->push_back(std::move(item));
    }
    page_token = r->GetString(
        *resp, resp->GetDescriptor()->FindFieldByName("next_page_token"));
  } while (!page_token.empty());
  return grpc::Status::OK;
}

}  // namespace vla::vlactl
