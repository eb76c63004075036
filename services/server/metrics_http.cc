#include "services/server/metrics_http.h"

#include <prometheus/exposer.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace vla {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, const metrics::Registry& registry) {
  auto server = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer());
  try {
    // One thread: scrapes are rare and cheap.
    server->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "metrics_listen: cannot listen on ", listen, ": ", e.what()));
  }
  for (const auto& c : registry.collectables()) {
    server->exposer_->RegisterCollectable(c);
  }
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: no port bound for ", listen));
  }
  server->port_ = ports.front();
  return server;
}

MetricsHttpServer::~MetricsHttpServer() = default;

}  // namespace vla
