#include "services/http/routes.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/api/annotations.pb.h"

namespace vla::http {
namespace {

// Splits "/a/b:verb" into {"a", "b"} and "verb". The verb is what follows
// the last ':' of the last segment.
std::pair<std::vector<std::string>, std::string> SplitPath(
    absl::string_view path) {
  std::string verb;
  absl::ConsumePrefix(&path, "/");
  std::vector<std::string> segments = absl::StrSplit(path, '/');
  if (!segments.empty()) {
    std::string& last = segments.back();
    if (const size_t colon = last.rfind(':'); colon != std::string::npos) {
      verb = last.substr(colon + 1);
      last.resize(colon);
    }
  }
  return {std::move(segments), std::move(verb)};
}

bool IsIdent(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

// The HTTP method and path template of a rule; an empty method for none.
std::pair<std::string, std::string> Pattern(const google::api::HttpRule& r) {
  using R = google::api::HttpRule;
  switch (r.pattern_case()) {
    case R::kGet:
      return {"GET", r.get()};
    case R::kPost:
      return {"POST", r.post()};
    case R::kPatch:
      return {"PATCH", r.patch()};
    case R::kPut:
      return {"PUT", r.put()};
    case R::kDelete:
      return {"DELETE", r.delete_()};
    case R::kCustom:
      return {r.custom().kind(), r.custom().path()};
    default:
      return {};
  }
}

}  // namespace

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", text, "\": ", why));
  };
  if (!absl::StartsWith(text, "/")) return bad("must start with '/'");
  PathTemplate t;
  t.text_ = std::string(text);
  absl::string_view rest = text.substr(1);
  // The verb: a ':' after the last '}' and the last '/'.
  const size_t close = rest.rfind('}');
  const size_t slash = rest.rfind('/');
  const size_t after = std::max(close == absl::string_view::npos ? 0 : close,
                                slash == absl::string_view::npos ? 0 : slash);
  if (const size_t colon = rest.find(':', after);
      colon != absl::string_view::npos) {
    t.verb_ = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (t.verb_.empty()) return bad("empty verb");
  }
  // Segments; a variable's braces may hold '/'. A segment is `*`, `**` or
  // a literal without template characters.
  const auto add_segment = [&t](absl::string_view seg) {
    if (seg == "*") {
      t.segments_.push_back({Segment::Kind::kStar, ""});
    } else if (seg == "**") {
      t.segments_.push_back({Segment::Kind::kDoubleStar, ""});
    } else if (!seg.empty() &&
               seg.find_first_of("{}*:") == absl::string_view::npos) {
      t.segments_.push_back({Segment::Kind::kLiteral, std::string(seg)});
    } else {
      return false;
    }
    return true;
  };
  size_t i = 0;
  while (i <= rest.size()) {
    if (i < rest.size() && rest[i] == '{') {
      const size_t end = rest.find('}', i);
      if (end == absl::string_view::npos) return bad("unclosed '{'");
      const absl::string_view inner = rest.substr(i + 1, end - i - 1);
      const size_t eq = inner.find('=');
      Variable v;
      v.field_path = std::string(inner.substr(0, eq));
      for (absl::string_view part : absl::StrSplit(v.field_path, '.')) {
        if (!IsIdent(part)) return bad("bad field path in a variable");
      }
      const absl::string_view pattern =
          eq == absl::string_view::npos ? "*" : inner.substr(eq + 1);
      v.begin = t.segments_.size();
      for (absl::string_view seg : absl::StrSplit(pattern, '/')) {
        if (!add_segment(seg)) return bad("bad segment in a variable");
      }
      v.end = t.segments_.size();
      t.variables_.push_back(std::move(v));
      i = end + 1;
      if (i < rest.size() && rest[i] != '/') return bad("text after '}'");
      ++i;
      continue;
    }
    size_t end = rest.find('/', i);
    if (end == absl::string_view::npos) end = rest.size();
    const absl::string_view seg = rest.substr(i, end - i);
    if (!add_segment(seg)) {
      return bad(absl::StrCat("bad segment \"", seg, "\""));
    }
    i = end + 1;
  }
  for (size_t s = 0; s + 1 < t.segments_.size(); ++s) {
    if (t.segments_[s].kind == Segment::Kind::kDoubleStar) {
      return bad("'**' must be the last segment");
    }
  }
  return t;
}

bool PathTemplate::Match(const std::vector<std::string>& segments,
                         absl::string_view verb, Bindings* bindings) const {
  if (verb != verb_) return false;
  const bool tail =
      !segments_.empty() && segments_.back().kind == Segment::Kind::kDoubleStar;
  const size_t fixed = segments_.size() - (tail ? 1 : 0);
  if (tail ? segments.size() < fixed : segments.size() != fixed) return false;
  for (size_t i = 0; i < fixed; ++i) {
    const Segment& s = segments_[i];
    if (segments[i].empty()) return false;
    if (s.kind == Segment::Kind::kLiteral && s.literal != segments[i]) {
      return false;
    }
  }
  for (const Variable& v : variables_) {
    const size_t end =
        v.end == segments_.size() && tail ? segments.size() : v.end;
    std::vector<absl::string_view> parts(segments.begin() + v.begin,
                                         segments.begin() + end);
    bindings->emplace_back(v.field_path, absl::StrJoin(parts, "/"));
  }
  return true;
}

std::vector<std::string> PathTemplate::variables() const {
  std::vector<std::string> out;
  for (const Variable& v : variables_) out.push_back(v.field_path);
  return out;
}

std::string PathTemplate::OpenApiPath() const {
  std::string out;
  size_t var = 0;
  for (size_t i = 0; i < segments_.size();) {
    out += "/";
    if (var < variables_.size() && variables_[var].begin == i) {
      // {name=teams/*} -> teams/{name}: the literals stay, the variable
      // takes the place of its (first) wildcard.
      const Variable& v = variables_[var++];
      bool placed = false;
      for (size_t k = v.begin; k < v.end; ++k) {
        if (k > v.begin) out += "/";
        const Segment& s = segments_[k];
        if (s.kind == Segment::Kind::kLiteral) {
          out += s.literal;
        } else if (!placed) {
          absl::StrAppend(&out, "{", v.field_path, "}");
          placed = true;
        } else {
          out += s.kind == Segment::Kind::kStar ? "*" : "**";
        }
      }
      i = v.end;
      continue;
    }
    const Segment& s = segments_[i++];
    out += s.kind == Segment::Kind::kLiteral ? s.literal
           : s.kind == Segment::Kind::kStar  ? "*"
                                             : "**";
  }
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

absl::StatusOr<RouteTable> RouteTable::FromServices(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services) {
  RouteTable table;
  for (const auto* service : services) {
    for (int m = 0; m < service->method_count(); ++m) {
      const auto* method = service->method(m);
      if (!method->options().HasExtension(google::api::http)) continue;
      if (method->client_streaming()) continue;
      const google::api::HttpRule& top =
          method->options().GetExtension(google::api::http);
      std::vector<const google::api::HttpRule*> rules = {&top};
      for (const auto& extra : top.additional_bindings()) {
        rules.push_back(&extra);
      }
      for (const google::api::HttpRule* rule : rules) {
        Route route;
        route.method = method;
        route.grpc_method =
            absl::StrCat("/", service->full_name(), "/", method->name());
        route.body = rule->body();
        std::string path;
        std::tie(route.http_method, path) = Pattern(*rule);
        if (route.http_method.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              method->full_name(), ": google.api.http has no pattern"));
        }
        auto parsed = PathTemplate::Parse(path);
        if (!parsed.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              method->full_name(), ": ", parsed.status().message()));
        }
        route.path = *std::move(parsed);
        if (!route.body.empty() && route.body != "*" &&
            method->input_type()->FindFieldByName(route.body) == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat(method->full_name(), ": body field \"", route.body,
                           "\" is not in ", method->input_type()->full_name()));
        }
        table.routes_.push_back(std::move(route));
      }
    }
  }
  return table;
}

RouteMatch RouteTable::Find(absl::string_view http_method,
                            absl::string_view path) const {
  RouteMatch match;
  const auto [segments, verb] = SplitPath(path);
  for (const Route& route : routes_) {
    Bindings bindings;
    if (!route.path.Match(segments, verb, &bindings)) continue;
    if (route.http_method == http_method) {
      match.route = &route;
      match.bindings = std::move(bindings);
      match.allowed.clear();
      return match;
    }
    if (std::find(match.allowed.begin(), match.allowed.end(),
                  route.http_method) == match.allowed.end()) {
      match.allowed.push_back(route.http_method);
    }
  }
  return match;
}

}  // namespace vla::http
