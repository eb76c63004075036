// vlad: the Value Level Agreement server. Hosts the VMDB, the evaluator and
// the OKR status publisher (any subset) on one gRPC port.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "services/common/access.h"
#include "services/common/pg_util.h"
#include "services/server/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve gRPC on; port 0 picks a free port. Use "
          "0.0.0.0:50051 to accept connections from other hosts.");
ABSL_FLAG(std::string, data_dir, "data",
          "Folder for the SQLite databases (one file per service: vmdb.db, "
          "...); created if missing. Restarting on the same folder keeps "
          "everything.");
ABSL_FLAG(std::string, database, "",
          "Where the services keep their data: empty for SQLite files in "
          "--data_dir, or a PostgreSQL URI (postgresql://USER@HOST:PORT/DB; "
          "the password from PGPASSWORD or ~/.pgpass) that every replica "
          "of a service shares.");
ABSL_FLAG(absl::Duration, health_check_interval, absl::Seconds(1),
          "How often each service checks that its database answers (its "
          "health is NOT_SERVING while it does not).");
ABSL_FLAG(std::string, advertise_address, "",
          "HOST:PORT where other processes reach this server (evaluator "
          "replicas forward calls to a value stream's owner); default: the "
          "--listen host (the host name for 0.0.0.0) and port.");
ABSL_FLAG(absl::Duration, evaluator_heartbeat, absl::Seconds(1),
          "Evaluator replicas on --database: how often each renews its "
          "leases on value streams.");
ABSL_FLAG(absl::Duration, evaluator_lease_ttl, absl::Seconds(4),
          "Evaluator replicas on --database: how long a lease lives without "
          "renewal; a stopped replica's value streams move to the others "
          "after about this plus --evaluator_heartbeat.");
ABSL_FLAG(std::string, services, "vmdb,evaluator,okr-status",
          "Comma-separated services to host: vmdb, evaluator, okr-status.");
ABSL_FLAG(std::string, vmdb_address, "",
          "HOST:PORT of the VMDB for the evaluator and okr-status when this "
          "server does not host the vmdb service itself.");
ABSL_FLAG(std::string, evaluator_address, "",
          "HOST:PORT of the evaluator for okr-status when this server does not "
          "host the evaluator service itself.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT: how long calls in flight may take to finish "
          "before they are cancelled.");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on (GET /metrics); port 0 "
          "picks a free port (logged). Empty: no metrics endpoint.");
ABSL_FLAG(std::string, health_listen, "",
          "HOST:PORT of a plaintext server that answers only grpc.health.v1 "
          "with the main port's statuses, for Kubernetes gRPC probes when "
          "the main port uses TLS. Empty: none.");
ABSL_FLAG(absl::Duration, slow_rpc_threshold, absl::Seconds(1),
          "Successful unary calls slower than this are logged.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written to this file once the server "
          "listens (useful with --listen=HOST:0), and the --http_listen port "
          "on a second line.");

// Security (services/server/README.md, "Security").
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of this server; with --tls_key, serve TLS "
          "only. Re-read every --tls_refresh_interval (rotation without "
          "restart).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; if set, clients must present a certificate signed "
          "by it (mutual TLS). Also verifies the peers of --vmdb_address and "
          "--evaluator_address unless --tls_peer_ca is set.");
ABSL_FLAG(std::string, tls_peer_ca, "",
          "PEM CA bundle that verifies --vmdb_address/--evaluator_address "
          "(default: --tls_client_ca, else the system roots). This server "
          "presents --tls_cert to them as its client certificate.");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Seconds(60),
          "How often certificate files and --auth_tokens_file are checked for "
          "changes.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Bearer tokens file (a mounted Secret): lines \"<role> <name> "
          "<sha256-hex-of-token>\", role reader|writer|admin. If set, every "
          "call but health and reflection needs \"authorization: Bearer "
          "<token>\". Unset: no authentication (development only).");
ABSL_FLAG(std::string, peer_token_file, "",
          "File whose first line is the token this server sends to "
          "--vmdb_address/--evaluator_address.");
ABSL_FLAG(bool, hash_token, false,
          "Read a token from stdin, print its SHA-256 hex for "
          "--auth_tokens_file, and exit.");

// Limits (services/server/README.md, "Limits").
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20,
          "Largest request message, in bytes, except Ingest/IngestBatch; "
          "larger: RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, max_ingest_message_bytes, 16 << 20,
          "Largest Ingest/IngestBatch request message, in bytes; larger: "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int32_t, max_ingest_batch_records, 10000,
          "Most observations + work item events in one ingest batch; more: "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int32_t, max_concurrent_streams, 100,
          "Most calls in flight per client connection (HTTP/2 "
          "MAX_CONCURRENT_STREAMS); further calls wait on the client.");
ABSL_FLAG(int64_t, memory_quota_bytes, int64_t{512} << 20,
          "Memory gRPC may use for all connections' buffers (ResourceQuota); "
          "0: unlimited.");
ABSL_FLAG(absl::Duration, keepalive_min_ping_interval, absl::Seconds(10),
          "Clients may send keepalive pings at most this often; more often "
          "and the connection is closed (GOAWAY too_many_pings).");
ABSL_FLAG(absl::Duration, snapshot_interval, absl::Minutes(5),
          "How often the evaluator writes a checkpoint of its memory "
          "(evaluator.db.snapshot in --data_dir) when records came since the "
          "last one; also at shutdown. A start loads it and replays only the "
          "records stored after it. 0: only at shutdown.");
ABSL_FLAG(double, snapshot_cpu_share, 0.1,
          "The share of one core a checkpoint on the timer may take (in "
          "(0, 1]): it pauses between pieces so that ingest keeps the rest. "
          "The checkpoint at shutdown runs at full speed.");
ABSL_FLAG(int64_t, min_free_bytes, int64_t{256} << 20,
          "Ingest stops (RESOURCE_EXHAUSTED) while --data_dir's file system "
          "has less free space than this, so that definitions and check-ins "
          "still fit; health reports the evaluator NOT_SERVING meanwhile and "
          "SERVING again when space returns. 0: no reserve.");
ABSL_FLAG(int, watch_queues, 4,
          "Completion queues (a thread each) serving the watch streams; with "
          "thousands of subscribers, more queues make each event cheaper (1 "
          "to 64).");
ABSL_FLAG(int64_t, watch_batch_bytes, 256 << 10,
          "Largest message of the watch streams (WatchChanges, "
          "WatchVlaStatuses, WatchKviValues, WatchObjectiveStatuses), in "
          "bytes. Each stream has one message in flight; what changes "
          "meanwhile (the latest status per key, or the change log in "
          "order) goes in its next message, up to this size (a single "
          "bigger item goes alone). 1024 to 4194304.");
ABSL_FLAG(bool, keepalive_permit_without_calls, true,
          "Whether clients may send keepalive pings while no call is open.");

// HTTP/JSON (docs/http.md).
ABSL_FLAG(std::string, http_listen, "",
          "HOST:PORT (an IP address) to serve HTTP/JSON on: every method of "
          "the hosted services by its google.api.http route, the webhooks, "
          "GET /v1/openapi.json and the dashboard at /; TLS and tokens as for "
          "gRPC. Port 0 picks a free port (logged). Empty: no HTTP.");
ABSL_FLAG(int32_t, http_threads, 32,
          "HTTP worker threads: the most HTTP connections served at once "
          "(each keeps its worker while open); more wait to be accepted.");
ABSL_FLAG(int32_t, http_max_streams, 16,
          "Most HTTP server streams (Watch*) open at once, each holding a "
          "worker; more: 429. Below --http_threads.");
ABSL_FLAG(int64_t, http_max_body_bytes, 4 << 20,
          "Largest HTTP request body, in bytes; larger: 413.");
ABSL_FLAG(absl::Duration, http_keep_alive_timeout, absl::Seconds(5),
          "An idle HTTP keep-alive connection is closed after this long; a "
          "shutdown waits for idle connections up to this long.");
ABSL_FLAG(absl::Duration, http_stream_heartbeat, absl::Seconds(15),
          "An HTTP stream with nothing to send writes a heartbeat (an empty "
          "NDJSON line, an SSE comment) this often.");
ABSL_FLAG(std::string, webhook_config, "",
          "Webhook configuration file ([jira], [servicenow]: secrets, value "
          "stream, team/status/service maps; docs/integrations/README.md). "
          "Needs --http_listen and the evaluator. Checked at start.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vlad: Value Level Agreement server (VMDB, evaluator, OKR status).\n"
      "Usage: vlad [--listen=HOST:PORT] [--data_dir=DIR] "
      "[--services=vmdb,evaluator,okr-status]");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // too) keeps a lock-order graph to detect deadlocks: a few percent of the
  // CPU of busy streams. The tests keep it; the server turns it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (absl::GetFlag(FLAGS_hash_token)) {
    std::string token;
    std::getline(std::cin, token);
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      std::fprintf(stderr, "hash_token: no token on stdin\n");
      return 1;
    }
    std::printf("%s\n", vla::Sha256Hex(token).c_str());
    return 0;
  }

  // Every thread blocks SIGINT and SIGTERM; main takes them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  vla::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.database = absl::GetFlag(FLAGS_database);
  options.health_check_interval = absl::GetFlag(FLAGS_health_check_interval);
  options.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  options.evaluator_heartbeat = absl::GetFlag(FLAGS_evaluator_heartbeat);
  options.evaluator_lease_ttl = absl::GetFlag(FLAGS_evaluator_lease_ttl);
  options.services = absl::StrSplit(absl::GetFlag(FLAGS_services), ',',
                                    absl::SkipWhitespace());
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.vmdb_address = absl::GetFlag(FLAGS_vmdb_address);
  options.evaluator_address = absl::GetFlag(FLAGS_evaluator_address);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls_peer_ca = absl::GetFlag(FLAGS_tls_peer_ca);
  options.tls_refresh_interval = absl::GetFlag(FLAGS_tls_refresh_interval);
  options.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  options.peer_token_file = absl::GetFlag(FLAGS_peer_token_file);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_ingest_message_bytes =
      absl::GetFlag(FLAGS_max_ingest_message_bytes);
  options.max_ingest_batch_records =
      absl::GetFlag(FLAGS_max_ingest_batch_records);
  options.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  options.memory_quota_bytes = absl::GetFlag(FLAGS_memory_quota_bytes);
  options.keepalive_min_ping_interval =
      absl::GetFlag(FLAGS_keepalive_min_ping_interval);
  options.keepalive_permit_without_calls =
      absl::GetFlag(FLAGS_keepalive_permit_without_calls);
  options.watch_queues = absl::GetFlag(FLAGS_watch_queues);
  options.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
  options.snapshot_cpu_share = absl::GetFlag(FLAGS_snapshot_cpu_share);
  options.min_free_bytes = absl::GetFlag(FLAGS_min_free_bytes);
  options.watch_batch_bytes = absl::GetFlag(FLAGS_watch_batch_bytes);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.health_listen = absl::GetFlag(FLAGS_health_listen);
  options.slow_rpc_threshold = absl::GetFlag(FLAGS_slow_rpc_threshold);
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.http_threads = absl::GetFlag(FLAGS_http_threads);
  options.http_max_streams = absl::GetFlag(FLAGS_http_max_streams);
  options.http_max_body_bytes = absl::GetFlag(FLAGS_http_max_body_bytes);
  options.http_keep_alive_timeout =
      absl::GetFlag(FLAGS_http_keep_alive_timeout);
  options.http_stream_heartbeat = absl::GetFlag(FLAGS_http_stream_heartbeat);
  options.webhook_config = absl::GetFlag(FLAGS_webhook_config);
  options.static_assets = vla::http::DashboardAssets();  // web/, at /

  auto server = vla::Server::Start(options);
  if (!server.ok()) {
    vla::Log(vla::LogLevel::kError, "cannot start",
             {{"error", server.status().ToString()}});
    return 1;
  }
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  vla::Log(vla::LogLevel::kInfo, "listening",
           {{"address", absl::StrCat(host, ":", (*server)->port())},
            {"port", absl::StrCat((*server)->port())},
            {"services", absl::GetFlag(FLAGS_services)},
            {"data", options.database.empty()
                         ? options.data_dir
                         : vla::pg::RedactDsn(options.database)}});
  if ((*server)->metrics_port() != 0) {
    const std::string& ml = options.metrics_listen;
    vla::Log(vla::LogLevel::kInfo, "metrics listening",
             {{"address", absl::StrCat(ml.substr(0, ml.rfind(':')), ":",
                                       (*server)->metrics_port())},
              {"path", "/metrics"}});
  }
  if ((*server)->http_port() != 0) {
    const std::string& hl = options.http_listen;
    vla::Log(vla::LogLevel::kInfo, "http listening",
             {{"address", absl::StrCat(hl.substr(0, hl.rfind(':')), ":",
                                       (*server)->http_port())},
              {"port", absl::StrCat((*server)->http_port())}});
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file);
      !port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream out(tmp);
    out << (*server)->port() << "\n";
    if ((*server)->http_port() != 0) out << (*server)->http_port() << "\n";
    out.close();
    std::rename(tmp.c_str(), port_file.c_str());
  }

  // The main thread sleeps in sigwait until SIGTERM or SIGINT, then shuts
  // the server down itself.
  int sig = 0;
  sigwait(&signals, &sig);
  vla::Log(vla::LogLevel::kInfo, "signal received",
           {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown();
  server->reset();
  vla::Log(vla::LogLevel::kInfo, "stopped");
  return 0;
}
