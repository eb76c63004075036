// The server runner: hosts any subset of the services (vmdb, evaluator,
// okr-status) on one gRPC port, with health (overall and per service),
// reflection and graceful shutdown.
//
//   ServerOptions options;
//   options.listen = "127.0.0.1:0";
//   options.data_dir = "/tmp/vla";
//   VLA_ASSIGN_OR_RETURN(auto server, Server::Start(options));
//   ... server->port() ...
//   server->Shutdown();
#ifndef VLA_SERVICES_SERVER_SERVER_H_
#define VLA_SERVICES_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/access.h"
#include "services/common/async_watch.h"
#include "services/common/clock.h"
#include "services/common/metrics.h"
#include "services/http/static_assets.h"

namespace vla {

// The service names accepted by --services.
inline const std::vector<std::string>& AllServiceNames() {
  static const auto* const names =
      new std::vector<std::string>{"vmdb", "evaluator", "okr-status"};
  return *names;
}

struct ServerOptions {
  // HOST:PORT; port 0 picks a free port (see Server::port()).
  std::string listen = "127.0.0.1:50051";
  // Folder for the services' SQLite files; created if missing (unused
  // with `database`).
  std::string data_dir = "data";
  // Empty: each service keeps its data in a SQLite file in data_dir. Else
  // a PostgreSQL URI (postgresql://...): each service keeps its own schema
  // there (vla_vmdb, vla_evaluator, vla_okr), and every replica of a
  // service shares it.
  std::string database;
  // How often each hosted service checks that its database answers (its
  // health is NOT_SERVING while it does not).
  absl::Duration health_check_interval = absl::Seconds(1);
  // HOST:PORT where other processes reach this server (evaluator replicas
  // forward calls to the owner of a value stream); empty: the listen host
  // (this machine's host name for a wildcard) and the bound port.
  std::string advertise_address;
  // Evaluator replicas (with `database`): how often each renews its leases,
  // and how long a lease lives without renewal (a stopped replica's value
  // streams move to the others after about lease_ttl + heartbeat).
  absl::Duration evaluator_heartbeat = absl::Seconds(1);
  absl::Duration evaluator_lease_ttl = absl::Seconds(4);
  // Subset of AllServiceNames().
  std::vector<std::string> services = AllServiceNames();
  // Where the evaluator and okr-status reach the VMDB when it is not hosted
  // in this server (HOST:PORT).
  std::string vmdb_address;
  // Where okr-status reaches the evaluator when it is not hosted here.
  std::string evaluator_address;
  // Evaluator tuning (tests shorten the debounce and tick).
  absl::Duration evaluation_debounce = absl::Milliseconds(200);
  absl::Duration evaluation_tick = absl::Seconds(10);
  // Checkpoints of the evaluator's memory (evaluator.db.snapshot): written
  // this often when records came since the last one (0: only at shutdown).
  absl::Duration snapshot_interval = absl::Minutes(5);
  // The share of a core such a checkpoint may take, in (0, 1].
  double snapshot_cpu_share = 0.1;
  // Ingest stops while data_dir's file system has less free space than
  // this (0: no reserve).
  int64_t min_free_bytes = int64_t{256} << 20;
  // How long Shutdown waits for calls in flight before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
  const Clock* clock = Clock::Real();

  // Security (services/server/README.md). TLS when tls_cert and tls_key
  // are set (PEM files); mutual TLS when tls_client_ca is set too. The
  // files are re-read every tls_refresh_interval.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // CA for the certificates of vmdb_address/evaluator_address; defaults to
  // tls_client_ca, else the system roots.
  std::string tls_peer_ca;
  absl::Duration tls_refresh_interval = absl::Seconds(60);
  // Bearer tokens ("<role> <name> <sha256-hex>" lines); empty: no
  // authentication. Re-read when it changes (checked every
  // tls_refresh_interval).
  std::string auth_tokens_file;
  // The token this server sends to vmdb_address/evaluator_address.
  std::string peer_token_file;

  // Limits (services/server/README.md).
  int64_t max_message_bytes = 4 << 20;
  int64_t max_ingest_message_bytes = 16 << 20;
  int max_ingest_batch_records = 10000;
  int max_concurrent_streams = 100;
  // gRPC's memory quota (buffers of all connections); 0: unlimited.
  int64_t memory_quota_bytes = int64_t{512} << 20;
  // Clients may ping at most this often; more often and they are cut off
  // (GOAWAY "too_many_pings").
  absl::Duration keepalive_min_ping_interval = absl::Seconds(10);
  bool keepalive_permit_without_calls = true;
  // HOST:PORT to serve Prometheus metrics on (GET /metrics); port 0 picks a
  // free port (see Server::metrics_port()); empty: no metrics endpoint.
  std::string metrics_listen;
  // Successful unary calls slower than this are logged.
  absl::Duration slow_rpc_threshold = absl::Seconds(1);
  // Completion queues (a thread each) serving the watch streams
  // (services/common/async_watch.h): each completion costs a scan of the
  // streams on its queue, so with thousands of subscribers more queues
  // make each event cheaper.
  int watch_queues = 4;
  // Largest message of the watch streams (WatchChanges, WatchVlaStatuses,
  // WatchKviValues, WatchObjectiveStatuses), in bytes: what arrives while a
  // subscriber's message is in flight goes in its next message, up to this
  // size (a single bigger item goes alone). In [1 KiB, 4 MiB] (clients
  // accept 4 MiB by default).
  int64_t watch_batch_bytes = 256 << 10;
  // HOST:PORT of a plaintext server that answers only grpc.health.v1, with
  // the same statuses as the main port (Kubernetes' gRPC probes speak no
  // TLS); port 0 picks a free port (see Server::health_port()); empty: none.
  std::string health_listen;

  // HTTP/JSON (docs/http.md): HOST:PORT of the HTTP listener (every
  // annotated method of the hosted services, webhooks, OpenAPI); port 0
  // picks a free port (see Server::http_port()); empty: none. Uses the TLS
  // files and tokens above.
  std::string http_listen;
  int http_threads = 32;
  int http_max_streams = 16;
  int64_t http_max_body_bytes = 4 << 20;
  absl::Duration http_keep_alive_timeout = absl::Seconds(5);
  absl::Duration http_stream_heartbeat = absl::Seconds(15);
  // The webhooks' configuration file (services/http/webhook_config.h);
  // needs http_listen and the evaluator hosted here. Empty: no webhooks.
  std::string webhook_config;
  // Files the HTTP listener serves without authentication (vlad: the
  // dashboard, http::DashboardAssets()); empty: none.
  absl::Span<const http::StaticAsset> static_assets;
};

// One hosted service: its gRPC service plus what it needs to start and stop.
class ServiceModule {
 public:
  virtual ~ServiceModule() = default;
  // Full gRPC service name, e.g. "vla.v1.VmdbService".
  virtual std::string grpc_service_name() const = 0;
  virtual grpc::Service* service() = 0;
  // Starts the service's async methods (its watch streams) on `queues`;
  // called once the server is built, before Start.
  virtual void ServeAsync(AsyncQueues* queues) { (void)queues; }
  // Called once the server listens; `self` reaches this server in-process,
  // other processes reach it at `address` (HOST:PORT).
  virtual absl::Status Start(std::shared_ptr<grpc::Channel> self,
                             const std::string& address) {
    (void)self;
    (void)address;
    return absl::OkStatus();
  }
  // OK while the service can do its work (its database answers).
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
  // Ends the module's streams, waiting up to `wait` for them to finish,
  // and drops its channels to other services (an idle channel would hold
  // the server's shutdown); called before the gRPC server shuts down.
  virtual void BeginShutdown(absl::Duration wait) { (void)wait; }
};

class MetricsHttpServer;
namespace http {
class HttpServer;
}  // namespace http

class Server {
 public:
  // Opens the data folder, builds the modules and starts listening.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options);
  ~Server();

  int port() const { return port_; }
  // The bound --health_listen port; 0 without one.
  int health_port() const { return health_port_; }
  // The bound --http_listen port; 0 without one.
  int http_port() const;
  // A channel to this server that bypasses the network.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  // Health goes NOT_SERVING, streams end, calls in flight get the grace
  // period, then the server stops. Idempotent; safe from any thread.
  void Shutdown();
  // Blocks until Shutdown has completed.
  void Wait();

  // The server's metrics (what --metrics_listen serves), also without an
  // endpoint.
  metrics::Registry& metrics() { return *metrics_; }
  // The bound metrics port; 0 without an endpoint.
  int metrics_port() const;

 private:
  Server();
  // Builds policy_ (limits, tokens) from options_.
  absl::Status ConfigureAccess();
  // Sets the health of the modules (each by both of its names) and overall
  // (every module healthy) on the main and the health-only server.
  void SetHealth(const std::vector<bool>& healthy);
  // Checks the modules' health every health_check_interval until Shutdown.
  void HealthLoop();
  // Starts http_ when options_.http_listen is set.
  absl::Status StartHttp();

  // Declared first: destroyed last, after everything that counts.
  std::unique_ptr<metrics::Registry> metrics_;
  ServerOptions options_;
  AccessPolicy policy_;
  std::string internal_token_;  // in-process calls; never leaves the process
  std::vector<std::unique_ptr<ServiceModule>> modules_;
  std::unique_ptr<grpc::Service> reflection_;
  std::unique_ptr<AsyncQueues> queues_;  // shut down after server_
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // After server_: stopped and destroyed before it (it calls into it).
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<grpc::CallbackGenericService> health_fallback_;
  std::unique_ptr<grpc::Server> health_server_;  // --health_listen
  int health_port_ = 0;
  std::once_flag shutdown_once_;
  std::mutex health_mu_;
  std::condition_variable health_cv_;
  bool health_stopping_ = false;  // guarded by health_mu_
  std::thread health_thread_;
  // Declared last: stops serving before the modules it samples go away.
  std::unique_ptr<MetricsHttpServer> metrics_http_;
};

}  // namespace vla

#endif  // VLA_SERVICES_SERVER_SERVER_H_
