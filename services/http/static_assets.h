// The governance dashboard's files (web/), served by the HTTP listener at /
// and /assets/ without authentication: the page asks the person for a token
// and sends it with each API call it makes (web/README.md).
//
// The files are built by web/build.mjs (esbuild) into a generated C++ file
// (library `vla_dashboard`, DashboardAssets()) that `vlad` links, so the
// running binary needs neither node nor the source tree. Each file is stored
// as built and gzip-compressed; a client that accepts gzip gets the
// compressed bytes. Files whose name carries a content hash are cacheable
// for a year; index.html is revalidated by its ETag each time.
#ifndef VLA_SERVICES_HTTP_STATIC_ASSETS_H_
#define VLA_SERVICES_HTTP_STATIC_ASSETS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace vla::http {

// One built file.
struct StaticAsset {
  // The URL path, e.g. "/" or "/assets/app-4F2A.js".
  absl::string_view path;
  // E.g. "text/javascript; charset=utf-8".
  absl::string_view content_type;
  // The file.
  absl::string_view body;
  // `body` gzip-compressed; empty: always sent as is.
  absl::string_view gzip;
  // A quoted strong ETag of `body`, e.g. "\"9c1e...\"".
  absl::string_view etag;
  // The path carries a content hash: the file never changes.
  bool immutable = false;
};

// The dashboard built into this binary (the generated file of web/).
absl::Span<const StaticAsset> DashboardAssets();

// Answers a GET or HEAD of one of `assets`' paths and returns true (200 with
// the file, or 304 when If-None-Match names its ETag); returns false without
// touching `res` for any other method or path. The bytes are sent as stored
// (never compressed again by the HTTP library).
bool ServeStaticAsset(absl::Span<const StaticAsset> assets,
                      const httplib::Request& req, httplib::Response& res);

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_STATIC_ASSETS_H_
