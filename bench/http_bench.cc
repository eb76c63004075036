// http_bench: the HTTP/JSON listener against gRPC on the real `vlad`
// binary (issue 17's targets), in one run:
//
// 1. GetVlaStatus over gRPC (--threads threads, one TCP connection each) and
//    GET /v1/vlas/ID/status over HTTP/1.1 keep-alive (--threads threads, one
//    connection each), --seconds each, on an ACTIVE VLA with data; prints
//    calls/s of both and their ratio (target: HTTP/gRPC >= 0.5).
// 2. Jira webhook deliveries (jira:issue_created, signed, a new issue each)
//    over --webhook_connections keep-alive connections for --seconds; each
//    is acknowledged only after IngestBatch stored its events durably;
//    prints deliveries/s (target: 5,000 with 16 connections).
//
// The load generator is a minimal HTTP/1.1 client on plain sockets so that
// it costs little CPU: client and server share the machine.
//
//   http_bench [--threads=8] [--webhook_connections=16] [--seconds=5]
//              [--quick]
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "tests/fixtures.h"
#include "tests/vlad_process.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/vmdb.grpc.pb.h"

ABSL_FLAG(int, threads, 8, "Client threads of the status phases.");
ABSL_FLAG(int, webhook_connections, 16,
          "Concurrent connections delivering Jira webhooks.");
ABSL_FLAG(double, seconds, 5, "Duration of each phase, seconds.");
ABSL_FLAG(bool, quick, false, "Smoke run: 2 threads, 4 connections, 1 s.");
ABSL_FLAG(std::string, tmp_dir, "/tmp", "Where the data folder is created.");

namespace {

namespace v1 = vla::v1;
constexpr char kSecret[] = "bench-secret";

void Fail(const std::string& what) {
  std::fprintf(stderr, "http_bench: %s\n", what.c_str());
  std::exit(1);
}

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port.
class Connection {
 public:
  explicit Connection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      Fail("cannot connect");
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Connection() { close(fd_); }

  // Sends `request` and reads one response; its status (0 on failure).
  int RoundTrip(const std::string& request, std::string* body) {
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n =
          write(fd_, request.data() + sent, request.size() - sent);
      if (n <= 0) return 0;
      sent += n;
    }
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    const std::string head =
        absl::AsciiStrToLower(buffer_.substr(0, header_end));
    int status = 0;
    if (head.size() < 12 || !absl::SimpleAtoi(head.substr(9, 3), &status)) {
      return 0;
    }
    size_t length = 0;
    const size_t at = head.find("content-length:");
    if (at != std::string::npos) {
      const size_t eol = head.find("\r\n", at);
      if (!absl::SimpleAtoi(
              absl::StripAsciiWhitespace(head.substr(at + 15, eol - at - 15)),
              &length)) {
        return 0;
      }
    }
    while (buffer_.size() < header_end + 4 + length) {
      if (!Fill()) return 0;
    }
    body->assign(buffer_, header_end + 4, length);
    buffer_.erase(0, header_end + 4 + length);
    return status;
  }

 private:
  bool Fill() {
    char chunk[16384];
    const ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer_.append(chunk, n);
    return true;
  }
  int fd_;
  std::string buffer_;
};

std::string HmacHex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, sizeof(kSecret) - 1,
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(out), len));
}

// Runs `work(thread, &stop)` on `threads` threads for `seconds`; returns
// the calls counted per second.
template <typename Work>
double Run(int threads, double seconds, Work work) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> calls{0};
  std::vector<std::thread> pool;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      int64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        work(t, n);
        ++n;
      }
      calls += n;
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (std::thread& t : pool) t.join();
  return static_cast<double>(calls) /
         absl::ToDoubleSeconds(absl::Now() - start);
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const bool quick = absl::GetFlag(FLAGS_quick);
  const int threads = quick ? 2 : absl::GetFlag(FLAGS_threads);
  const int connections = quick ? 4 : absl::GetFlag(FLAGS_webhook_connections);
  const double seconds = quick ? 1 : absl::GetFlag(FLAGS_seconds);

  const std::string dir =
      absl::StrCat(absl::GetFlag(FLAGS_tmp_dir), "/http_bench-", getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(absl::StrCat(dir, "/webhooks.conf"))
      << "[jira]\nsecret = " << kSecret
      << "\nvalue_stream = incident\nteam_field = customfield_10001\n";
  const double load_before = LoadAverage();
  vla::testing::VladProcess vlad(
      VLAD_PATH, dir,
      {"--http_listen=127.0.0.1:0",
       absl::StrCat("--http_threads=", std::max(threads, connections) + 8),
       "--http_max_streams=1",
       absl::StrCat("--webhook_config=", dir, "/webhooks.conf")});
  if (absl::Status s = vlad.Start(); !s.ok()) Fail(s.ToString());

  // Definitions, and data so the VLA has a value.
  auto channel =
      grpc::CreateChannel(vlad.address(), grpc::InsecureChannelCredentials());
  auto vmdb = v1::VmdbService::NewStub(channel);
  {
    for (auto [id, kind] : {std::pair{"business", v1::TEAM_KIND_CONSUMER},
                            std::pair{"service-desk", v1::TEAM_KIND_PROVIDER},
                            std::pair{"platform", v1::TEAM_KIND_PROVIDER}}) {
      grpc::ClientContext ctx;
      v1::CreateTeamRequest r;
      r.set_team_id(id);
      *r.mutable_team() = vla::testing::MakeTeam(kind);
      v1::Team out;
      if (!vmdb->CreateTeam(&ctx, r, &out).ok()) Fail("CreateTeam");
    }
    grpc::ClientContext c1, c2, c3;
    v1::CreateValueStreamRequest vs;
    vs.set_value_stream_id("incident");
    *vs.mutable_value_stream() = vla::testing::MakeValueStream();
    v1::ValueStream vs_out;
    if (!vmdb->CreateValueStream(&c1, vs, &vs_out).ok()) Fail("value stream");
    v1::CreateKviRequest kvi;
    kvi.set_kvi_id("lead-time");
    *kvi.mutable_kvi() = vla::testing::MakeKvi();
    v1::Kvi kvi_out;
    if (!vmdb->CreateKvi(&c2, kvi, &kvi_out).ok()) Fail("kvi");
    v1::CreateVlaRequest vla_req;
    vla_req.set_vla_id("incident");
    *vla_req.mutable_vla() = vla::testing::MakeVla();
    v1::Vla vla_out;
    if (!vmdb->CreateVla(&c3, vla_req, &vla_out).ok()) Fail("vla");
  }
  auto evaluator = v1::EvaluationService::NewStub(channel);
  {
    v1::IngestRequest batch;
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    for (int i = 0; i < 200; ++i) {
      for (auto [kind, age] : {std::pair{v1::EVENT_KIND_CREATED, 86400},
                               std::pair{v1::EVENT_KIND_RESOLVED, 3600}}) {
        v1::WorkItemEvent* e = batch.add_work_item_events();
        e->set_event_id(absl::StrCat("seed-", i, "-", kind));
        e->set_item_id(absl::StrCat("INC-", i));
        e->set_value_stream("valueStreams/incident");
        e->set_kind(kind);
        e->mutable_time()->set_seconds(now - age + i);
      }
    }
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext ctx;
      v1::IngestResponse out;
      const grpc::Status s = evaluator->IngestBatch(&ctx, batch, &out);
      if (s.ok()) break;
      if (attempt > 100) Fail("IngestBatch");
      absl::SleepFor(absl::Milliseconds(100));  // definitions not yet loaded
    }
  }

  // 1. GetVlaStatus: gRPC, then HTTP.
  const auto channels = vla::bench::MakeChannels(vlad.address(), threads);
  std::vector<std::unique_ptr<v1::EvaluationService::Stub>> stubs;
  for (const auto& c : channels)
    stubs.push_back(v1::EvaluationService::NewStub(c));
  v1::GetVlaStatusRequest status_request;
  status_request.set_vla("vlas/incident");
  const double grpc_rate = Run(threads, seconds, [&](int t, int64_t) {
    grpc::ClientContext ctx;
    v1::VlaStatus out;
    if (!stubs[t]->GetVlaStatus(&ctx, status_request, &out).ok()) {
      Fail("GetVlaStatus");
    }
  });
  std::vector<std::unique_ptr<Connection>> http;
  for (int t = 0; t < threads; ++t) {
    http.push_back(std::make_unique<Connection>(vlad.http_port()));
  }
  const std::string get =
      "GET /v1/vlas/incident/status HTTP/1.1\r\nHost: bench\r\n\r\n";
  const double http_rate = Run(threads, seconds, [&](int t, int64_t) {
    std::string body;
    if (http[t]->RoundTrip(get, &body) != 200) Fail("GET status: " + body);
  });
  http.clear();

  // 2. Jira webhooks: a new issue per delivery.
  std::vector<std::unique_ptr<Connection>> hooks;
  for (int c = 0; c < connections; ++c) {
    hooks.push_back(std::make_unique<Connection>(vlad.http_port()));
  }
  const std::string created =
      absl::FormatTime("%Y-%m-%dT%H:%M:%S.000+0000",
                       absl::Now() - absl::Hours(1), absl::UTCTimeZone());
  std::atomic<int64_t> stored{0};
  const double cpu_before = vla::bench::ProcCpuSeconds(vlad.pid());
  const double hook_rate = Run(connections, seconds, [&](int c, int64_t n) {
    const std::string body = absl::StrCat(
        R"({"webhookEvent": "jira:issue_created", "issue": {"key": "B-)", c,
        "-", n, R"(", "fields": {"created": ")", created,
        R"(", "issuetype": {"name": "Incident"}, "status": {"name": "Open"},)",
        R"( "customfield_10001": {"value": "Platform"}}}})");
    const std::string request = absl::StrCat(
        "POST /v1/webhooks/jira HTTP/1.1\r\nHost: bench\r\n"
        "Content-Type: application/json\r\nX-Hub-Signature: sha256=",
        HmacHex(body), "\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
    std::string reply;
    if (hooks[c]->RoundTrip(request, &reply) != 200 ||
        reply.find(R"("accepted":"2")") == std::string::npos) {
      Fail("webhook: " + reply);
    }
    stored.fetch_add(1, std::memory_order_relaxed);
  });
  hooks.clear();
  const double hook_cpu = vla::bench::ProcCpuSeconds(vlad.pid()) - cpu_before;

  std::printf("load average before: %.2f, after: %.2f\n", load_before,
              LoadAverage());
  std::printf("GetVlaStatus gRPC:           %9.0f calls/s (%d threads)\n",
              grpc_rate, threads);
  std::printf(
      "GET /v1/vlas/ID/status HTTP: %9.0f calls/s (%d keep-alive "
      "connections)\n",
      http_rate, threads);
  std::printf("http_vs_grpc = %.2f (target 0.5)\n", http_rate / grpc_rate);
  std::printf(
      "Jira webhook deliveries:     %9.0f /s (%d connections, %lld "
      "stored, 2 events each)\n",
      hook_rate, connections, static_cast<long long>(stored.load()));
  std::printf(
      "server CPU per delivery:     %9.0f us (%.1f s of CPU)\n",
      1e6 * hook_cpu / static_cast<double>(std::max<int64_t>(1, stored)),
      hook_cpu);
  vlad.Signal(SIGTERM);
  vlad.Wait();
  std::filesystem::remove_all(dir);
  return 0;
}
