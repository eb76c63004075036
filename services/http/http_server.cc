#include "services/http/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "google/protobuf/message.h"
#include "services/common/request_id.h"
#include "services/http/encoding.h"
#include "services/http/openapi.h"
#include "services/http/transcoder.h"

namespace vla::http {
namespace {

constexpr char kOpenApiPath[] = "/v1/openapi.json";
constexpr absl::string_view kWebhookPrefix = "/v1/webhooks/";
constexpr char kJson[] = "application/json";
// How often an idle stream checks its client and its heartbeat; also how
// long a stream waits for its first message before answering its headers.
constexpr absl::Duration kStreamPoll = absl::Milliseconds(250);

using Headers = std::vector<std::pair<std::string, std::string>>;

void Send(httplib::Response& res, int status, const std::string& content_type,
          std::string body, const std::string& request_id,
          const Headers& extra = {}) {
  res.status = status;
  res.set_header("X-Request-Id", request_id);
  for (const auto& [name, value] : extra) res.set_header(name, value);
  res.set_content(std::move(body), content_type);
}

// A whole answer (not a stream, not a static file: those set a content
// provider) leaves through SetBody: gzip when it gains, never the library's
// own compression (encoding.h).
void Encode(const httplib::Request& req, httplib::Response& res) {
  if (res.content_provider_ || res.body.empty()) return;
  const std::string content_type = res.get_header_value("Content-Type");
  res.headers.erase("Content-Type");
  SetBody(req, res, std::move(res.body), content_type);
  res.body.clear();
}

// Google's error shape; `http_status` 0: the status of the code.
void SendError(httplib::Response& res, const absl::Status& status,
               const std::string& request_id, int http_status = 0,
               const Headers& extra = {}) {
  const int code = http_status ? http_status : HttpStatusOf(status.code());
  Send(res, code, kJson, ErrorJson(status, code), request_id, extra);
}

// Whether a request's Content-Type is JSON ("application/json", parameters
// such as "; charset=utf-8" allowed).
bool IsJson(absl::string_view content_type) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(
             content_type.substr(0, content_type.find(';')))) == kJson;
}

// Splits "HOST:PORT"; false when malformed.
bool SplitListen(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = listen.substr(0, colon);
  return absl::SimpleAtoi(listen.substr(colon + 1), port) && *port >= 0 &&
         *port <= 65535;
}

}  // namespace

HttpServer::HttpServer(const HttpOptions& options, RouteTable routes,
                       std::shared_ptr<grpc::Channel> api)
    : options_(options), routes_(std::move(routes)), caller_(std::move(api)) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpOptions& options,
    const std::vector<const google::protobuf::ServiceDescriptor*>& services,
    std::shared_ptr<grpc::Channel> api, std::unique_ptr<Webhooks> webhooks,
    metrics::Registry* metrics) {
  if (options.threads < 2 || options.threads > 1024) {
    return absl::InvalidArgumentError("http_threads: must be in [2, 1024]");
  }
  if (options.max_streams < 0 || options.max_streams >= options.threads) {
    return absl::InvalidArgumentError(
        "http_max_streams: must be in [0, http_threads)");
  }
  if (options.max_body_bytes <= 0) {
    return absl::InvalidArgumentError("http_max_body_bytes: must be positive");
  }
  if (options.stream_heartbeat < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "http_stream_heartbeat: must be at least 1s");
  }
  if (options.keep_alive_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "http_keep_alive_timeout: must be at least 1s");
  }
  std::string host;
  int port = 0;
  if (!SplitListen(options.listen, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("http_listen: \"", options.listen, "\" is not HOST:PORT"));
  }
  absl::StatusOr<RouteTable> routes = RouteTable::FromServices(services);
  if (!routes.ok()) return routes.status();
  auto server = std::unique_ptr<HttpServer>(
      new HttpServer(options, *std::move(routes), std::move(api)));
  server->webhooks_ = std::move(webhooks);
  server->openapi_ = OpenApiDocument(
      server->routes_,
      {{"POST", "/v1/webhooks/jira", "Jira webhook (X-Hub-Signature)", kJson},
       {"POST", "/v1/webhooks/servicenow",
        "ServiceNow business rule (X-VLA-Webhook-Token)", kJson},
       {"GET", kOpenApiPath, "This document", ""}});
  if (metrics != nullptr) {
    static const char* const kClasses[] = {"1xx", "2xx", "3xx",
                                           "4xx", "5xx", "other"};
    for (int i = 0; i < 6; ++i) {
      server->responses_[i] = metrics->GetCounter(
          "vla_http_responses_total",
          "HTTP responses of --http_listen by status class.",
          {{"class", kClasses[i]}});
    }
  }

  HttpServer* self = server.get();
  if (!options.tls_cert.empty()) {
    absl::StatusOr<std::unique_ptr<TlsFiles>> files =
        TlsFiles::Load(options.tls_cert, options.tls_key, options.tls_client_ca,
                       options.tls_refresh_interval);
    if (!files.ok()) return files.status();
    server->tls_ = *std::move(files);
    server->http_ = std::make_unique<httplib::SSLServer>(
        [self](SSL_CTX& ctx) { return self->tls_->Configure(&ctx).ok(); });
    if (!server->http_->is_valid()) {
      return absl::InvalidArgumentError("http_listen: TLS setup failed");
    }
  } else {
    server->http_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *server->http_;
  const int threads = options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_keep_alive_max_count(std::numeric_limits<int>::max());
  http.set_keep_alive_timeout(
      static_cast<time_t>(absl::ToInt64Seconds(options.keep_alive_timeout)));
  http.set_tcp_nodelay(true);
  // The body limit is checked by Handle (to answer it in the error shape).
  const auto plain = [self](const httplib::Request& req,
                            httplib::Response& res) {
    self->Handle(req, res, nullptr);
    Encode(req, res);
  };
  const auto with_body = [self](const httplib::Request& req,
                                httplib::Response& res,
                                const httplib::ContentReader& reader) {
    self->Handle(req, res, &reader);
    Encode(req, res);
  };
  http.Get(".*", plain);
  http.Options(".*", plain);
  http.Post(".*", with_body);
  http.Put(".*", with_body);
  http.Patch(".*", with_body);
  http.Delete(".*", with_body);
  http.set_logger([self](const httplib::Request&, const httplib::Response& r) {
    const int cls = r.status >= 100 && r.status < 600 ? r.status / 100 - 1 : 5;
    self->responses_[cls].Increment();
  });
  const bool bound = port == 0
                         ? (server->port_ = http.bind_to_any_port(host)) > 0
                         : http.bind_to_port(host, port);
  if (!bound) {
    return absl::UnavailableError(
        absl::StrCat("http_listen: cannot listen on ", options.listen));
  }
  if (port != 0) server->port_ = port;
  server->thread_ = std::thread([self] { self->http_->listen_after_bind(); });
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

void HttpServer::Handle(const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader* reader) {
  if (ServeStaticAsset(options_.static_assets, req, res)) return;
  const std::string request_id =
      RequestIdOrNew(req.get_header_value("X-Request-Id"));
  const std::string& path = req.path;
  QueryParams query(req.params.begin(), req.params.end());

  if (path == kOpenApiPath) {
    if (req.method != "GET") {
      return SendError(res, absl::UnimplementedError("use GET"), request_id,
                       405, {{"Allow", "GET"}});
    }
    return Send(res, 200, kJson, openapi_, request_id);
  }

  const bool webhook = absl::StartsWith(path, kWebhookPrefix);
  RouteMatch match;
  if (!webhook) {
    match = routes_.Find(req.method, path);
    if (match.route == nullptr) {
      if (match.allowed.empty()) {
        return SendError(
            res,
            absl::NotFoundError(absl::StrCat(
                "no route for ", req.method, " ", path.substr(0, 200), " (GET ",
                kOpenApiPath, " lists the routes)")),
            request_id);
      }
      const std::string allowed = absl::StrJoin(match.allowed, ", ");
      return SendError(res,
                       absl::UnimplementedError(absl::StrCat(
                           req.method, " is not served on ",
                           path.substr(0, 200), "; use ", allowed)),
                       request_id, 405, {{"Allow", allowed}});
    }
  } else if (req.method != "POST") {
    return SendError(res, absl::UnimplementedError("webhooks take POST"),
                     request_id, 405, {{"Allow", "POST"}});
  }

  // The body, within --http_max_body_bytes.
  std::string body = req.body;
  const auto too_large = [&] {
    res.set_header("Connection", "close");  // the rest of it is not read
    SendError(res,
              absl::ResourceExhaustedError(
                  absl::StrCat("body: larger than ", options_.max_body_bytes,
                               " bytes (--http_max_body_bytes)")),
              request_id, 413);
  };
  if (reader != nullptr) {
    int64_t length = 0;
    if (absl::SimpleAtoi(req.get_header_value("Content-Length"), &length) &&
        length > options_.max_body_bytes) {
      return too_large();
    }
    bool over = false;
    (*reader)([&](const char* data, size_t n) {
      if (static_cast<int64_t>(body.size() + n) > options_.max_body_bytes) {
        over = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (over) return too_large();
  }
  if (!body.empty() && !IsJson(req.get_header_value("Content-Type"))) {
    return SendError(res,
                     absl::InvalidArgumentError(absl::StrCat(
                         "Content-Type: \"",
                         req.get_header_value("Content-Type").substr(0, 80),
                         "\" is not application/json")),
                     request_id, 415);
  }

  if (webhook) {
    if (webhooks_ == nullptr) {
      return SendError(
          res,
          absl::NotFoundError("no webhooks are configured (--webhook_config)"),
          request_id);
    }
    WebhookRequest request;
    request.source = path.substr(kWebhookPrefix.size());
    request.query = std::move(query);
    request.header = [&req](absl::string_view name) {
      return req.get_header_value(std::string(name));
    };
    request.body = body;
    request.request_id = request_id;
    const WebhookReply reply = webhooks_->Handle(request);
    return Send(res, reply.http_status, kJson, reply.json, request_id);
  }

  const Route& route = *match.route;
  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->input_type())
          ->New());
  if (absl::Status s =
          BuildRequest(route, match.bindings, query, body, request.get());
      !s.ok()) {
    return SendError(res, s, request_id);
  }
  const CallMetadata metadata{req.get_header_value("Authorization"),
                              request_id};
  if (route.method->server_streaming()) {
    const bool sse =
        absl::StrContains(req.get_header_value("Accept"), "text/event-stream");
    return Stream(res, route, *request, metadata, sse);
  }
  Unary(res, route, *request, metadata);
}

void HttpServer::Unary(httplib::Response& res, const Route& route,
                       const google::protobuf::Message& request,
                       const CallMetadata& metadata) {
  std::unique_ptr<google::protobuf::Message> response(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->output_type())
          ->New());
  const absl::Status s =
      caller_.Unary(route.grpc_method, request, metadata, response.get());
  if (!s.ok()) return SendError(res, s, metadata.request_id);
  Send(res, 200, kJson, ToJson(*response), metadata.request_id);
}

void HttpServer::Stream(httplib::Response& res, const Route& route,
                        const google::protobuf::Message& request,
                        const CallMetadata& metadata, bool sse) {
  if (open_streams_.fetch_add(1) >= options_.max_streams) {
    open_streams_.fetch_sub(1);
    return SendError(res,
                     absl::ResourceExhaustedError(absl::StrCat(
                         "too many open streams (--http_max_streams=",
                         options_.max_streams, "); retry later")),
                     metadata.request_id);
  }
  std::shared_ptr<ServerStreamCall> call = caller_.ServerStream(
      route.grpc_method, request,
      *google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          route.method->output_type()),
      metadata);
  // An error before the first message (auth, a bad filter) is an ordinary
  // error answer; after it, the stream's last object.
  const ServerStreamCall::Event first = call->Next(kStreamPoll);
  if (first == ServerStreamCall::Event::kDone && !call->status().ok()) {
    open_streams_.fetch_sub(1);
    return SendError(res, call->status(), metadata.request_id);
  }
  res.status = 200;
  res.set_header("X-Request-Id", metadata.request_id);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // proxies: do not buffer
  const absl::Duration heartbeat = options_.stream_heartbeat;
  res.set_chunked_content_provider(
      sse ? "text/event-stream" : "application/x-ndjson",
      [call, first, sse, heartbeat](size_t, httplib::DataSink& sink) {
        absl::Time last_write = absl::Now();
        const auto write = [&](const std::string& text) {
          last_write = absl::Now();
          return sink.write(text.data(), text.size());
        };
        for (ServerStreamCall::Event event = first;;
             event = call->Next(kStreamPoll)) {
          switch (event) {
            case ServerStreamCall::Event::kMessage: {
              const std::string json = ToJson(call->message());
              if (!write(sse ? absl::StrCat("data: ", json, "\n\n")
                             : absl::StrCat(json, "\n"))) {
                call->Cancel();
                return false;
              }
              break;
            }
            case ServerStreamCall::Event::kIdle:
              if (!sink.is_writable()) {  // the client went away
                call->Cancel();
                return false;
              }
              if (absl::Now() - last_write >= heartbeat &&
                  !write(sse ? ": heartbeat\n\n" : "\n")) {
                call->Cancel();
                return false;
              }
              break;
            case ServerStreamCall::Event::kDone:
              if (!call->status().ok()) {
                const std::string error = ErrorJson(call->status());
                write(sse ? absl::StrCat("event: error\ndata: ", error, "\n\n")
                          : absl::StrCat(error, "\n"));
              }
              sink.done();
              return true;
          }
        }
      },
      [this, call](bool) {
        call->Cancel();
        open_streams_.fetch_sub(1);
      });
}

}  // namespace vla::http
