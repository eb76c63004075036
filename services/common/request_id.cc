#include "services/common/request_id.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace vla {
namespace {

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
         c == '/' || c == '+' || c == '=' || c == '-';
}

}  // namespace

std::string RequestIdOrNew(absl::string_view id) {
  if (!id.empty() && id.size() <= 128) {
    bool ok = true;
    for (char c : id) ok = ok && IsRequestIdChar(c);
    if (ok) return std::string(id);
  }
  thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

}  // namespace vla
