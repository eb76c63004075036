// vlad: the Value Level Agreement server. Hosts the VMDB, the evaluator and
// the OKR status publisher (any subset) on one gRPC port.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/log.h"
#include "services/server/server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve gRPC on; port 0 picks a free port. Use "
          "0.0.0.0:50051 to accept connections from other hosts.");
ABSL_FLAG(std::string, data_dir, "data",
          "Folder for the SQLite databases (one file per service: vmdb.db, "
          "...); created if missing. Restarting on the same folder keeps "
          "everything.");
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
ABSL_FLAG(absl::Duration, slow_rpc_threshold, absl::Seconds(1),
          "Successful unary calls slower than this are logged.");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written to this file once the server "
          "listens (useful with --listen=HOST:0).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "vlad: Value Level Agreement server (VMDB, evaluator, OKR status).\n"
      "Usage: vlad [--listen=HOST:PORT] [--data_dir=DIR] "
      "[--services=vmdb,evaluator,okr-status]");
  absl::ParseCommandLine(argc, argv);

  // Every thread blocks SIGINT and SIGTERM; main takes them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  vla::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.services = absl::StrSplit(absl::GetFlag(FLAGS_services), ',',
                                    absl::SkipWhitespace());
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.vmdb_address = absl::GetFlag(FLAGS_vmdb_address);
  options.evaluator_address = absl::GetFlag(FLAGS_evaluator_address);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.slow_rpc_threshold = absl::GetFlag(FLAGS_slow_rpc_threshold);

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
            {"data_dir", options.data_dir}});
  if ((*server)->metrics_port() != 0) {
    const std::string& ml = options.metrics_listen;
    vla::Log(vla::LogLevel::kInfo, "metrics listening",
             {{"address", absl::StrCat(ml.substr(0, ml.rfind(':')), ":",
                                       (*server)->metrics_port())},
              {"path", "/metrics"}});
  }
  if (const std::string port_file = absl::GetFlag(FLAGS_port_file);
      !port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
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
