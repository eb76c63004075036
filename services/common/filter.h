// A small subset of AIP-160 filters, shared by every List and Watch method:
//
//   filter     := comparison ("AND" comparison)*
//   comparison := FIELD ("=" | "!=") value
//   value      := "quoted string" | ENUM_VALUE | number | true | false
//
// Each method declares the fields it accepts. Enum values may be written in
// full (`VLA_STATE_ACTIVE`) or short (`ACTIVE`). A field may hold several
// values (e.g. `team` of a VLA: its consumer and providers): `=` matches when
// any value equals, `!=` when none does.
//
//   VLA_ASSIGN_OR_RETURN(Filter f, Filter::Parse(text, kVlaFilterFields));
//   if (f.Matches([&](absl::string_view field) { return ValuesOf(vla, field);
//   }))
#ifndef VLA_SERVICES_COMMON_FILTER_H_
#define VLA_SERVICES_COMMON_FILTER_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"

namespace vla {

struct FilterField {
  enum class Type { kString, kEnum, kBool, kNumber };
  std::string name;
  Type type = Type::kString;
  // For kEnum: the enum whose value names are accepted.
  const google::protobuf::EnumDescriptor* enum_type = nullptr;
};

class Filter {
 public:
  // The values a resource holds for `field`, in normalized form: enum values
  // by full name, bools as "true"/"false", numbers via FormatFilterNumber.
  using ValuesFn =
      absl::FunctionRef<std::vector<std::string>(absl::string_view)>;

  Filter() = default;

  // Parses `text`; INVALID_ARGUMENT (naming `filter`) if it is malformed or
  // uses a field or value that `fields` does not allow.
  static absl::StatusOr<Filter> Parse(absl::string_view text,
                                      absl::Span<const FilterField> fields);

  bool empty() const { return terms_.empty(); }
  bool Matches(ValuesFn values) const;
  // As Matches, for values the caller holds (no copies); each span must stay
  // valid until the next call.
  using SpanValuesFn =
      absl::FunctionRef<absl::Span<const std::string>(absl::string_view)>;
  bool MatchesSpans(SpanValuesFn values) const;

  // The normalized value `field = value` requires, if the filter has one
  // such term (lets callers narrow a scan).
  const std::string* EqualityValue(absl::string_view field) const;

 private:
  struct Term {
    std::string field;
    bool negated = false;
    std::string value;  // normalized
  };
  std::vector<Term> terms_;
};

std::string FormatFilterNumber(double value);

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_FILTER_H_
