#include "clients/vlactl/apply.h"

#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "clients/vlactl/output.h"
#include "common/status_util.h"
#include "common/validation.h"
#include "vla/v1/resources.pb.h"

namespace vla::vlactl {
namespace {

using google::protobuf::Message;

struct Planned {
  Document* doc = nullptr;
  std::unique_ptr<Message> current;  // null: missing on the server
  google::protobuf::FieldMask mask;
};

// The JSON of one field of `m` ("-" when unset).
std::string FieldJson(const Message& m, const std::string& field) {
  std::unique_ptr<Message> only(m.New());
  const auto* f = m.GetDescriptor()->FindFieldByName(field);
  const auto* r = m.GetReflection();
  std::unique_ptr<Message> copy(m.New());
  copy->CopyFrom(m);
  r->SwapFields(copy.get(), only.get(), {f});
  std::string json = MessageJson(*only, false);
  const size_t colon = json.find(':');
  if (colon == std::string::npos) return "-";
  return json.substr(colon + 1, json.size() - colon - 2);
}

absl::Status WithWhere(const Document& doc, const grpc::Status& s) {
  return absl::Status(
      static_cast<absl::StatusCode>(s.error_code()),
      absl::StrCat(doc.Where(), ": ", doc.name(), ": ", s.error_message()));
}

}  // namespace

const char* ActionName(ApplyResult::Action action) {
  switch (action) {
    case ApplyResult::Action::kCreated:
      return "created";
    case ApplyResult::Action::kConfigured:
      return "configured";
    case ApplyResult::Action::kUnchanged:
      break;
  }
  return "unchanged";
}

absl::Status Apply(VmdbClient& vmdb, std::vector<Document> docs, bool dry_run,
                   const std::function<void(const ApplyResult&)>& report) {
  VLA_RETURN_IF_ERROR(CheckDocumentSet(docs));
  SortForApply(&docs);

  // What the server holds now.
  std::vector<Planned> plan;
  std::map<std::string, const Message*> desired;  // by name
  for (Document& doc : docs) {
    Planned p;
    p.doc = &doc;
    auto current = VmdbClient::NewResource(*doc.kind);
    const grpc::Status s = vmdb.Get(*doc.kind, doc.name(), current.get());
    if (s.ok()) {
      p.current = std::move(current);
      p.mask = ChangedFields(*doc.resource, *p.current);
    } else if (s.error_code() != grpc::StatusCode::NOT_FOUND) {
      return WithWhere(doc, s);
    }
    desired[doc.name()] = doc.resource.get();
    plan.push_back(std::move(p));
  }

  // Every reference resolves, to a document or to the server.
  std::map<std::string, std::unique_ptr<Message>> on_server;
  auto resolve = [&](const std::string& name,
                     const Message** out) -> grpc::Status {
    if (auto it = desired.find(name); it != desired.end()) {
      *out = it->second;
      return grpc::Status::OK;
    }
    if (auto it = on_server.find(name); it != on_server.end()) {
      *out = it->second.get();
      return grpc::Status::OK;
    }
    const KindInfo* kind = FindKind(name.substr(0, name.find('/')));
    if (kind == nullptr) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "not a resource name");
    }
    auto resource = VmdbClient::NewResource(*kind);
    grpc::Status s = vmdb.Get(*kind, name, resource.get());
    if (!s.ok()) return s;
    *out = resource.get();
    on_server[name] = std::move(resource);
    return grpc::Status::OK;
  };
  for (const Planned& p : plan) {
    for (const Reference& ref : p.doc->references) {
      const Message* target = nullptr;
      const grpc::Status s = resolve(ref.name, &target);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        return absl::InvalidArgumentError(absl::StrCat(
            p.doc->Where(), ": ", ref.field, ": ", ref.name,
            " does not exist (neither on the server nor in the documents "
            "applied)"));
      }
      if (!s.ok()) return WithWhere(*p.doc, s);
    }
    if (const auto* vla = dynamic_cast<const v1::Vla*>(p.doc->resource.get())) {
      std::vector<v1::Kvi> kvis;
      for (const v1::Clause& clause : vla->clauses()) {
        const Message* kvi = nullptr;
        const grpc::Status s = resolve(clause.kvi(), &kvi);
        if (!s.ok()) return WithWhere(*p.doc, s);  // checked above
        kvis.push_back(static_cast<const v1::Kvi&>(*kvi));
      }
      if (auto s = ValidateVlaClausesAgainstKvis(*vla, "vla", kvis); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(p.doc->Where(), ": ", s.message()));
      }
    }
  }

  // Write, in order.
  for (Planned& p : plan) {
    const Document& doc = *p.doc;
    ApplyResult result;
    result.name = doc.name();
    auto out = VmdbClient::NewResource(*doc.kind);
    if (p.current == nullptr) {
      result.action = ApplyResult::Action::kCreated;
      if (!dry_run) {
        const grpc::Status s =
            vmdb.Create(*doc.kind, doc.id, *doc.resource, out.get());
        if (!s.ok()) return WithWhere(doc, s);
      }
    } else if (p.mask.paths().empty()) {
      result.action = ApplyResult::Action::kUnchanged;
    } else {
      result.action = ApplyResult::Action::kConfigured;
      for (const std::string& field : p.mask.paths()) {
        result.changes.push_back(
            absl::StrCat(field, ": ", FieldJson(*p.current, field), " -> ",
                         FieldJson(*doc.resource, field)));
      }
      if (!dry_run) {
        std::unique_ptr<Message> update(doc.resource->New());
        update->CopyFrom(*doc.resource);
        const auto* etag = update->GetDescriptor()->FindFieldByName("etag");
        update->GetReflection()->SetString(
            update.get(), etag,
            p.current->GetReflection()->GetString(*p.current, etag));
        const grpc::Status s =
            vmdb.Update(*doc.kind, *update, p.mask, out.get());
        if (!s.ok()) return WithWhere(doc, s);
      }
    }
    report(result);
  }
  return absl::OkStatus();
}

}  // namespace vla::vlactl
