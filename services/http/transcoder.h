// HTTP/JSON <-> protobuf for any method with a route (routes.h), by the
// descriptors and protobuf's JSON mapping (api.md, "HTTP/JSON"):
//
// - The request message is built from the JSON body (for `body: "*"` the
//   whole message, else the named field), then the path variables, then the
//   query parameters (AIP-127: a parameter names a field not bound by the
//   path or the body, by its JSON name or proto name, dotted for nested
//   fields, repeated for repeated fields; scalars, enums by name or number,
//   and Timestamp, Duration, FieldMask and wrapper messages in their JSON
//   string form). Unknown fields or parameters are INVALID_ARGUMENT: a typo
//   is never silently ignored.
// - Responses are proto3 JSON: lowerCamelCase names, enums by name, int64 as
//   strings, RFC 3339 timestamps, durations like "3600s", and fields with
//   default values printed (a client sees `"watermelon": false`).
// - Errors are Google's JSON error shape with the HTTP status of the code.
#ifndef VLA_SERVICES_HTTP_TRANSCODER_H_
#define VLA_SERVICES_HTTP_TRANSCODER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "services/http/routes.h"

namespace vla::http {

// Decoded (name, value) pairs of a query string, in order ('+' is a space).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Fills `request` (an empty message of route.method's input type).
// INVALID_ARGUMENT naming the parameter, or saying what is wrong with the
// body; `request` is then unspecified.
absl::Status BuildRequest(const Route& route, const Bindings& bindings,
                          const QueryParams& query, absl::string_view body,
                          google::protobuf::Message* request);

// Proto3 JSON of `message`, on one line.
std::string ToJson(const google::protobuf::Message& message);

// The HTTP status of a gRPC code (api.md): INVALID_ARGUMENT,
// FAILED_PRECONDITION and OUT_OF_RANGE 400, UNAUTHENTICATED 401,
// PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409,
// RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501, UNAVAILABLE 503,
// DEADLINE_EXCEEDED 504, others 500.
int HttpStatusOf(absl::StatusCode code);

// {"error": {"code": 404, "status": "NOT_FOUND", "message": "..."}}, on one
// line; `code` is `http_status` when given (e.g. 413, 415), else
// HttpStatusOf(status.code()).
std::string ErrorJson(const absl::Status& status, int http_status = 0);

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_TRANSCODER_H_
