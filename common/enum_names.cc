#include "common/enum_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vla {

std::string EnumValuePrefix(const google::protobuf::EnumDescriptor* e) {
  constexpr absl::string_view kUnspecified = "UNSPECIFIED";
  if (e->value_count() == 0) return "";
  const std::string& zero = e->value(0)->name();
  if (!absl::EndsWith(zero, kUnspecified)) return "";
  return zero.substr(0, zero.size() - kUnspecified.size());
}

std::string ShortEnumName(const google::protobuf::EnumDescriptor* e,
                          int value) {
  const auto* v = e->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  const std::string prefix = EnumValuePrefix(e);
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, prefix);
  return std::string(name);
}

const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor* e, absl::string_view text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  if (const auto* v = e->FindValueByName(upper)) return v;
  const std::string prefix = EnumValuePrefix(e);
  if (prefix.empty()) return nullptr;
  return e->FindValueByName(absl::StrCat(prefix, upper));
}

}  // namespace vla
