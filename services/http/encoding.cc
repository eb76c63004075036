#include "services/http/encoding.h"

#include <httplib.h>
#include <zlib.h>

#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace vla::http {

bool AcceptsGzip(absl::string_view accept_encoding) {
  for (absl::string_view item : absl::StrSplit(accept_encoding, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
    const absl::string_view coding = absl::StripAsciiWhitespace(parts[0]);
    if (!absl::EqualsIgnoreCase(coding, "gzip") &&
        !absl::EqualsIgnoreCase(coding, "x-gzip") && coding != "*") {
      continue;
    }
    double q = 1;
    for (size_t i = 1; i < parts.size(); ++i) {
      const absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (absl::StartsWithIgnoreCase(p, "q=") &&
          !absl::SimpleAtod(p.substr(2), &q)) {
        q = 0;
      }
    }
    if (q > 0) return true;
  }
  return false;
}

std::string Gzip(absl::string_view data, int level) {
  z_stream z{};
  // 16 + MAX_WBITS: the gzip wrapper; memory level 8 is zlib's default.
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return "";
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return result == Z_STREAM_END ? out : "";
}

void SetBody(const httplib::Request& req, httplib::Response& res,
             std::string body, const std::string& content_type) {
  if (body.size() >= kGzipMinBytes) {
    res.set_header("Vary", "Accept-Encoding");
    if (AcceptsGzip(req.get_header_value("Accept-Encoding"))) {
      std::string gzipped = Gzip(body, 1);
      if (!gzipped.empty()) {
        body = std::move(gzipped);
        res.set_header("Content-Encoding", "gzip");
      }
    }
  }
  if (body.empty()) {
    res.set_content("", content_type);
    return;
  }
  // A content provider with a length is written as is: the library
  // compresses only bodies and chunked providers.
  auto shared = std::make_shared<const std::string>(std::move(body));
  res.set_content_provider(
      shared->size(), content_type,
      [shared](size_t offset, size_t length, httplib::DataSink& sink) {
        return sink.write(shared->data() + offset, length);
      });
}

}  // namespace vla::http
