// A small HTTP client on libcurl for tests of vlad's HTTP/JSON listener:
// one keep-alive connection per HttpClient, whole responses, and streams
// read line by line.
//
//   HttpClient http("http://127.0.0.1:8080");
//   HttpResult r = http.Call("GET", "/v1/teams", "", {"Authorization: Bearer
//   t"}); r.status, r.body, r.Header("x-request-id")
#ifndef VLA_TESTS_HTTP_CLIENT_H_
#define VLA_TESTS_HTTP_CLIENT_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vla::testing {

struct HttpResult {
  int status = 0;  // 0: no answer (curl_error says why)
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string curl_error;
  // A header's value, "" when absent; `name` in lower case.
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct TlsFiles {
  std::string ca;    // verifies the server
  std::string cert;  // client certificate (mutual TLS), optional
  std::string key;
};

class HttpClient {
 public:
  // `base`: "http://127.0.0.1:PORT" or "https://...".
  explicit HttpClient(std::string base, TlsFiles tls = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `headers` are "Name: value" lines; a body gets "Content-Type:
  // application/json" unless one is given.
  HttpResult Call(const std::string& method, const std::string& path,
                  const std::string& body = "",
                  std::vector<std::string> headers = {});

  // GET `path` as a stream: `on_line` gets each line as it arrives (without
  // the newline) and returns false to stop reading. Ends at the latest after
  // `timeout_ms`.
  HttpResult Stream(const std::string& path, std::vector<std::string> headers,
                    const std::function<bool(const std::string&)>& on_line,
                    long timeout_ms = 10000);

 private:
  std::string base_;
  TlsFiles tls_;
  void* curl_;  // CURL*
};

}  // namespace vla::testing

#endif  // VLA_TESTS_HTTP_CLIENT_H_
