// The HTTP routes of gRPC methods, read from their `google.api.http`
// annotations (AIP-127): path templates with variables such as
// `/v1/{name=teams/*}` or `/v1/{team.name=teams/*}`, an optional `:verb`, and
// the request field the body maps to.
//
//   VLA_ASSIGN_OR_RETURN(RouteTable table,
//                        RouteTable::FromServices({vmdb_descriptor, ...}));
//   RouteMatch m = table.Find("GET", "/v1/teams/network");
//   if (m.route) ... m.route->method, m.bindings ({"name", "teams/network"})
//
// Only what the transcoder needs of the template grammar: literal, `*` and
// trailing `**` segments, variables over whole segments, a final verb.
#ifndef VLA_SERVICES_HTTP_ROUTES_H_
#define VLA_SERVICES_HTTP_ROUTES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace vla::http {

// (field path as written in the template, e.g. "team.name"; value).
using Bindings = std::vector<std::pair<std::string, std::string>>;

class PathTemplate {
 public:
  // INVALID_ARGUMENT for a template outside the grammar above.
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // True when `segments` (the URL path split at '/', without the verb) and
  // `verb` ("" for none) match; appends the variables' values to
  // `bindings`.
  bool Match(const std::vector<std::string>& segments, absl::string_view verb,
             Bindings* bindings) const;

  const std::string& text() const { return text_; }
  // The field paths bound by the template, in order.
  std::vector<std::string> variables() const;
  // The template in OpenAPI form: `/v1/teams/{name}` for
  // `/v1/{name=teams/*}` (the parameter fills the wildcard; the field holds
  // the whole `teams/...`).
  std::string OpenApiPath() const;

 private:
  struct Segment {
    enum class Kind { kLiteral, kStar, kDoubleStar } kind;
    std::string literal;
  };
  struct Variable {
    std::string field_path;
    size_t begin;  // segment range [begin, end)
    size_t end;
  };
  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

// One HTTP binding of a method.
struct Route {
  std::string http_method;  // GET, POST, PATCH, DELETE, PUT, or custom
  PathTemplate path;
  const google::protobuf::MethodDescriptor* method = nullptr;
  // "" (no body), "*" (every field not bound by the path) or a top-level
  // field name.
  std::string body;
  // "/package.Service/Method", as gRPC names it.
  std::string grpc_method;
};

struct RouteMatch {
  const Route* route = nullptr;  // null: no route for this request
  Bindings bindings;
  // When route is null: the methods the path is served with (empty: the
  // path is unknown, 404; else 405 with these in `Allow`).
  std::vector<std::string> allowed;
};

class RouteTable {
 public:
  // Every annotated method of `services` (and its additional bindings).
  // Client-streaming methods cannot be transcoded and are left out.
  // INVALID_ARGUMENT for a malformed annotation (naming the method).
  static absl::StatusOr<RouteTable> FromServices(
      const std::vector<const google::protobuf::ServiceDescriptor*>& services);

  // `path` is the URL path without the query, percent-decoded.
  RouteMatch Find(absl::string_view http_method, absl::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_ROUTES_H_
