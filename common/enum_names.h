// Enum values as people write them: without the prefix that every value of
// a proto enum carries (`PROVIDER` for TEAM_KIND_PROVIDER, `MONTH` for
// CALENDAR_PERIOD_MONTH, as api.md writes them), for printing and parsing.
#ifndef VLA_COMMON_ENUM_NAMES_H_
#define VLA_COMMON_ENUM_NAMES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace vla {

// The prefix of `e`'s values: its zero value's name without "UNSPECIFIED"
// ("TEAM_KIND_"); "" when the zero value is not named X_UNSPECIFIED.
std::string EnumValuePrefix(const google::protobuf::EnumDescriptor* e);

// The name of `value` without the prefix; the number when `e` has no such
// value.
std::string ShortEnumName(const google::protobuf::EnumDescriptor* e, int value);
template <typename Enum>
std::string ShortName(Enum value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<Enum>(),
                       static_cast<int>(value));
}

// The value named `text`, full or short, in any case ("TEAM_KIND_PROVIDER",
// "PROVIDER", "provider"); null if none.
const google::protobuf::EnumValueDescriptor* FindEnumValue(
    const google::protobuf::EnumDescriptor* e, absl::string_view text);

}  // namespace vla

#endif  // VLA_COMMON_ENUM_NAMES_H_
