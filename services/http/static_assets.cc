#include "services/http/static_assets.h"

#include <httplib.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "services/http/encoding.h"

namespace vla::http {
namespace {

// The page loads only its own files and talks only to this server. Styles:
// the charting library sets element styles from script.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'";

// Whether an If-None-Match value names `etag` (weak comparison) or is "*".
bool MatchesEtag(absl::string_view if_none_match, absl::string_view etag) {
  const auto opaque = [](absl::string_view tag) {
    tag = absl::StripAsciiWhitespace(tag);
    absl::ConsumePrefix(&tag, "W/");
    return tag;
  };
  for (absl::string_view tag : absl::StrSplit(if_none_match, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag == "*" || (!tag.empty() && opaque(tag) == opaque(etag))) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool ServeStaticAsset(absl::Span<const StaticAsset> assets,
                      const httplib::Request& req, httplib::Response& res) {
  if (req.method != "GET" && req.method != "HEAD") return false;
  const StaticAsset* asset = nullptr;
  for (const StaticAsset& a : assets) {
    if (a.path == req.path) asset = &a;
  }
  if (asset == nullptr) return false;

  res.set_header("Cache-Control", asset->immutable
                                      ? "public, max-age=31536000, immutable"
                                      : "no-cache");
  res.set_header("ETag", std::string(asset->etag));
  res.set_header("X-Content-Type-Options", "nosniff");
  if (!asset->gzip.empty()) res.set_header("Vary", "Accept-Encoding");
  if (absl::StartsWith(asset->content_type, "text/html")) {
    res.set_header("Content-Security-Policy", kContentSecurityPolicy);
    res.set_header("Referrer-Policy", "no-referrer");
  }
  if (req.has_header("If-None-Match") &&
      MatchesEtag(req.get_header_value("If-None-Match"), asset->etag)) {
    res.status = 304;
    return true;
  }
  absl::string_view bytes = asset->body;
  if (!asset->gzip.empty() &&
      AcceptsGzip(req.get_header_value("Accept-Encoding"))) {
    bytes = asset->gzip;
    res.set_header("Content-Encoding", "gzip");
  }
  res.status = 200;
  if (bytes.empty()) {
    res.set_content("", std::string(asset->content_type));
    return true;
  }
  // A content provider with a length is written as is: the library
  // compresses only bodies and chunked providers.
  res.set_content_provider(
      bytes.size(), std::string(asset->content_type),
      [bytes](size_t offset, size_t length, httplib::DataSink& sink) {
        return sink.write(bytes.data() + offset, length);
      });
  return true;
}

}  // namespace vla::http
