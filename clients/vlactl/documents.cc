#include "clients/vlactl/documents.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "clients/vlactl/yaml_message.h"
#include "common/enum_names.h"
#include "common/names.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "vla/v1/resources.pb.h"

namespace vla::vlactl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Lower case without '-' and '_', for matching what people type.
std::string Fold(absl::string_view word) {
  std::string out;
  for (char c : word) {
    if (c == '-' || c == '_') continue;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// yaml-cpp 0.7 loops for ever, emitting events without consuming input,
// when a document has a stray ',' where a node belongs (", a" or
// "{a: 1}, b"; found by tests/fuzz/apply_fuzzer). A first pass counts the
// parser's events and stops it past a bound no valid text reaches (about one
// event per character at most).
class EventBudget final : public YAML::EventHandler {
 public:
  struct Exceeded {};
  explicit EventBudget(size_t text_size) : left_(8 * text_size + 64) {}
  void OnDocumentStart(const YAML::Mark&) override { Spend(); }
  void OnDocumentEnd() override { Spend(); }
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { Spend(); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { Spend(); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Spend();
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Spend();
  }
  void OnSequenceEnd() override { Spend(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Spend();
  }
  void OnMapEnd() override { Spend(); }

 private:
  void Spend() {
    if (left_-- == 0) throw Exceeded();
  }
  size_t left_;
};

// False if yaml-cpp would not finish parsing `text` (its own syntax errors
// are left to the real parse, which reports them).
bool ParsesInBoundedTime(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  EventBudget budget(text.size());
  try {
    while (parser.HandleNextDocument(budget)) {
    }
  } catch (const EventBudget::Exceeded&) {
    return false;
  } catch (const YAML::Exception&) {
  }
  return true;
}

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// An error at a node of a document: "line L: FIELD: WHY".
absl::Status FieldError(const YAML::Node& node, absl::string_view field,
                        absl::string_view why) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return Invalid(absl::StrCat(field, ": ", why));
  return Invalid(absl::StrCat("line ", mark.line + 1, ": ", field, ": ", why));
}

absl::StatusOr<google::protobuf::Duration> ParseDurationText(
    absl::string_view text) {
  VLA_ASSIGN_OR_RETURN(const absl::Duration d, ParseHumanDuration(text));
  return ToProtoDuration(d);
}

std::string ShortEnumNames(const google::protobuf::EnumDescriptor* e) {
  std::vector<std::string> names;
  for (int i = 1; i < e->value_count(); ++i) {
    names.push_back(ShortEnumName(e, e->value(i)->number()));
  }
  return absl::StrJoin(names, ", ");
}

absl::Status FillMessage(const YAML::Node& node, Message* msg,
                         const std::string& path, bool top_level);

// How a document writes the resource's own `kind` field: "team_kind".
std::string OwnKindKey(absl::string_view singular) {
  return absl::StrCat(singular, "_kind");
}

// Sets `f` of `msg` (or appends to it, when repeated) from a node.
absl::Status SetField(const YAML::Node& node, Message* msg,
                      const FieldDescriptor* f, const std::string& path) {
  const Reflection* r = msg->GetReflection();
  const bool rep = f->is_repeated();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Descriptor* d = f->message_type();
    Message* sub = rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
    if (d == google::protobuf::Duration::descriptor() ||
        d == google::protobuf::Timestamp::descriptor()) {
      if (!node.IsScalar()) {
        return FieldError(node, path, "expected a string");
      }
      if (d == google::protobuf::Duration::descriptor()) {
        auto parsed = ParseDurationText(node.Scalar());
        if (!parsed.ok()) {
          return FieldError(node, path, parsed.status().message());
        }
        sub->CopyFrom(*parsed);
      } else {
        auto parsed = ParseTimestampText(node.Scalar());
        if (!parsed.ok()) {
          return FieldError(node, path, parsed.status().message());
        }
        sub->CopyFrom(*parsed);
      }
      return absl::OkStatus();
    }
    return FillMessage(node, sub, path, false);
  }
  if (!node.IsScalar()) {
    return FieldError(node, path, "expected a single value");
  }
  const std::string& text = node.Scalar();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(msg, f, text) : r->SetString(msg, f, text);
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(text, &v)) {
        return FieldError(node, path,
                          absl::StrCat("\"", text, "\" is not a number"));
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(msg, f, v) : r->SetFloat(msg, f, v);
      } else {
        rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) {
        return FieldError(
            node, path, absl::StrCat("\"", text, "\" is not a 32-bit integer"));
      }
      rep ? r->AddInt32(msg, f, v) : r->SetInt32(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) {
        return FieldError(node, path,
                          absl::StrCat("\"", text, "\" is not an integer"));
      }
      rep ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(text, &v)) {
        return FieldError(
            node, path,
            absl::StrCat("\"", text, "\" is not an unsigned integer"));
      }
      rep ? r->AddUInt32(msg, f, v) : r->SetUInt32(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(text, &v)) {
        return FieldError(
            node, path,
            absl::StrCat("\"", text, "\" is not an unsigned integer"));
      }
      rep ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (text == "true") {
        v = true;
      } else if (text == "false") {
        v = false;
      } else {
        return FieldError(node, path,
                          absl::StrCat("\"", text, "\" is not true or false"));
      }
      rep ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* v = FindEnumValue(f->enum_type(), text);
      if (v == nullptr) {
        return FieldError(node, path,
                          absl::StrCat("unknown value \"", text, "\" (one of ",
                                       ShortEnumNames(f->enum_type()), ")"));
      }
      rep ? r->AddEnum(msg, f, v) : r->SetEnum(msg, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return FieldError(node, path, "unsupported field type");
}

// Fills `msg` from a mapping node; at the top level, `kind` and `id` are
// skipped (the caller reads them) and output-only fields are ignored.
absl::Status FillMessage(const YAML::Node& node, Message* msg,
                         const std::string& path, bool top_level) {
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) {
    return FieldError(node, path, "expected a mapping of fields");
  }
  const Descriptor* d = msg->GetDescriptor();
  const Reflection* r = msg->GetReflection();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return FieldError(entry.first, path, "a field name must be a string");
    }
    const std::string& key = entry.first.Scalar();
    if (top_level && (key == "kind" || key == "id")) continue;
    const FieldDescriptor* f = d->FindFieldByName(key);
    // A document's `kind` is its resource type, so the resource's own
    // `kind` field (Team, Objective) is written `team_kind`,
    // `objective_kind`.
    if (top_level && key == OwnKindKey(path)) f = d->FindFieldByName("kind");
    if (f == nullptr) f = d->FindFieldByCamelcaseName(key);
    const std::string field_path =
        path.empty() ? key : absl::StrCat(path, ".", key);
    if (f == nullptr) {
      std::vector<std::string> known;
      for (int i = 0; i < d->field_count(); ++i) {
        const std::string& n = d->field(i)->name();
        if (!top_level) {
          known.push_back(n);
        } else if (!IsOutputOnlyField(n)) {
          known.push_back(n == "kind" ? OwnKindKey(path) : n);
        }
      }
      return FieldError(entry.first, field_path,
                        absl::StrCat("unknown field (fields of ", d->name(),
                                     ": ", absl::StrJoin(known, ", "), ")"));
    }
    if (top_level && IsOutputOnlyField(f->name())) continue;
    const YAML::Node& value = entry.second;
    if (value.IsNull()) continue;
    if (const auto* oneof = f->real_containing_oneof();
        oneof != nullptr && r->HasOneof(*msg, oneof)) {
      std::vector<std::string> names;
      for (int i = 0; i < oneof->field_count(); ++i) {
        names.push_back(oneof->field(i)->name());
      }
      return FieldError(
          entry.first, field_path,
          absl::StrCat("set only one of ", absl::StrJoin(names, ", ")));
    }
    if (f->is_map()) {
      if (!value.IsMap()) {
        return FieldError(value, field_path, "expected a mapping");
      }
      const FieldDescriptor* key_field = f->message_type()->map_key();
      const FieldDescriptor* value_field = f->message_type()->map_value();
      for (const auto& item : value) {
        Message* e = r->AddMessage(msg, f);
        const std::string item_path =
            absl::StrCat(field_path, "[\"", item.first.Scalar(), "\"]");
        if (auto s = SetField(item.first, e, key_field, item_path); !s.ok()) {
          return s;
        }
        if (auto s = SetField(item.second, e, value_field, item_path);
            !s.ok()) {
          return s;
        }
      }
    } else if (f->is_repeated()) {
      if (!value.IsSequence()) {
        return FieldError(value, field_path, "expected a list");
      }
      for (size_t i = 0; i < value.size(); ++i) {
        if (auto s = SetField(value[i], msg, f,
                              absl::StrCat(field_path, "[", i, "]"));
            !s.ok()) {
          return s;
        }
      }
    } else if (auto s = SetField(value, msg, f, field_path); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// The VMDB's own checks of one resource (errors name `singular.field`).
absl::Status ValidateResource(const Message& m, const KindInfo& kind,
                              std::vector<Reference>* refs) {
  const absl::string_view p = kind.singular;
  if (auto* t = dynamic_cast<const v1::Team*>(&m)) {
    return ValidateTeam(*t, p, refs);
  }
  if (auto* vs = dynamic_cast<const v1::ValueStream*>(&m)) {
    return ValidateValueStream(*vs, p, refs);
  }
  if (auto* k = dynamic_cast<const v1::Kvi*>(&m)) {
    return ValidateKvi(*k, p, refs);
  }
  if (auto* v = dynamic_cast<const v1::Vla*>(&m)) {
    return ValidateVla(*v, p, refs);
  }
  if (auto* o = dynamic_cast<const v1::Objective*>(&m)) {
    return ValidateObjective(*o, p, refs);
  }
  return absl::InternalError("unknown resource type");
}

absl::StatusOr<Document> ParseOne(const YAML::Node& node,
                                  absl::string_view file, int index) {
  Document doc;
  doc.file = std::string(file);
  doc.index = index;
  doc.line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
  auto fail = [&](const absl::Status& s) {
    return Invalid(absl::StrCat(doc.Where(), ": ", s.message()));
  };
  if (!node.IsMap()) {
    return fail(Invalid("expected a mapping with kind, id and fields"));
  }
  const YAML::Node kind = node["kind"];
  if (!kind || !kind.IsScalar() || kind.Scalar().empty()) {
    return fail(
        Invalid("kind: required (Team, ValueStream, Kvi, Vla or Objective)"));
  }
  doc.kind = FindKind(kind.Scalar());
  if (doc.kind == nullptr) {
    return fail(FieldError(kind, "kind",
                           absl::StrCat("unknown kind \"", kind.Scalar(),
                                        "\" (Team, ValueStream, Kvi, Vla or "
                                        "Objective)")));
  }
  const YAML::Node id = node["id"];
  if (!id || !id.IsScalar()) {
    return fail(Invalid("id: required (like service-desk)"));
  }
  doc.id = id.Scalar();
  if (auto s = ValidateId("id", doc.id); !s.ok()) return fail(s);
  doc.resource.reset(google::protobuf::MessageFactory::generated_factory()
                         ->GetPrototype(doc.kind->descriptor)
                         ->New());
  const YAML::Node name = node["name"];
  if (name && name.IsScalar() && name.Scalar() != doc.name()) {
    return fail(FieldError(
        name, "name",
        absl::StrCat("\"", name.Scalar(), "\" does not match kind and id (",
                     doc.name(), ")")));
  }
  if (auto s = FillMessage(node, doc.resource.get(), doc.kind->singular,
                           /*top_level=*/true);
      !s.ok()) {
    return fail(s);
  }
  if (auto s = ValidateResource(*doc.resource, *doc.kind, &doc.references);
      !s.ok()) {
    const std::string own_kind = absl::StrCat(doc.kind->singular, ".kind");
    std::string message(s.message());
    if (absl::StartsWith(message, own_kind)) {
      message =
          absl::StrCat(doc.kind->singular, ".", OwnKindKey(doc.kind->singular),
                       message.substr(own_kind.size()));
    }
    return fail(Invalid(message));
  }
  const FieldDescriptor* name_field =
      doc.kind->descriptor->FindFieldByName("name");
  doc.resource->GetReflection()->SetString(doc.resource.get(), name_field,
                                           doc.name());
  return doc;
}

}  // namespace

absl::StatusOr<google::protobuf::Timestamp> ParseTimestampText(
    absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err) &&
      !absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err)) {
    return Invalid(
        "not a time (RFC 3339 like 2026-10-01T00:00:00Z, or a date like "
        "2026-10-01)");
  }
  google::protobuf::Timestamp ts = ToProtoTime(t);
  if (!IsValidProtoTime(ts)) return Invalid("time out of range");
  return ts;
}

absl::StatusOr<absl::Duration> ParseHumanDuration(absl::string_view text) {
  absl::Duration d;
  if (absl::EndsWith(text, "d")) {
    double days;
    if (!absl::SimpleAtod(text.substr(0, text.size() - 1), &days)) {
      return Invalid("not a duration (examples: 90s, 15m, 12h, 30d)");
    }
    d = absl::Hours(24) * days;
  } else if (!absl::ParseDuration(text, &d)) {
    return Invalid("not a duration (examples: 90s, 15m, 12h, 30d)");
  }
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    return Invalid("duration out of range");
  }
  return d;
}

absl::Status FillMessageFromYaml(const YAML::Node& node, Message* msg,
                                 const std::string& path) {
  try {
    return FillMessage(node, msg, path, /*top_level=*/false);
  } catch (const YAML::Exception& e) {
    return Invalid(absl::StrCat("line ", e.mark.line + 1, ": ", e.msg));
  }
}

const std::vector<KindInfo>& Kinds() {
  static const auto* kinds = new std::vector<KindInfo>{
      {"Team", "teams", "team", "teams", v1::Team::descriptor(), 0},
      {"ValueStream", "valueStreams", "value_stream", "value_streams",
       v1::ValueStream::descriptor(), 1},
      {"Kvi", "kvis", "kvi", "kvis", v1::Kvi::descriptor(), 2},
      {"Vla", "vlas", "vla", "vlas", v1::Vla::descriptor(), 3},
      {"Objective", "objectives", "objective", "objectives",
       v1::Objective::descriptor(), 4},
  };
  return *kinds;
}

const KindInfo* FindKind(absl::string_view word) {
  const std::string w = Fold(word);
  if (w.empty()) return nullptr;
  for (const KindInfo& k : Kinds()) {
    if (w == Fold(k.kind) || w == Fold(k.collection) || w == Fold(k.plural)) {
      return &k;
    }
  }
  if (w == "vs") return FindKind("ValueStream");
  if (w == "okr" || w == "okrs") return FindKind("Objective");
  return nullptr;
}

const KindInfo* FindKind(const Descriptor* descriptor) {
  for (const KindInfo& k : Kinds()) {
    if (k.descriptor == descriptor) return &k;
  }
  return nullptr;
}

std::string ResourceRef::name() const {
  return absl::StrCat(kind->collection, "/", id);
}

absl::StatusOr<ResourceRef> ParseResourceRef(absl::string_view text) {
  const size_t slash = text.find('/');
  ResourceRef ref;
  if (slash != absl::string_view::npos) {
    ref.kind = FindKind(text.substr(0, slash));
    ref.id = std::string(text.substr(slash + 1));
  }
  if (ref.kind == nullptr || !IsValidId(ref.id)) {
    return Invalid(absl::StrCat(
        "\"", text,
        "\" is not a resource (write KIND/ID, e.g. vla/incident-vla; kinds: "
        "team, valuestream, kvi, vla, objective)"));
  }
  return ref;
}

std::string Document::name() const {
  return absl::StrCat(kind->collection, "/", id);
}

std::string Document::Where() const {
  std::string where = absl::StrCat(file, ": document ", index);
  if (line > 0) absl::StrAppend(&where, " (line ", line, ")");
  return where;
}

absl::StatusOr<std::vector<Document>> ParseDocuments(absl::string_view text,
                                                     absl::string_view file) {
  // YAML and JSON are text: a NUL byte means a binary file (and makes
  // yaml-cpp 0.7 loop; found by tests/fuzz/apply_fuzzer).
  if (const size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    const int line = static_cast<int>(
        std::count(text.begin(), text.begin() + nul, '\n') + 1);
    return Invalid(absl::StrCat(file, ": line ", line,
                                ": a NUL byte; not a YAML or JSON text file"));
  }
  if (!ParsesInBoundedTime(std::string(text))) {
    return Invalid(absl::StrCat(
        file, ": not valid YAML or JSON: a ',' where a value belongs?"));
  }
  std::vector<YAML::Node> roots;
  try {
    roots = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return Invalid(absl::StrCat(file, ": line ", e.mark.line + 1,
                                ": not valid YAML or JSON: ", e.msg));
  }
  std::vector<Document> docs;
  int index = 0;
  try {
    for (const YAML::Node& root : roots) {
      if (root.IsSequence()) {  // a list of documents, e.g. `list -o json`
        for (const YAML::Node& item : root) {
          ++index;
          auto doc = ParseOne(item, file, index);
          if (!doc.ok()) return doc.status();
          docs.push_back(std::move(*doc));
        }
        continue;
      }
      ++index;
      if (root.IsNull()) continue;  // an empty document, e.g. after `---`
      auto doc = ParseOne(root, file, index);
      if (!doc.ok()) return doc.status();
      docs.push_back(std::move(*doc));
    }
  } catch (const YAML::Exception& e) {
    return Invalid(absl::StrCat(file, ": document ", index, ": line ",
                                e.mark.line + 1, ": ", e.msg));
  }
  return docs;
}

absl::StatusOr<std::vector<Document>> LoadDocuments(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (it->is_regular_file() &&
          (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        files.push_back(it->path().string());
      }
    }
    if (ec) {
      return Invalid(absl::StrCat(path, ": cannot read: ", ec.message()));
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      return Invalid(
          absl::StrCat(path, ": no *.yaml, *.yml or *.json files in it"));
    }
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  std::vector<Document> all;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Invalid(absl::StrCat(file, ": cannot read"));
    std::stringstream text;
    text << in.rdbuf();
    auto docs = ParseDocuments(text.str(), file);
    if (!docs.ok()) return docs.status();
    for (Document& d : *docs) all.push_back(std::move(d));
  }
  return all;
}

absl::Status CheckDocumentSet(const std::vector<Document>& docs) {
  std::map<std::string, const Document*> seen;
  for (const Document& d : docs) {
    auto [it, inserted] = seen.emplace(d.name(), &d);
    if (!inserted) {
      return Invalid(absl::StrCat(d.Where(), ": ", d.name(),
                                  " is already defined in ",
                                  it->second->Where()));
    }
  }
  return absl::OkStatus();
}

void SortForApply(std::vector<Document>* docs) {
  std::stable_sort(docs->begin(), docs->end(),
                   [](const Document& a, const Document& b) {
                     return a.kind->apply_order < b.kind->apply_order;
                   });
}

bool IsOutputOnlyField(absl::string_view field) {
  return field == "name" || field == "create_time" || field == "update_time" ||
         field == "etag" || field == "revision";
}

google::protobuf::FieldMask ChangedFields(const Message& desired,
                                          const Message& current) {
  google::protobuf::FieldMask mask;
  const Descriptor* d = desired.GetDescriptor();
  google::protobuf::util::MessageDifferencer differencer;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (IsOutputOnlyField(f->name())) continue;
    if (!differencer.CompareWithFields(desired, current, {f}, {f})) {
      mask.add_paths(f->name());
    }
  }
  return mask;
}

std::string ResourceToJson(const Message& resource, bool output_fields) {
  const KindInfo* kind = FindKind(resource.GetDescriptor());
  std::unique_ptr<Message> copy(resource.New());
  copy->CopyFrom(resource);
  const Reflection* r = copy->GetReflection();
  const std::string name =
      r->GetString(*copy, copy->GetDescriptor()->FindFieldByName("name"));
  if (!output_fields) {
    for (const char* f :
         {"name", "create_time", "update_time", "etag", "revision"}) {
      r->ClearField(copy.get(), copy->GetDescriptor()->FindFieldByName(f));
    }
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string body;
  (void)google::protobuf::util::MessageToJsonString(*copy, &body, options);
  if (kind != nullptr) {  // the resource's own kind: see FillMessage
    const std::string own =
        absl::StrCat("\"", OwnKindKey(kind->singular), "\":");
    body = absl::StrReplaceAll(body, {{"{\"kind\":", absl::StrCat("{", own)},
                                      {",\"kind\":", absl::StrCat(",", own)}});
  }
  std::string head = "{";
  if (kind != nullptr) {
    const std::string id = name.substr(name.find('/') + 1);
    head = absl::StrCat("{\"kind\":\"", kind->kind, "\",\"id\":\"", id, "\"");
    if (body.size() > 2) absl::StrAppend(&head, ",");
  }
  return absl::StrCat(head, body.substr(1));
}

}  // namespace vla::vlactl
