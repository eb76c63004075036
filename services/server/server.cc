#include "services/server/server.h"

#include <grpcpp/health_check_service_interface.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/status_util.h"
#include "services/server/metrics_http.h"
#include "services/server/modules.h"
#include "services/server/reflection_service.h"
#include "services/server/rpc_observer.h"

namespace vla {

Server::Server() : metrics_(std::make_unique<metrics::Registry>()) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  if (options.services.empty()) {
    return absl::InvalidArgumentError(
        "services: at least one service is required");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data_dir: cannot create ", options.data_dir, ": ", ec.message()));
  }
  auto server = std::unique_ptr<Server>(new Server());
  server->options_ = options;
  for (const std::string& name : options.services) {
    VLA_ASSIGN_OR_RETURN(auto module,
                         MakeModule(name, options, server->metrics_.get()));
    server->modules_.push_back(std::move(module));
  }

  if (!options.metrics_listen.empty()) {
    VLA_ASSIGN_OR_RETURN(
        server->metrics_http_,
        MetricsHttpServer::Start(options.metrics_listen, *server->metrics_));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &server->port_);
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
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen: cannot listen on ", options.listen));
  }
  auto* health = server->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  for (size_t i = 0; i < server->modules_.size(); ++i) {
    health->SetServingStatus(server->modules_[i]->grpc_service_name(), true);
    health->SetServingStatus(options.services[i], true);
  }
  auto self = server->InProcessChannel();
  for (auto& module : server->modules_)
    VLA_RETURN_IF_ERROR(module->Start(self));
  return server;
}

Server::~Server() {
  Shutdown();
  Wait();
}

int Server::metrics_port() const {
  return metrics_http_ == nullptr ? 0 : metrics_http_->port();
}

std::shared_ptr<grpc::Channel> Server::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void Server::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    if (server_ == nullptr) return;
    Log(LogLevel::kInfo, "shutting down",
        {{"grace", absl::FormatDuration(options_.shutdown_grace)}});
    server_->GetHealthCheckService()->Shutdown();
    // Streams end first, so that the server's own shutdown finds no calls
    // left but unary ones in flight.
    const absl::Duration stream_wait =
        std::min(options_.shutdown_grace / 2, absl::Seconds(2));
    // Dependents first (okr-status, evaluator, vmdb), so that followers stop
    // before what they follow goes away.
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
      (*it)->BeginShutdown(stream_wait);
    }
    server_->Shutdown(std::chrono::system_clock::now() +
                      absl::ToChronoSeconds(options_.shutdown_grace));
  });
}

void Server::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace vla
