#include "services/http/http_server.h"

#include <civetweb.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/message.h"
#include "services/common/log.h"
#include "services/common/request_id.h"
#include "services/http/openapi.h"
#include "services/http/transcoder.h"

namespace vla::http {
namespace {

constexpr char kOpenApiPath[] = "/v1/openapi.json";
constexpr absl::string_view kWebhookPrefix = "/v1/webhooks/";
constexpr char kJson[] = "application/json";

// The value of a request header, "" when absent.
std::string Header(mg_connection* conn, const char* name) {
  const char* v = mg_get_header(conn, name);
  return v == nullptr ? "" : v;
}

// One whole response with a body.
int Send(mg_connection* conn, int status, absl::string_view content_type,
         absl::string_view body, const std::string& request_id,
         const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", content_type.data(),
                         static_cast<int>(content_type.size()));
  const std::string length = absl::StrCat(body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "X-Request-Id", request_id.c_str(), -1);
  for (const auto& [name, value] : extra) {
    mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
  }
  mg_response_header_send(conn);
  mg_write(conn, body.data(), body.size());
  return status;
}

int SendError(
    mg_connection* conn, const absl::Status& status,
    const std::string& request_id, int http_status = 0,
    const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  const int code = http_status ? http_status : HttpStatusOf(status.code());
  return Send(conn, code, kJson, ErrorJson(status, code), request_id, extra);
}

// Whether a request's Content-Type is JSON ("application/json", parameters
// such as "; charset=utf-8" allowed).
bool IsJson(absl::string_view content_type) {
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      content_type.substr(0, content_type.find(';'))));
  return t == kJson;
}

// The body, or a status and HTTP code (413 when over `max`).
struct Body {
  std::string text;
  absl::Status error;
  int http_status = 0;
};
Body ReadBody(mg_connection* conn, int64_t max) {
  Body body;
  const mg_request_info* info = mg_get_request_info(conn);
  const auto too_large = [&] {
    body.error = absl::ResourceExhaustedError(absl::StrCat(
        "body: larger than ", max, " bytes (--http_max_body_bytes)"));
    body.http_status = 413;
    return body;
  };
  if (info->content_length > max) return too_large();
  char buf[16384];
  for (int n; (n = mg_read(conn, buf, sizeof(buf))) > 0;) {
    if (static_cast<int64_t>(body.text.size()) + n > max) return too_large();
    body.text.append(buf, n);
  }
  return body;
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
  if (options.stream_heartbeat <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "http_stream_heartbeat: must be positive");
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

  const bool tls = !options.tls_cert.empty();
  if (tls) {
    absl::StatusOr<std::unique_ptr<TlsFiles>> files =
        TlsFiles::Load(options.tls_cert, options.tls_key, options.tls_client_ca,
                       options.tls_refresh_interval);
    if (!files.ok()) return files.status();
    server->tls_ = *std::move(files);
    if (mg_check_feature(MG_FEATURES_TLS) == 0) {
      return absl::FailedPreconditionError(
          "http_listen: this CivetWeb was built without TLS");
    }
  }
  // The return value of CivetWeb 1.15 is 0 whether or not it worked; a TLS
  // setup that failed (CivetWeb opens libssl.so and libcrypto.so at run
  // time) makes mg_start fail below.
  mg_init_library(tls ? MG_FEATURES_TLS : 0);
  const std::string ports = absl::StrCat(options.listen, tls ? "s" : "");
  const std::string threads = absl::StrCat(options.threads);
  const std::string keep_alive =
      absl::StrCat(absl::ToInt64Milliseconds(options.keep_alive_timeout));
  const char* config[] = {"listening_ports",
                          ports.c_str(),
                          "num_threads",
                          threads.c_str(),
                          "enable_keep_alive",
                          "yes",
                          "keep_alive_timeout_ms",
                          keep_alive.c_str(),
                          "request_timeout_ms",
                          "30000",
                          "tcp_nodelay",
                          "1",
                          nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = &HttpServer::LogMessage;
  if (tls) callbacks.init_ssl = &HttpServer::InitTls;
  server->ctx_ = mg_start(&callbacks, server.get(), config);
  if (server->ctx_ == nullptr) {
    mg_exit_library();
    return absl::UnavailableError(absl::StrCat(
        "http_listen: cannot listen on ", options.listen,
        tls ? " (or TLS could not be set up: CivetWeb needs libssl.so and "
              "libcrypto.so)"
            : ""));
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::HandleRequest,
                         server.get());
  mg_server_port port;
  if (mg_get_server_ports(server->ctx_, 1, &port) < 1) {
    server->Stop();
    return absl::UnavailableError("http_listen: no port bound");
  }
  server->port_ = port.port;
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (ctx_ == nullptr) return;
  stopping_ = true;
  mg_stop(ctx_);
  ctx_ = nullptr;
  mg_exit_library();
}

int HttpServer::InitTls(void* ssl_ctx, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const absl::Status s =
      server->tls_->Configure(static_cast<SSL_CTX*>(ssl_ctx));
  if (!s.ok()) {
    Log(LogLevel::kError, "http TLS setup failed", {{"error", s.ToString()}});
    return -1;
  }
  return 1;  // configured here; CivetWeb loads no certificate itself
}

int HttpServer::LogMessage(const mg_connection*, const char* message) {
  Log(LogLevel::kWarning, "http server", {{"message", message}});
  return 1;
}

int HttpServer::HandleRequest(mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const int status = server->Handle(conn);
  const int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
  server->responses_[cls].Increment();
  return status;
}

int HttpServer::Handle(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string request_id = RequestIdOrNew(Header(conn, "X-Request-Id"));
  const std::string method = info->request_method;
  const std::string path =
      info->local_uri_raw != nullptr ? info->local_uri_raw : "";
  absl::StatusOr<QueryParams> query =
      ParseQuery(info->query_string != nullptr ? info->query_string : "");
  if (!query.ok()) return SendError(conn, query.status(), request_id);

  if (path == kOpenApiPath) {
    if (method != "GET") {
      return SendError(conn, absl::UnimplementedError("use GET"), request_id,
                       405, {{"Allow", "GET"}});
    }
    return Send(conn, 200, kJson, openapi_, request_id);
  }

  const bool webhook = absl::StartsWith(path, kWebhookPrefix);
  RouteMatch match;
  if (!webhook) {
    match = routes_.Find(method, path);
    if (match.route == nullptr) {
      if (match.allowed.empty()) {
        return SendError(conn,
                         absl::NotFoundError(absl::StrCat(
                             "no route for ", method, " ", path.substr(0, 200),
                             " (GET ", kOpenApiPath, " lists the routes)")),
                         request_id);
      }
      return SendError(conn,
                       absl::UnimplementedError(absl::StrCat(
                           method, " is not served on ", path.substr(0, 200),
                           "; use ", absl::StrJoin(match.allowed, ", "))),
                       request_id, 405,
                       {{"Allow", absl::StrJoin(match.allowed, ", ")}});
    }
  } else if (method != "POST") {
    return SendError(conn, absl::UnimplementedError("webhooks take POST"),
                     request_id, 405, {{"Allow", "POST"}});
  }

  Body body = ReadBody(conn, options_.max_body_bytes);
  if (!body.error.ok()) {
    return SendError(conn, body.error, request_id, body.http_status);
  }
  if (!body.text.empty() && !IsJson(Header(conn, "Content-Type"))) {
    return SendError(
        conn,
        absl::InvalidArgumentError(absl::StrCat(
            "Content-Type: \"", Header(conn, "Content-Type").substr(0, 80),
            "\" is not application/json")),
        request_id, 415);
  }
  if (webhook) {
    return Webhook(conn, path.substr(kWebhookPrefix.size()), *query, body.text,
                   request_id);
  }

  const Route& route = *match.route;
  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->input_type())
          ->New());
  if (absl::Status s =
          BuildRequest(route, match.bindings, *query, body.text, request.get());
      !s.ok()) {
    return SendError(conn, s, request_id);
  }
  const CallMetadata metadata{Header(conn, "Authorization"), request_id};
  if (route.method->server_streaming()) {
    const bool sse =
        absl::StrContains(Header(conn, "Accept"), "text/event-stream");
    return Stream(conn, route, *request, metadata, sse);
  }
  return Unary(conn, route, *request, metadata);
}

int HttpServer::Unary(mg_connection* conn, const Route& route,
                      const google::protobuf::Message& request,
                      const CallMetadata& metadata) {
  std::unique_ptr<google::protobuf::Message> response(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(route.method->output_type())
          ->New());
  const absl::Status s =
      caller_.Unary(route.grpc_method, request, metadata, response.get());
  if (!s.ok()) return SendError(conn, s, metadata.request_id);
  return Send(conn, 200, kJson, ToJson(*response), metadata.request_id);
}

int HttpServer::Stream(mg_connection* conn, const Route& route,
                       const google::protobuf::Message& request,
                       const CallMetadata& metadata, bool sse) {
  if (open_streams_.fetch_add(1) >= options_.max_streams) {
    open_streams_.fetch_sub(1);
    return SendError(conn,
                     absl::ResourceExhaustedError(absl::StrCat(
                         "too many open streams (--http_max_streams=",
                         options_.max_streams, "); retry later")),
                     metadata.request_id);
  }
  bool headers_sent = false;
  bool client_gone = false;
  absl::Time last_write = absl::Now();
  const auto send_headers = [&] {
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type",
                           sse ? "text/event-stream" : "application/x-ndjson",
                           -1);
    mg_response_header_add(conn, "Cache-Control", "no-cache", -1);
    mg_response_header_add(conn, "X-Accel-Buffering", "no", -1);
    mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
    mg_response_header_add(conn, "X-Request-Id", metadata.request_id.c_str(),
                           -1);
    mg_response_header_send(conn);
    headers_sent = true;
  };
  const auto write = [&](const std::string& chunk) {
    if (!headers_sent) send_headers();
    last_write = absl::Now();
    client_gone =
        client_gone || mg_send_chunk(conn, chunk.data(),
                                     static_cast<unsigned>(chunk.size())) <= 0;
    return !client_gone;
  };
  GrpcCaller::StreamCallbacks callbacks;
  callbacks.on_message = [&](const google::protobuf::Message& m) {
    const std::string json = ToJson(m);
    return write(sse ? absl::StrCat("data: ", json, "\n\n")
                     : absl::StrCat(json, "\n"));
  };
  callbacks.on_idle = [&] {
    // A stream that has sent nothing yet (e.g. WatchChanges from the latest
    // revision) still answers its headers after the first idle period.
    if (!headers_sent) send_headers();
    if (absl::Now() - last_write >= options_.stream_heartbeat) {
      return write(sse ? ": heartbeat\n\n" : "\n");
    }
    return true;
  };
  const absl::Duration idle =
      std::min(absl::Milliseconds(250), options_.stream_heartbeat);
  const absl::Status status = caller_.ServerStream(
      route.grpc_method, request,
      *google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          route.method->output_type()),
      metadata, idle, callbacks);
  open_streams_.fetch_sub(1);
  if (!headers_sent) {
    if (!status.ok()) return SendError(conn, status, metadata.request_id);
    send_headers();
  } else if (!status.ok() && !client_gone) {
    // After the headers, an error is the stream's last object.
    const std::string error = ErrorJson(status);
    write(sse ? absl::StrCat("event: error\ndata: ", error, "\n\n")
              : absl::StrCat(error, "\n"));
  }
  if (!client_gone) mg_send_chunk(conn, "", 0);
  return 200;
}

int HttpServer::Webhook(mg_connection* conn, const std::string& source,
                        const QueryParams& query, const std::string& body,
                        const std::string& request_id) {
  if (webhooks_ == nullptr) {
    return SendError(conn,
                     absl::NotFoundError("no webhooks are configured "
                                         "(--webhook_config)"),
                     request_id);
  }
  WebhookRequest request;
  request.source = source;
  request.query = query;
  request.header = [conn](absl::string_view name) {
    return Header(conn, std::string(name).c_str());
  };
  request.body = body;
  request.request_id = request_id;
  const WebhookReply reply = webhooks_->Handle(request);
  return Send(conn, reply.http_status, kJson, reply.json, request_id);
}

}  // namespace vla::http
