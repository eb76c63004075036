#include "services/vmdb/vmdb_core.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/common/filter.h"
#include "services/vmdb/resource_kinds.h"

namespace vla::vmdb {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FieldMask;
using google::protobuf::util::FieldMaskUtil;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxRequestId = 128;
constexpr int kScanBatch = 256;

const ResourceKind& KindOrDie(const Descriptor* d) {
  const ResourceKind* kind = FindKind(d);
  if (kind == nullptr) {
    // A programming error: the service passes only resource messages.
    std::abort();
  }
  return *kind;
}

absl::Status ParseStored(const std::string& data,
                         google::protobuf::Message* out) {
  if (!out->ParseFromString(data)) {
    return absl::DataLossError("stored resource does not parse");
  }
  return absl::OkStatus();
}

absl::Status NotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat(name, " not found"));
}

absl::Status CheckEtag(absl::string_view given,
                       const google::protobuf::Message& current) {
  if (!given.empty() && given != GetEtag(current)) {
    return absl::AbortedError(
        absl::StrCat(GetName(current), " changed since it was read (etag \"",
                     given, "\" is stale, current is \"", GetEtag(current),
                     "\"); read it again and retry"));
  }
  return absl::OkStatus();
}

// The update mask in effect: the given paths, checked, or every writable
// top-level field for an empty mask or "*".
absl::StatusOr<FieldMask> EffectiveMask(const Descriptor* d,
                                        const FieldMask& mask) {
  FieldMask out;
  const bool all = mask.paths_size() == 0 ||
                   (mask.paths_size() == 1 && mask.paths(0) == "*");
  if (all) {
    for (int i = 0; i < d->field_count(); ++i) {
      if (!IsOutputOnlyField(d->field(i)->name())) {
        out.add_paths(d->field(i)->name());
      }
    }
    return out;
  }
  for (const std::string& path : mask.paths()) {
    std::vector<const FieldDescriptor*> fields;
    if (!FieldMaskUtil::GetFieldDescriptors(d, path, &fields)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: \"", path, "\" is not a field of ", d->name()));
    }
    const std::string top = path.substr(0, path.find('.'));
    if (IsOutputOnlyField(top)) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: \"", path, "\" is output only"));
    }
    out.add_paths(path);
  }
  return out;
}

}  // namespace

VmdbCore::VmdbCore(std::unique_ptr<VmdbStore> store, const Clock* clock)
    : store_(std::move(store)), clock_(clock), page_tokens_(store_->secret()) {}

// Validates `resource` and everything it refers to; on success `refs` holds
// its outgoing references.
static absl::Status ValidateWithReferences(
    VmdbStore& store, const ResourceKind& kind,
    const google::protobuf::Message& resource, std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(kind.validate(resource, refs));
  std::map<std::string, std::unique_ptr<google::protobuf::Message>> resolved;
  for (const Reference& ref : *refs) {
    if (resolved.count(ref.name) != 0) continue;
    VLA_ASSIGN_OR_RETURN(std::optional<std::string> data, store.Get(ref.name));
    if (!data.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ref.field, ": ", ref.name, " does not exist"));
    }
    const ResourceKind* target = FindKindForName(ref.name);
    std::unique_ptr<google::protobuf::Message> m(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(target->descriptor)
            ->New());
    VLA_RETURN_IF_ERROR(ParseStored(*data, m.get()));
    resolved.emplace(ref.name, std::move(m));
  }
  if (kind.check_references) {
    return kind.check_references(
        resource,
        [&](const std::string& name) -> const google::protobuf::Message* {
          auto it = resolved.find(name);
          return it == resolved.end() ? nullptr : it->second.get();
        });
  }
  return absl::OkStatus();
}

absl::Status VmdbCore::Create(absl::string_view id,
                              const google::protobuf::Message& resource,
                              absl::string_view request_id,
                              google::protobuf::Message* out) {
  const ResourceKind& kind = KindOrDie(resource.GetDescriptor());
  VLA_RETURN_IF_ERROR(ValidateId(absl::StrCat(kind.singular, "_id"), id));
  if (request_id.size() > kMaxRequestId) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: longer than ", kMaxRequestId, " characters"));
  }
  const std::string name = absl::StrCat(kind.collection, "/", id);
  const std::string request_key =
      request_id.empty() ? "" : absl::StrCat(kind.collection, "\n", request_id);

  std::lock_guard<std::mutex> lock(write_mu_);
  if (!request_key.empty()) {
    VLA_ASSIGN_OR_RETURN(std::optional<std::string> first,
                         store_->FindRequest(request_key));
    if (first.has_value()) return ParseStored(*first, out);
  }
  out->CopyFrom(resource);
  ClearOutputFields(out);
  std::vector<Reference> refs;
  VLA_RETURN_IF_ERROR(ValidateWithReferences(*store_, kind, *out, &refs));
  VLA_ASSIGN_OR_RETURN(std::optional<std::string> existing, store_->Get(name));
  if (existing.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat(name, " already exists"));
  }
  const auto now = ToProtoTime(clock_->Now());
  SetOutputFields(out, name, now, now, 1);
  Mutation m{v1::CHANGE_KIND_CREATED,  kind.collection, std::string(id),
             out->SerializeAsString(), std::move(refs), request_key};
  VLA_ASSIGN_OR_RETURN(int64_t revision, store_->Apply(m));
  Notify(revision);
  return absl::OkStatus();
}

absl::Status VmdbCore::Get(absl::string_view name,
                           google::protobuf::Message* out) {
  const ResourceKind& kind = KindOrDie(out->GetDescriptor());
  VLA_RETURN_IF_ERROR(ParseName("name", name, kind.collection).status());
  VLA_ASSIGN_OR_RETURN(std::optional<std::string> data, store_->Get(name));
  if (!data.has_value()) return NotFound(name);
  return ParseStored(*data, out);
}

absl::Status VmdbCore::List(int page_size, absl::string_view page_token,
                            absl::string_view filter_text,
                            google::protobuf::Message* response) {
  const Descriptor* rd = response->GetDescriptor();
  const FieldDescriptor* items_field = rd->FindFieldByNumber(1);
  const FieldDescriptor* token_field = rd->FindFieldByNumber(2);
  const ResourceKind& kind = KindOrDie(items_field->message_type());
  if (page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  VLA_ASSIGN_OR_RETURN(Filter filter,
                       Filter::Parse(filter_text, kind.filter_fields));
  const std::string scope = absl::StrCat(kind.collection, "\n", filter_text);
  VLA_ASSIGN_OR_RETURN(std::string cursor,
                       page_tokens_.Decode(scope, page_token));

  const auto* reflection = response->GetReflection();
  int matched = 0;
  std::string last_id;
  while (true) {
    VLA_ASSIGN_OR_RETURN(std::vector<StoredResource> batch,
                         store_->List(kind.collection, cursor, kScanBatch));
    for (StoredResource& row : batch) {
      cursor = row.id;
      google::protobuf::Message* item =
          reflection->AddMessage(response, items_field);
      VLA_RETURN_IF_ERROR(ParseStored(row.data, item));
      const bool match = filter.Matches([&](absl::string_view field) {
        return kind.filter_values(*item, field);
      });
      if (!match) {
        reflection->RemoveLast(response, items_field);
        continue;
      }
      if (matched == page_size) {
        // One more match exists: the page is full and another follows.
        reflection->RemoveLast(response, items_field);
        reflection->SetString(response, token_field,
                              page_tokens_.Encode(scope, last_id));
        return absl::OkStatus();
      }
      ++matched;
      last_id = row.id;
    }
    if (static_cast<int>(batch.size()) < kScanBatch) return absl::OkStatus();
  }
}

absl::Status VmdbCore::Update(const google::protobuf::Message& resource,
                              const FieldMask& mask,
                              google::protobuf::Message* out) {
  const ResourceKind& kind = KindOrDie(resource.GetDescriptor());
  const std::string name = GetName(resource);
  VLA_RETURN_IF_ERROR(
      ParseName(absl::StrCat(kind.singular, ".name"), name, kind.collection)
          .status());
  VLA_ASSIGN_OR_RETURN(FieldMask effective,
                       EffectiveMask(kind.descriptor, mask));

  std::lock_guard<std::mutex> lock(write_mu_);
  VLA_ASSIGN_OR_RETURN(std::optional<std::string> data, store_->Get(name));
  if (!data.has_value()) return NotFound(name);
  VLA_RETURN_IF_ERROR(ParseStored(*data, out));
  VLA_RETURN_IF_ERROR(CheckEtag(GetEtag(resource), *out));
  std::unique_ptr<google::protobuf::Message> current(out->New());
  current->CopyFrom(*out);

  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(resource, effective, options, out);

  std::vector<Reference> refs;
  VLA_RETURN_IF_ERROR(ValidateWithReferences(*store_, kind, *out, &refs));
  if (google::protobuf::util::MessageDifferencer::Equals(*out, *current)) {
    return absl::OkStatus();  // Nothing changed: no new revision.
  }
  const auto* reflection = out->GetReflection();
  google::protobuf::Timestamp create_time;
  create_time.CopyFrom(reflection->GetMessage(
      *out, kind.descriptor->FindFieldByName("create_time")));
  SetOutputFields(out, name, create_time, ToProtoTime(clock_->Now()),
                  GetRevision(*current) + 1);
  const std::string id = name.substr(kind.collection.size() + 1);
  Mutation m{v1::CHANGE_KIND_UPDATED,  kind.collection, id,
             out->SerializeAsString(), std::move(refs), ""};
  VLA_ASSIGN_OR_RETURN(int64_t revision, store_->Apply(m));
  Notify(revision);
  return absl::OkStatus();
}

absl::Status VmdbCore::Delete(const Descriptor* descriptor,
                              absl::string_view name, absl::string_view etag) {
  const ResourceKind& kind = KindOrDie(descriptor);
  VLA_ASSIGN_OR_RETURN(std::string id,
                       ParseName("name", name, kind.collection));

  std::lock_guard<std::mutex> lock(write_mu_);
  VLA_ASSIGN_OR_RETURN(std::optional<std::string> data, store_->Get(name));
  if (!data.has_value()) return NotFound(name);
  std::unique_ptr<google::protobuf::Message> current(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(descriptor)
          ->New());
  VLA_RETURN_IF_ERROR(ParseStored(*data, current.get()));
  VLA_RETURN_IF_ERROR(CheckEtag(etag, *current));
  constexpr int kShown = 5;
  VLA_ASSIGN_OR_RETURN(std::vector<Reference> users,
                       store_->Referrers(name, kShown + 1));
  if (!users.empty()) {
    std::vector<std::string> shown;
    for (int i = 0; i < std::min<int>(kShown, users.size()); ++i) {
      shown.push_back(absl::StrCat(users[i].name, " (", users[i].field, ")"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat(name, " is still used by ", absl::StrJoin(shown, ", "),
                     users.size() > kShown ? " and others" : "",
                     "; remove those references first"));
  }
  Mutation m{v1::CHANGE_KIND_DELETED, kind.collection, id, *data, {}, ""};
  VLA_ASSIGN_OR_RETURN(int64_t revision, store_->Apply(m));
  Notify(revision);
  return absl::OkStatus();
}

absl::Status VmdbCore::ListVlaRevisions(
    absl::string_view name, v1::ListVlaRevisionsResponse* response) {
  VLA_RETURN_IF_ERROR(ParseName("name", name, "vlas").status());
  VLA_ASSIGN_OR_RETURN(std::vector<std::string> versions,
                       store_->History(name));
  if (versions.empty()) return NotFound(name);
  for (const std::string& data : versions) {
    VLA_RETURN_IF_ERROR(ParseStored(data, response->add_revisions()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Change>> VmdbCore::ChangesSince(
    int64_t since_revision, int limit) {
  if (since_revision < 0) {
    return absl::InvalidArgumentError("since_revision: must not be negative");
  }
  VLA_ASSIGN_OR_RETURN(std::vector<StoredChange> stored,
                       store_->Changes(since_revision, limit));
  std::vector<v1::Change> changes;
  changes.reserve(stored.size());
  for (const StoredChange& s : stored) {
    v1::Change& c = changes.emplace_back();
    c.set_revision(s.revision);
    c.set_kind(s.kind);
    c.set_name(s.name);
    const ResourceKind* kind = FindKindForName(s.name);
    if (kind == nullptr)
      return absl::DataLossError("unknown kind in change log");
    const FieldDescriptor* field =
        v1::Change::descriptor()->FindFieldByName(kind->singular);
    VLA_RETURN_IF_ERROR(
        ParseStored(s.data, c.GetReflection()->MutableMessage(&c, field)));
  }
  return changes;
}

bool VmdbCore::Subscribe(ChangeListener* listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  if (closed_) return false;
  listeners_.insert(listener);
  return true;
}

void VmdbCore::Unsubscribe(ChangeListener* listener) {
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    listeners_.erase(listener);
  }
  listeners_cv_.notify_all();
}

void VmdbCore::CloseSubscriptions(absl::Duration wait) {
  std::unique_lock<std::mutex> lock(listeners_mu_);
  closed_ = true;
  for (ChangeListener* l : listeners_) l->OnClosed();
  listeners_cv_.wait_for(lock, absl::ToChronoMilliseconds(wait),
                         [this] { return listeners_.empty(); });
}

size_t VmdbCore::subscriber_count() {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  return listeners_.size();
}

void VmdbCore::Notify(int64_t revision) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (ChangeListener* l : listeners_) l->OnCommitted(revision);
}

}  // namespace vla::vmdb
