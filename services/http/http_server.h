// The HTTP/1.1 listener of vlad (--http_listen): every annotated method of
// the hosted services as JSON over HTTP (routes.h, transcoder.h), the
// webhooks (webhooks.h) and GET /v1/openapi.json, on cpp-httplib (Debian's
// libcpp-httplib; why this one: docs/http.md).
//
// Each request is transcoded and called through `api` (an in-process
// channel to the same gRPC server, without credentials of its own), with
// the caller's `Authorization` header and request id as metadata, so the
// gRPC code enforces tokens, roles and limits, counts metrics and logs
// failures, exactly as for a gRPC client.
//
// Threads: `threads` workers, each serving one connection at a time
// (keep-alive included); further connections wait in the accept queue. A
// server stream holds its worker, so at most `max_streams` are open at once
// (more: 429), leaving workers for unary calls; a stream whose client went
// away is noticed within 250 ms (the socket is checked while idle) and ends.
// Stop() stops accepting and waits for the workers (streams end with the
// gRPC server's shutdown; idle keep-alive connections within their
// timeout).
#ifndef VLA_SERVICES_HTTP_HTTP_SERVER_H_
#define VLA_SERVICES_HTTP_HTTP_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "services/common/metrics.h"
#include "services/http/grpc_caller.h"
#include "services/http/routes.h"
#include "services/http/static_assets.h"
#include "services/http/tls_files.h"
#include "services/http/webhooks.h"

namespace httplib {
class Server;
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace vla::http {

struct HttpOptions {
  // HOST:PORT; port 0 picks a free port (see HttpServer::port()).
  std::string listen;
  // Worker threads: the most connections served at once.
  int threads = 32;
  // Of which at most this many may hold a server stream.
  int max_streams = 16;
  // Largest request body; larger: 413.
  int64_t max_body_bytes = 4 << 20;
  // An idle keep-alive connection is closed after this long.
  absl::Duration keep_alive_timeout = absl::Seconds(5);
  // A stream with nothing to send writes a heartbeat this often (an empty
  // line in NDJSON, a comment in SSE), so that proxies keep it open.
  absl::Duration stream_heartbeat = absl::Seconds(15);
  // TLS from the gRPC port's files when tls_cert is set.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  absl::Duration tls_refresh_interval = absl::Seconds(60);
  // Files served at their paths by GET and HEAD without authentication (the
  // dashboard: DashboardAssets()); they must outlive the server.
  absl::Span<const StaticAsset> static_assets;
};

class HttpServer {
 public:
  // Serves the annotated methods of `services` through `api`; `webhooks`
  // may be null (the webhook routes answer 404). `metrics` may be null.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpOptions& options,
      const std::vector<const google::protobuf::ServiceDescriptor*>& services,
      std::shared_ptr<grpc::Channel> api, std::unique_ptr<Webhooks> webhooks,
      metrics::Registry* metrics);
  ~HttpServer();

  int port() const { return port_; }
  // Stops accepting, lets requests in flight finish (streams end when the
  // gRPC server ends them), then returns. Idempotent.
  void Stop();

 private:
  HttpServer(const HttpOptions& options, RouteTable routes,
             std::shared_ptr<grpc::Channel> api);
  void Handle(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader* reader);
  void Unary(httplib::Response& res, const Route& route,
             const google::protobuf::Message& request,
             const CallMetadata& metadata);
  void Stream(httplib::Response& res, const Route& route,
              const google::protobuf::Message& request,
              const CallMetadata& metadata, bool sse);

  HttpOptions options_;
  RouteTable routes_;
  GrpcCaller caller_;
  std::unique_ptr<Webhooks> webhooks_;
  std::unique_ptr<TlsFiles> tls_;
  std::string openapi_;
  std::atomic<int> open_streams_{0};
  metrics::Counter responses_[6];  // by status class: 1xx..5xx, other
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;  // runs the accept loop
  int port_ = 0;
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_HTTP_SERVER_H_
