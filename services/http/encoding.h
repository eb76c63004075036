// How the HTTP listener encodes response bodies. cpp-httplib (Debian's build
// has brotli) would compress every body itself, with brotli at its highest
// quality when a client accepts it: five times the CPU of gzip for a large
// list, which any client could ask for. So bodies go out through SetBody:
// gzip (fast level) when the client accepts it and the body is large enough
// to gain, else as they are, never recompressed by the library.
#ifndef VLA_SERVICES_HTTP_ENCODING_H_
#define VLA_SERVICES_HTTP_ENCODING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace vla::http {

// Whether an Accept-Encoding value accepts gzip ("gzip" or "x-gzip" without
// q=0; "*" with q>0 also accepts it).
bool AcceptsGzip(absl::string_view accept_encoding);

// `data` in the gzip format at zlib level `level` (1 fastest, 9 smallest).
std::string Gzip(absl::string_view data, int level);

// Bodies shorter than this go out as they are (gzip would not gain).
inline constexpr size_t kGzipMinBytes = 1024;

// Sets `body` as res's body with `content_type`, gzipped (level 1, with
// Content-Encoding and Vary) when `req` accepts gzip and the body is at least
// kGzipMinBytes. Written by the library as given, with its length.
void SetBody(const httplib::Request& req, httplib::Response& res,
             std::string body, const std::string& content_type);

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_ENCODING_H_
