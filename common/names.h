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

}  // namespace vla

#endif  // VLA_COMMON_NAMES_H_
