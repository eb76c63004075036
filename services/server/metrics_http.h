// MetricsHttpServer: serves a metrics::Registry at GET /metrics over HTTP
// (prometheus-cpp's exposer on civetweb), for Prometheus to scrape.
#ifndef VLA_SERVICES_SERVER_METRICS_HTTP_H_
#define VLA_SERVICES_SERVER_METRICS_HTTP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/metrics.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace vla {

class MetricsHttpServer {
 public:
  // Listens on `listen` (HOST:PORT; port 0 picks a free port) and serves
  // `registry`, which must outlive the returned server.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, const metrics::Registry& registry);
  ~MetricsHttpServer();

  // The bound port.
  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace vla

#endif  // VLA_SERVICES_SERVER_METRICS_HTTP_H_
