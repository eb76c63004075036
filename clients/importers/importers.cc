#include "clients/importers/importers.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace vla::importers {

std::string RowError::ToString() const {
  std::string out = file;
  if (line > 0) {
    absl::StrAppend(&out, ":", line);
  } else if (index >= 0) {
    absl::StrAppend(&out, "[", index, "]");
  }
  absl::StrAppend(&out, ": ");
  if (!key.empty()) absl::StrAppend(&out, key, ": ");
  absl::StrAppend(&out, reason);
  return out;
}

}  // namespace vla::importers
