// Request ids: the `x-request-id` a client sends (gRPC metadata or HTTP
// header) when it is sane, else a new random one. The server returns it, and
// every log line about the call carries it (docs/observability.md).
#ifndef VLA_SERVICES_COMMON_REQUEST_ID_H_
#define VLA_SERVICES_COMMON_REQUEST_ID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace vla {

// The metadata key (and, case-insensitively, the HTTP header) of request ids.
inline constexpr char kRequestIdKey[] = "x-request-id";

// `id` when it is a usable request id (1 to 128 characters from
// [A-Za-z0-9._:/+=-]), else a new random one (32 hex digits).
std::string RequestIdOrNew(absl::string_view id);

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_REQUEST_ID_H_
