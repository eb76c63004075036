#include "tests/http_client.h"

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vla::testing {
namespace {

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  const absl::string_view line(data, size * n);
  auto* result = static_cast<HttpResult*>(out);
  if (absl::StartsWith(line, "HTTP/")) {
    result->headers.clear();  // a new response (e.g. after 100 Continue)
    const size_t space = line.find(' ');
    int status = 0;
    if (space != absl::string_view::npos &&
        absl::SimpleAtoi(line.substr(space + 1, 3), &status)) {
      result->status = status;
    }
  } else if (const size_t colon = line.find(':');
             colon != absl::string_view::npos) {
    result->headers[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * n;
}

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct LineReader {
  std::string pending;
  std::string* all;
  const std::function<bool(const std::string&)>* on_line;
  bool stopped = false;
};

size_t ReadLines(char* data, size_t size, size_t n, void* out) {
  auto* reader = static_cast<LineReader*>(out);
  reader->all->append(data, size * n);
  reader->pending.append(data, size * n);
  for (size_t nl; (nl = reader->pending.find('\n')) != std::string::npos;) {
    const std::string line = reader->pending.substr(0, nl);
    reader->pending.erase(0, nl + 1);
    if (!(*reader->on_line)(line)) {
      reader->stopped = true;
      return 0;  // aborts the transfer
    }
  }
  return size * n;
}

curl_slist* Headers(const std::vector<std::string>& headers) {
  curl_slist* list = nullptr;
  for (const std::string& h : headers)
    list = curl_slist_append(list, h.c_str());
  return list;
}

}  // namespace

HttpClient::HttpClient(std::string base, TlsFiles tls)
    : base_(std::move(base)), tls_(std::move(tls)), curl_(curl_easy_init()) {}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResult HttpClient::Call(const std::string& method, const std::string& path,
                            const std::string& body,
                            std::vector<std::string> headers) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  HttpResult result;
  const std::string url = base_ + path;
  bool has_type = false;
  for (const std::string& h : headers) {
    has_type |= absl::StartsWithIgnoreCase(h, "content-type:");
  }
  if (!body.empty() && !has_type) {
    headers.push_back("Content-Type: application/json");
  }
  headers.push_back("Expect:");  // no 100-continue round trip
  curl_slist* list = Headers(headers);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  if (!tls_.ca.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, tls_.ca.c_str());
    if (!tls_.cert.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, tls_.cert.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEY, tls_.key.c_str());
    }
  }
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    result.status = 0;
    result.curl_error = curl_easy_strerror(code);
  }
  curl_slist_free_all(list);
  return result;
}

HttpResult HttpClient::Stream(
    const std::string& path, std::vector<std::string> headers,
    const std::function<bool(const std::string&)>& on_line, long timeout_ms) {
  CURL* curl = curl_easy_init();
  HttpResult result;
  LineReader reader{"", &result.body, &on_line};
  const std::string url = base_ + path;
  curl_slist* list = Headers(headers);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &ReadLines);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reader);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (!tls_.ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls_.ca.c_str());
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK && !reader.stopped) {
    result.curl_error = curl_easy_strerror(code);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

}  // namespace vla::testing
