#include "services/server/server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "services/common/disk_space.h"
#include "services/common/sqlite_util.h"
#include "services/http/http_server.h"
#include "services/http/webhook_config.h"
#include "services/server/metrics_http.h"
#include "services/server/modules.h"
#include "services/server/reflection_service.h"
#include "services/server/rpc_observer.h"
#include "services/server/security.h"

namespace vla {
namespace {

// Message sizes, streams, memory and keepalive (services/server/README.md).
absl::Status ApplyLimits(const ServerOptions& options,
                         grpc::ServerBuilder* builder) {
  constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
  if (options.max_message_bytes <= 0 || options.max_message_bytes > kMaxInt) {
    return absl::InvalidArgumentError(
        "max_message_bytes: must be in [1, 2^31)");
  }
  if (options.max_ingest_message_bytes <= 0 ||
      options.max_ingest_message_bytes > kMaxInt) {
    return absl::InvalidArgumentError(
        "max_ingest_message_bytes: must be in [1, 2^31)");
  }
  if (options.max_concurrent_streams <= 0) {
    return absl::InvalidArgumentError(
        "max_concurrent_streams: must be positive");
  }
  if (options.max_ingest_batch_records <= 0) {
    return absl::InvalidArgumentError(
        "max_ingest_batch_records: must be positive");
  }
  // gRPC enforces the larger limit; AccessGuard the per-method one.
  builder->SetMaxReceiveMessageSize(static_cast<int>(
      std::max(options.max_message_bytes, options.max_ingest_message_bytes)));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                              options.max_concurrent_streams);
  if (options.memory_quota_bytes > 0) {
    grpc::ResourceQuota quota("vlad");
    quota.Resize(static_cast<size_t>(options.memory_quota_bytes));
    builder->SetResourceQuota(quota);
  }
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(
          absl::ToInt64Milliseconds(options.keepalive_min_ping_interval)));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                              options.keepalive_permit_without_calls ? 1 : 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // No channelz service is served: its per-message socket counters are work
  // for nobody (measurable with thousands of watch streams).
  builder->AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  return absl::OkStatus();
}

// Answers every call the health service does not with UNIMPLEMENTED, on the
// --health_listen port (gRPC also needs one callback service there).
class HealthOnlyFallback final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "this port serves only grpc.health.v1"));
      }
      void OnDone() override { delete this; }
    };
    return new Reactor();
  }
};

// vla_data_free_bytes: free space of the data folder's file system, read at
// each scrape; vla_storage_errors_total{kind}: storage errors of every
// service (kind "full": the file system or database was full).
void AddStorageMetrics(metrics::Registry* registry,
                       const std::string& data_dir) {
  registry->AddSampled(
      "vla_data_free_bytes",
      "Bytes free on the file system of --data_dir (statvfs f_bavail).",
      metrics::Registry::Type::kGauge, {}, [data_dir] {
        return static_cast<double>(FreeBytes(data_dir).value_or(0));
      });
  for (const bool full : {true, false}) {
    registry->AddSampled(
        "vla_storage_errors_total",
        "Storage errors of every service; kind=\"full\": the disk or "
        "database was full.",
        metrics::Registry::Type::kCounter, {{"kind", full ? "full" : "other"}},
        [full] { return static_cast<double>(StorageErrors(full)); });
  }
}

// options.advertise_address, else the listen host (the host name for a
// wildcard) with the bound port.
std::string AdvertisedAddress(const ServerOptions& options, int port) {
  if (!options.advertise_address.empty()) return options.advertise_address;
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 ? name : "localhost";
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

Server::Server() : metrics_(std::make_unique<metrics::Registry>()) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  if (options.services.empty()) {
    return absl::InvalidArgumentError(
        "services: at least one service is required");
  }
  if (options.snapshot_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "snapshot_interval: must not be negative (0: snapshots only at "
        "shutdown)");
  }
  if (!(options.snapshot_cpu_share > 0 && options.snapshot_cpu_share <= 1)) {
    return absl::InvalidArgumentError(
        "snapshot_cpu_share: must be in (0, 1] (1: no pauses)");
  }
  if (options.min_free_bytes < 0) {
    return absl::InvalidArgumentError(
        "min_free_bytes: must not be negative (0: no reserve)");
  }
  if (options.watch_queues < 1 || options.watch_queues > 64) {
    return absl::InvalidArgumentError("watch_queues: must be in [1, 64]");
  }
  if (options.watch_batch_bytes < 1024 ||
      options.watch_batch_bytes > (4 << 20)) {
    return absl::InvalidArgumentError(
        "watch_batch_bytes: must be in [1024, 4194304] (clients accept "
        "messages up to 4 MiB by default)");
  }
  if (options.health_check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "health_check_interval: must be positive");
  }
  if (options.database.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data_dir: cannot create ", options.data_dir, ": ", ec.message()));
    }
  }
  auto server = std::unique_ptr<Server>(new Server());
  server->options_ = options;
  VLA_RETURN_IF_ERROR(server->ConfigureAccess());
  AddStorageMetrics(server->metrics_.get(), options.data_dir);
  for (const std::string& name : options.services) {
    VLA_ASSIGN_OR_RETURN(
        auto module,
        MakeModule(name, options, &server->policy_, server->metrics_.get()));
    server->modules_.push_back(std::move(module));
  }
  VLA_ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(options));

  if (!options.metrics_listen.empty()) {
    VLA_ASSIGN_OR_RETURN(
        server->metrics_http_,
        MetricsHttpServer::Start(options.metrics_listen, *server->metrics_));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  VLA_RETURN_IF_ERROR(ApplyLimits(options, &builder));
  std::vector<std::string> names = {"grpc.health.v1.Health",
                                    "grpc.reflection.v1alpha.ServerReflection"};
  for (auto& module : server->modules_) {
    builder.RegisterService(module->service());
    names.push_back(module->grpc_service_name());
  }
  // Every call of every service passes the observer (metrics, request ids,
  // error logs).
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<RpcObserverFactory>(
      server->metrics_.get(), names, options.slow_rpc_threshold));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->reflection_ = std::make_unique<ReflectionService>(std::move(names));
  builder.RegisterService(server->reflection_.get());
  server->queues_ =
      std::make_unique<AsyncQueues>(&builder, options.watch_queues);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot listen on ", options.listen));
  }
  server->queues_->Start();
  for (auto& module : server->modules_) {
    module->ServeAsync(server->queues_.get());
  }
  if (!options.health_listen.empty()) {
    // Only the default health service, which every server built here gets.
    grpc::ServerBuilder health_builder;
    server->health_fallback_ = std::make_unique<HealthOnlyFallback>();
    health_builder.RegisterCallbackGenericService(
        server->health_fallback_.get());
    health_builder.AddListeningPort(options.health_listen,
                                    grpc::InsecureServerCredentials(),
                                    &server->health_port_);
    server->health_server_ = health_builder.BuildAndStart();
    if (server->health_server_ == nullptr || server->health_port_ == 0) {
      return absl::UnavailableError(absl::StrCat(
          "health_listen: cannot listen on ", options.health_listen));
    }
  }
  server->SetHealth(std::vector<bool>(server->modules_.size(), true));
  auto self = server->InProcessChannel();
  const std::string address = AdvertisedAddress(options, server->port_);
  for (auto& module : server->modules_) {
    VLA_RETURN_IF_ERROR(module->Start(self, address));
  }
  VLA_RETURN_IF_ERROR(server->StartHttp());
  server->health_thread_ = std::thread([p = server.get()] { p->HealthLoop(); });
  return server;
}

void Server::SetHealth(const std::vector<bool>& healthy) {
  bool all = true;
  for (bool h : healthy) all = all && h;
  for (grpc::Server* s : {server_.get(), health_server_.get()}) {
    if (s == nullptr) continue;
    auto* health = s->GetHealthCheckService();
    health->SetServingStatus("", all);
    // "liveness": SERVING while the process runs (until shutdown), whatever
    // its dependencies: restarting the process cures neither a lost
    // database nor a full disk, so liveness probes ask this one.
    health->SetServingStatus("liveness", true);
    for (size_t i = 0; i < modules_.size(); ++i) {
      health->SetServingStatus(modules_[i]->grpc_service_name(), healthy[i]);
      health->SetServingStatus(options_.services[i], healthy[i]);
    }
  }
}

void Server::HealthLoop() {
  std::vector<bool> healthy(modules_.size(), true);
  std::unique_lock<std::mutex> lock(health_mu_);
  while (!health_cv_.wait_for(
      lock, absl::ToChronoMilliseconds(options_.health_check_interval),
      [this] { return health_stopping_; })) {
    lock.unlock();
    std::vector<bool> now(modules_.size());
    for (size_t i = 0; i < modules_.size(); ++i) {
      const absl::Status s = modules_[i]->CheckHealth();
      now[i] = s.ok();
      if (now[i] != healthy[i]) {
        Log(now[i] ? LogLevel::kInfo : LogLevel::kError,
            now[i] ? "service serving again" : "service not serving",
            {{"service", options_.services[i]}, {"error", s.ToString()}});
      }
    }
    lock.lock();
    // Shutdown owns the health statuses from its start.
    if (health_stopping_) return;
    if (now != healthy) {
      healthy = now;
      SetHealth(healthy);
    }
  }
}

absl::Status Server::StartHttp() {
  if (options_.http_listen.empty()) {
    if (!options_.webhook_config.empty()) {
      return absl::InvalidArgumentError("webhook_config: needs --http_listen");
    }
    return absl::OkStatus();
  }
  std::unique_ptr<http::Webhooks> webhooks;
  if (!options_.webhook_config.empty()) {
    if (std::find(options_.services.begin(), options_.services.end(),
                  "evaluator") == options_.services.end()) {
      return absl::InvalidArgumentError(
          "webhook_config: the evaluator service must be hosted here");
    }
    VLA_ASSIGN_OR_RETURN(
        http::WebhookConfig config,
        http::WebhookConfig::FromFile(options_.webhook_config));
    // Webhooks are authenticated by their secrets, then ingest as this
    // server (its in-process token).
    webhooks = std::make_unique<http::Webhooks>(
        std::move(config), InProcessChannel(), metrics_.get());
  }
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  for (const auto& module : modules_) {
    const auto* d =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            module->grpc_service_name());
    if (d != nullptr) services.push_back(d);
  }
  http::HttpOptions o;
  o.listen = options_.http_listen;
  o.threads = options_.http_threads;
  o.max_streams = options_.http_max_streams;
  o.max_body_bytes = options_.http_max_body_bytes;
  o.keep_alive_timeout = options_.http_keep_alive_timeout;
  o.stream_heartbeat = options_.http_stream_heartbeat;
  o.tls_cert = options_.tls_cert;
  o.tls_key = options_.tls_key;
  o.tls_client_ca = options_.tls_client_ca;
  o.tls_refresh_interval = options_.tls_refresh_interval;
  o.static_assets = options_.static_assets;
  // The HTTP caller's own token travels as metadata: no in-process token.
  VLA_ASSIGN_OR_RETURN(
      http_, http::HttpServer::Start(
                 o, services,
                 server_->experimental().InProcessChannelWithInterceptors(
                     grpc::ChannelArguments(), {}),
                 std::move(webhooks), metrics_.get()));
  return absl::OkStatus();
}

int Server::http_port() const { return http_ == nullptr ? 0 : http_->port(); }

Server::~Server() {
  Shutdown();
  Wait();
}

int Server::metrics_port() const {
  return metrics_http_ == nullptr ? 0 : metrics_http_->port();
}

std::shared_ptr<grpc::Channel> Server::InProcessChannel() {
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!internal_token_.empty()) {
    interceptors.push_back(BearerTokenInterceptor(internal_token_));
  }
  return server_->experimental().InProcessChannelWithInterceptors(
      grpc::ChannelArguments(), std::move(interceptors));
}

absl::Status Server::ConfigureAccess() {
  policy_.max_request_bytes = options_.max_message_bytes;
  policy_.max_ingest_request_bytes = options_.max_ingest_message_bytes;
  if (options_.auth_tokens_file.empty()) return absl::OkStatus();
  VLA_ASSIGN_OR_RETURN(
      policy_.authenticator,
      TokenAuthenticator::FromFile(options_.auth_tokens_file,
                                   options_.tls_refresh_interval));
  // The services of this process call each other in-process with a random
  // admin token that exists only in this process's memory.
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("auth: cannot make the in-process token");
  }
  internal_token_ = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
  policy_.authenticator->AddToken(internal_token_,
                                  Principal{"in-process", Role::kAdmin});
  return absl::OkStatus();
}

void Server::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    if (server_ == nullptr) return;
    Log(LogLevel::kInfo, "shutting down",
        {{"grace", absl::FormatDuration(options_.shutdown_grace)}});
    {
      std::lock_guard<std::mutex> lock(health_mu_);
      health_stopping_ = true;
    }
    health_cv_.notify_all();
    if (health_thread_.joinable()) health_thread_.join();
    server_->GetHealthCheckService()->Shutdown();
    if (health_server_ != nullptr) {
      health_server_->GetHealthCheckService()->Shutdown();
    }
    // Streams end first, so that the server's own shutdown finds no calls
    // left but unary ones in flight.
    const absl::Duration stream_wait =
        std::min(options_.shutdown_grace / 2, absl::Seconds(2));
    // Dependents first (okr-status, evaluator, vmdb), so that followers stop
    // before what they follow goes away.
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
      (*it)->BeginShutdown(stream_wait);
    }
    // HTTP streams have ended with the gRPC ones; calls in flight finish.
    if (http_ != nullptr) http_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoSeconds(options_.shutdown_grace));
    // Only now: gRPC requires the server's queues to outlive its shutdown.
    queues_->Shutdown();
    if (health_server_ != nullptr) {
      health_server_->Shutdown(std::chrono::system_clock::now());
    }
  });
}

void Server::Wait() {
  if (server_ != nullptr) server_->Wait();
  if (health_server_ != nullptr) health_server_->Wait();
}

}  // namespace vla
