// GET /v1/openapi.json: an OpenAPI 3.0 document of the HTTP/JSON API built
// at start from the same route table and message descriptors the
// transcoder uses, so it cannot drift from what is served.
#ifndef VLA_SERVICES_HTTP_OPENAPI_H_
#define VLA_SERVICES_HTTP_OPENAPI_H_

#include <string>
#include <utility>
#include <vector>

#include "services/http/routes.h"

namespace vla::http {

// A route served outside the route table (webhooks, this document).
struct ExtraRoute {
  std::string http_method;
  std::string path;
  std::string summary;
  std::string request_content_type;  // "" without a body
};

// The document, as JSON text. Operations are named by their gRPC method;
// server streams answer application/x-ndjson or text/event-stream.
std::string OpenApiDocument(const RouteTable& routes,
                            const std::vector<ExtraRoute>& extra);

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_OPENAPI_H_
