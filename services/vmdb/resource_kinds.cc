#include "services/vmdb/resource_kinds.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "vla/v1/resources.pb.h"

namespace vla::vmdb {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

template <typename R>
std::function<absl::Status(const Message&, std::vector<Reference>*)> Validator(
    absl::Status (*fn)(const R&, absl::string_view, std::vector<Reference>*),
    std::string prefix) {
  return [fn, prefix](const Message& m, std::vector<Reference>* refs) {
    return fn(static_cast<const R&>(m), prefix, refs);
  };
}

std::vector<std::string> EnumValue(const google::protobuf::EnumDescriptor* e,
                                   int value) {
  const auto* v = e->FindValueByNumber(value);
  return {v == nullptr ? std::string() : std::string(v->name())};
}

template <typename Container>
void AddAll(std::vector<std::string>* out, const Container& c) {
  out->insert(out->end(), c.begin(), c.end());
}

FilterField StringField(std::string name) {
  return {std::move(name), FilterField::Type::kString, nullptr};
}

FilterField EnumField(std::string name,
                      const google::protobuf::EnumDescriptor* e) {
  return {std::move(name), FilterField::Type::kEnum, e};
}

std::vector<std::unique_ptr<ResourceKind>> MakeKinds() {
  std::vector<std::unique_ptr<ResourceKind>> kinds;

  auto team = std::make_unique<ResourceKind>();
  team->collection = "teams";
  team->singular = "team";
  team->descriptor = v1::Team::descriptor();
  team->filter_fields = {EnumField("kind", v1::TeamKind_descriptor())};
  team->validate = Validator<v1::Team>(ValidateTeam, "team");
  team->filter_values = [](const Message& m, absl::string_view) {
    return EnumValue(v1::TeamKind_descriptor(),
                     static_cast<const v1::Team&>(m).kind());
  };
  kinds.push_back(std::move(team));

  auto vs = std::make_unique<ResourceKind>();
  vs->collection = "valueStreams";
  vs->singular = "value_stream";
  vs->descriptor = v1::ValueStream::descriptor();
  vs->filter_fields = {StringField("team")};
  vs->validate =
      Validator<v1::ValueStream>(ValidateValueStream, "value_stream");
  vs->filter_values = [](const Message& m, absl::string_view) {
    const auto& s = static_cast<const v1::ValueStream&>(m);
    std::vector<std::string> teams = {s.consumer()};
    AddAll(&teams, s.providers());
    for (const v1::Stage& stage : s.stages()) teams.push_back(stage.team());
    if (absl::StartsWith(s.value_owner(), "teams/")) {
      teams.push_back(s.value_owner());
    }
    return teams;
  };
  kinds.push_back(std::move(vs));

  auto kvi = std::make_unique<ResourceKind>();
  kvi->collection = "kvis";
  kvi->singular = "kvi";
  kvi->descriptor = v1::Kvi::descriptor();
  kvi->filter_fields = {StringField("value_stream")};
  kvi->validate = Validator<v1::Kvi>(ValidateKvi, "kvi");
  kvi->filter_values = [](const Message& m, absl::string_view) {
    return std::vector<std::string>{
        static_cast<const v1::Kvi&>(m).value_stream()};
  };
  kinds.push_back(std::move(kvi));

  auto vla = std::make_unique<ResourceKind>();
  vla->collection = "vlas";
  vla->singular = "vla";
  vla->descriptor = v1::Vla::descriptor();
  vla->filter_fields = {StringField("value_stream"), StringField("team"),
                        EnumField("state", v1::VlaState_descriptor())};
  vla->validate = Validator<v1::Vla>(ValidateVla, "vla");
  vla->filter_values = [](const Message& m, absl::string_view field) {
    const auto& v = static_cast<const v1::Vla&>(m);
    if (field == "value_stream")
      return std::vector<std::string>{v.value_stream()};
    if (field == "state")
      return EnumValue(v1::VlaState_descriptor(), v.state());
    std::vector<std::string> teams = {v.consumer()};
    AddAll(&teams, v.providers());
    return teams;
  };
  vla->check_references =
      [](const Message& m,
         const std::function<const Message*(const std::string&)>& lookup) {
        const auto& v = static_cast<const v1::Vla&>(m);
        std::vector<v1::Kvi> kvis;
        for (const v1::Clause& c : v.clauses()) {
          const Message* k = lookup(c.kvi());
          kvis.push_back(k == nullptr ? v1::Kvi()
                                      : static_cast<const v1::Kvi&>(*k));
        }
        return ValidateVlaClausesAgainstKvis(v, "vla", kvis);
      };
  kinds.push_back(std::move(vla));

  auto objective = std::make_unique<ResourceKind>();
  objective->collection = "objectives";
  objective->singular = "objective";
  objective->descriptor = v1::Objective::descriptor();
  objective->filter_fields = {StringField("team")};
  objective->validate =
      Validator<v1::Objective>(ValidateObjective, "objective");
  objective->filter_values = [](const Message& m, absl::string_view) {
    const auto& o = static_cast<const v1::Objective&>(m);
    std::vector<std::string> teams = {o.lead()};
    AddAll(&teams, o.owners());
    return teams;
  };
  kinds.push_back(std::move(objective));
  return kinds;
}

const std::vector<std::unique_ptr<ResourceKind>>& Kinds() {
  static const auto* const kinds =
      new std::vector<std::unique_ptr<ResourceKind>>(MakeKinds());
  return *kinds;
}

const FieldDescriptor* Field(const Message& m, int number) {
  return m.GetDescriptor()->FindFieldByNumber(number);
}

}  // namespace

const ResourceKind* FindKind(const Descriptor* descriptor) {
  for (const auto& k : Kinds()) {
    if (k->descriptor == descriptor) return k.get();
  }
  return nullptr;
}

const ResourceKind* FindKindForName(absl::string_view name) {
  for (const auto& k : Kinds()) {
    if (absl::StartsWith(name, k->collection + "/")) return k.get();
  }
  return nullptr;
}

const std::vector<const ResourceKind*>& AllKinds() {
  static const auto* const all = [] {
    auto* v = new std::vector<const ResourceKind*>();
    for (const auto& k : Kinds()) v->push_back(k.get());
    return v;
  }();
  return *all;
}

// Field numbers shared by every resource message.
constexpr int kNameField = 1;
constexpr int kCreateTimeField = 4;
constexpr int kUpdateTimeField = 5;
constexpr int kEtagField = 6;
constexpr int kRevisionField = 7;

std::string GetName(const Message& m) {
  return m.GetReflection()->GetString(m, Field(m, kNameField));
}

std::string GetEtag(const Message& m) {
  return m.GetReflection()->GetString(m, Field(m, kEtagField));
}

int64_t GetRevision(const Message& m) {
  return m.GetReflection()->GetInt64(m, Field(m, kRevisionField));
}

void ClearOutputFields(Message* m) {
  const auto* r = m->GetReflection();
  for (int n : {kNameField, kCreateTimeField, kUpdateTimeField, kEtagField,
                kRevisionField}) {
    r->ClearField(m, Field(*m, n));
  }
}

void SetOutputFields(Message* m, const std::string& name,
                     const google::protobuf::Timestamp& create_time,
                     const google::protobuf::Timestamp& update_time,
                     int64_t revision) {
  const auto* r = m->GetReflection();
  r->SetString(m, Field(*m, kNameField), name);
  r->MutableMessage(m, Field(*m, kCreateTimeField))->CopyFrom(create_time);
  r->MutableMessage(m, Field(*m, kUpdateTimeField))->CopyFrom(update_time);
  r->SetInt64(m, Field(*m, kRevisionField), revision);
  // The creation instant tells a re-created resource from its predecessor.
  const absl::Time created = FromProtoTime(create_time);
  r->SetString(m, Field(*m, kEtagField),
               absl::StrFormat("%x-%d", absl::ToUnixMicros(created), revision));
}

bool IsOutputOnlyField(absl::string_view field_name) {
  return field_name == "name" || field_name == "create_time" ||
         field_name == "update_time" || field_name == "revision" ||
         field_name == "etag";
}

}  // namespace vla::vmdb
