// Resource ids and names: `[a-z][a-z0-9-]{0,62}` ids, `collection/id` names.
#ifndef VLA_COMMON_NAMES_H_
#define VLA_COMMON_NAMES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vla {

// `[a-z][a-z0-9-]{0,62}`.
bool IsValidId(absl::string_view id);

// INVALID_ARGUMENT naming `field` unless `id` is a valid id.
absl::Status ValidateId(absl::string_view field, absl::string_view id);

// The id in `name` if it is `{collection}/{id}` with a valid id; else
// INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> ParseName(absl::string_view field,
                                      absl::string_view name,
                                      absl::string_view collection);

// The part of `name` after its first '/' ("kvis/p90" -> "p90"), for
// people; `name` itself when it has none.
absl::string_view IdOf(absl::string_view name);

}  // namespace vla

#endif  // VLA_COMMON_NAMES_H_
