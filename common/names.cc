#include "common/names.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vla {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  if (id[0] < 'a' || id[0] > 'z') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return Invalid(field, "required");
  if (!IsValidId(id)) {
    return Invalid(field, absl::StrCat("\"", id.substr(0, 80),
                                       "\" must match [a-z][a-z0-9-]{0,62}"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseName(absl::string_view field,
                                      absl::string_view name,
                                      absl::string_view collection) {
  if (name.empty()) return Invalid(field, "required");
  const std::string prefix = absl::StrCat(collection, "/");
  if (!absl::StartsWith(name, prefix) ||
      !IsValidId(name.substr(prefix.size()))) {
    return Invalid(
        field, absl::StrCat("\"", name.substr(0, 80), "\" is not a name like ",
                            collection, "/my-id"));
  }
  return std::string(name.substr(prefix.size()));
}

absl::string_view IdOf(absl::string_view name) {
  const size_t slash = name.find('/');
  return slash == absl::string_view::npos ? name : name.substr(slash + 1);
}

}  // namespace vla
