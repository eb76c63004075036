// Observability: the /metrics endpoint scraped over HTTP after real calls,
// the same metrics in detail (RPC counts by method and code, latency,
// ingest results, watch streams, database sizes), request ids in metadata
// and logs, and the metrics facade.
#include "services/common/metrics.h"

#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/lib/watch.h"
#include "services/server/rpc_observer.h"
#include "tests/fixtures.h"
#include "tests/http_get.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::Eventually;
using testing::FastOptions;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::HttpResponse;
using testing::IsCode;
using testing::IsCodeWith;
using ::testing::Not;
using testing::TestServer;

// The value of `series` (name{labels} exactly as exposed) in a scrape, or
// NaN when it is absent.
double Value(const std::string& scrape, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(scrape, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return std::nan("");
}

constexpr char kGetTeam[] = "/vla.v1.VmdbService/GetTeam";
constexpr char kWatch[] = "/vla.v1.EvaluationService/WatchVlaStatuses";

std::string RpcTotal(const std::string& method, const std::string& code) {
  return absl::StrCat("vla_rpc_total{code=\"", code, "\",method=\"", method,
                      "\"}");
}

ServerOptions MetricsOptions() {
  ServerOptions o = FastOptions();
  o.metrics_listen = "127.0.0.1:0";
  return o;
}

void CreateTeam(TestServer& server, const std::string& id, v1::TeamKind kind) {
  v1::CreateTeamRequest req;
  req.set_team_id(id);
  *req.mutable_team() = testing::MakeTeam(kind);
  v1::Team out;
  const grpc::Status s = server.vmdb().CreateTeam(Ctx().get(), req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// A value stream the evaluator knows, so that observations of it are
// accepted.
void CreateValueStream(TestServer& server) {
  CreateTeam(server, "business", v1::TEAM_KIND_CONSUMER);
  CreateTeam(server, "desk", v1::TEAM_KIND_PROVIDER);
  v1::CreateValueStreamRequest req;
  req.set_value_stream_id("incident");
  *req.mutable_value_stream() =
      testing::MakeValueStream("teams/business", {"teams/desk"});
  v1::ValueStream out;
  const grpc::Status s =
      server.vmdb().CreateValueStream(Ctx().get(), req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Eventually([&] {
    v1::GetValueStreamFlowRequest flow_req;
    flow_req.set_value_stream("valueStreams/incident");
    v1::ValueStreamFlow flow;
    return server.evaluation()
        .GetValueStreamFlow(Ctx().get(), flow_req, &flow)
        .ok();
  }));
}

v1::Observation Obs(const std::string& id) {
  v1::Observation o;
  o.set_event_id(id);
  o.set_signal("happiness");
  o.mutable_time()->set_seconds(1772323200);  // 2026-03-01
  o.set_value(70);
  o.set_value_stream("valueStreams/incident");
  return o;
}

// Ingests o-1, o-1 again (a duplicate) and one without event_id (rejected).
void IngestDuplicateAndRejected(TestServer& server) {
  v1::IngestRequest req;
  *req.add_observations() = Obs("o-1");
  *req.add_observations() = Obs("o-1");
  *req.add_observations() = Obs("");
  v1::IngestResponse resp;
  const grpc::Status s =
      server.evaluation().IngestBatch(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.accepted(), 1);
  ASSERT_EQ(resp.duplicates(), 1);
  ASSERT_EQ(resp.rejected_size(), 1);
}

void GetMissingTeam(TestServer& server) {
  v1::GetTeamRequest req;
  req.set_name("teams/nope");
  v1::Team team;
  EXPECT_THAT(server.vmdb().GetTeam(Ctx().get(), req, &team),
              IsCode(StatusCode::NOT_FOUND));
}

// The whole path: real calls, then GET /metrics over HTTP. (One test only:
// stopping civetweb takes up to 2 s.)
TEST(MetricsEndpointTest, ScrapedOverHttpAfterCalls) {
  TestServer server(MetricsOptions());
  const int port = server.server().metrics_port();
  ASSERT_GT(port, 0);
  GetMissingTeam(server);
  CreateValueStream(server);
  IngestDuplicateAndRejected(server);
  {
    grpc::ClientContext ctx;
    auto reader = client::WatchEvents(server.evaluation().WatchVlaStatuses(
        &ctx, v1::WatchVlaStatusesRequest()));
    v1::VlaStatusEvent event;
    ASSERT_TRUE(reader.Read(&event));  // the snapshot_complete marker
    ctx.TryCancel();
    EXPECT_THAT(reader.Finish(), IsCode(StatusCode::CANCELLED));
  }
  std::string scrape;
  ASSERT_TRUE(Eventually([&] {
    const HttpResponse r = HttpGet(port, "/metrics");
    scrape = r.body;
    // The stream is counted when its status goes out, detached just after.
    return r.status == 200 &&
           absl::StrContains(scrape, RpcTotal(kWatch, "CANCELLED") + " 1\n") &&
           absl::StrContains(
               scrape, absl::StrCat("vla_watch_subscribers{method=\"", kWatch,
                                    "\"} 0\n"));
  })) << scrape;
  EXPECT_THAT(scrape, HasSubstr(RpcTotal(kGetTeam, "NOT_FOUND") + " 1\n"));
  EXPECT_THAT(
      scrape,
      HasSubstr(RpcTotal("/vla.v1.VmdbService/CreateTeam", "OK") + " 2\n"));
  EXPECT_THAT(
      scrape,
      HasSubstr(RpcTotal("/vla.v1.EvaluationService/IngestBatch", "OK") +
                " 1\n"));
  EXPECT_THAT(scrape, HasSubstr("vla_rpc_duration_seconds_count{method=\"/"
                                "vla.v1.VmdbService/GetTeam\"} 1\n"));
  EXPECT_THAT(scrape, HasSubstr("# TYPE vla_rpc_total counter\n"));
  EXPECT_THAT(scrape, HasSubstr("# TYPE vla_rpc_duration_seconds histogram\n"));
  EXPECT_THAT(scrape,
              HasSubstr("vla_ingest_records_total{result=\"accepted\"} 1\n"));
  EXPECT_THAT(scrape,
              HasSubstr("vla_ingest_records_total{result=\"duplicate\"} 1\n"));
  EXPECT_THAT(scrape,
              HasSubstr("vla_ingest_records_total{result=\"rejected\"} 1\n"));
  EXPECT_THAT(scrape, HasSubstr(absl::StrCat("vla_watch_subscribers{method=\"",
                                             kWatch, "\"} 0\n")));
  EXPECT_THAT(scrape, HasSubstr("vla_evaluation_pass_duration_seconds_count"));
  EXPECT_GT(Value(scrape, "vla_database_size_bytes{service=\"evaluator\"}"), 0);
  // Only /metrics is served.
  EXPECT_EQ(HttpGet(port, "/other").status, 404);
}

TEST(MetricsEndpointTest, BusyPortFailsStartNamingTheFlag) {
  // A port taken by a plain socket (no civetweb to stop: fast).
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  testing::TempDir dir;
  ServerOptions options = FastOptions();
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.path();
  options.metrics_listen = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  auto server = Server::Start(options);
  close(fd);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()),
              HasSubstr("metrics_listen"));
}

// The same metrics read from the registry (no endpoint: fast to stop).
class MetricsTest : public ::testing::Test {
 protected:
  MetricsTest() : server_(FastOptions()) {}

  std::string Scrape() { return server_.server().metrics().Scrape(); }

  TestServer server_;
};

TEST_F(MetricsTest, RpcCountsByCodeAndLatencyPerMethod) {
  EXPECT_EQ(server_.server().metrics_port(), 0);  // no endpoint asked for
  GetMissingTeam(server_);
  CreateTeam(server_, "desk", v1::TEAM_KIND_PROVIDER);
  v1::GetTeamRequest req;
  req.set_name("teams/desk");
  v1::Team team;
  EXPECT_TRUE(server_.vmdb().GetTeam(Ctx().get(), req, &team).ok());
  EXPECT_TRUE(server_.vmdb().GetTeam(Ctx().get(), req, &team).ok());

  const std::string scrape = Scrape();
  EXPECT_EQ(Value(scrape, RpcTotal(kGetTeam, "NOT_FOUND")), 1);
  EXPECT_EQ(Value(scrape, RpcTotal(kGetTeam, "OK")), 2);
  EXPECT_EQ(Value(scrape, RpcTotal("/vla.v1.VmdbService/CreateTeam", "OK")), 1);
  EXPECT_EQ(Value(scrape, absl::StrCat("vla_rpc_duration_seconds_count{"
                                       "method=\"",
                                       kGetTeam, "\"}")),
            3);
  EXPECT_EQ(Value(scrape, absl::StrCat("vla_rpc_duration_seconds_bucket{"
                                       "method=\"",
                                       kGetTeam, "\",le=\"+Inf\"}")),
            3);
  // Each hosted service's database has a size.
  for (const char* service : {"vmdb", "evaluator", "okr-status"}) {
    EXPECT_GT(Value(scrape, absl::StrCat("vla_database_size_bytes{service=\"",
                                         service, "\"}")),
              0)
        << service;
  }
}

TEST_F(MetricsTest, IngestCountsAcceptedDuplicateAndRejectedRecords) {
  CreateValueStream(server_);
  IngestDuplicateAndRejected(server_);
  const std::string scrape = Scrape();
  EXPECT_EQ(Value(scrape, "vla_ingest_records_total{result=\"accepted\"}"), 1);
  EXPECT_EQ(Value(scrape, "vla_ingest_records_total{result=\"duplicate\"}"), 1);
  EXPECT_EQ(Value(scrape, "vla_ingest_records_total{result=\"rejected\"}"), 1);
  // The accepted record triggers an evaluation pass.
  EXPECT_TRUE(Eventually([&] {
    return Value(Scrape(),
                 "vla_evaluation_pass_duration_seconds_count{kind="
                 "\"changed\"}") > 0;
  }));
}

TEST_F(MetricsTest, WatchStreamCountsOnceAtItsEndAndTracksSubscribers) {
  const std::string subscribers =
      absl::StrCat("vla_watch_subscribers{method=\"", kWatch, "\"}");
  const std::string durations =
      absl::StrCat("vla_rpc_duration_seconds_count{method=\"", kWatch, "\"}");
  EXPECT_EQ(Value(Scrape(), subscribers), 0);
  {
    grpc::ClientContext ctx;
    auto reader = client::WatchEvents(server_.evaluation().WatchVlaStatuses(
        &ctx, v1::WatchVlaStatusesRequest()));
    v1::VlaStatusEvent event;
    ASSERT_TRUE(reader.Read(&event));  // the snapshot_complete marker
    const std::string scrape = Scrape();
    EXPECT_EQ(Value(scrape, subscribers), 1);
    // Not counted while open.
    EXPECT_TRUE(std::isnan(Value(scrape, durations)));
    ctx.TryCancel();
    EXPECT_THAT(reader.Finish(), IsCode(StatusCode::CANCELLED));
  }
  // Counted when the status goes out; detached just after.
  ASSERT_TRUE(Eventually([&] {
    const std::string scrape = Scrape();
    return Value(scrape, RpcTotal(kWatch, "CANCELLED")) == 1 &&
           Value(scrape, subscribers) == 0;
  })) << Scrape();
  const std::string scrape = Scrape();
  EXPECT_EQ(Value(scrape, durations), 1);
  EXPECT_EQ(Value(scrape, absl::StrCat("vla_watch_events_sent_total{method=\"",
                                       kWatch, "\"}")),
            1);
  EXPECT_EQ(
      Value(scrape, absl::StrCat("vla_watch_updates_coalesced_total{method=\"",
                                 kWatch, "\"}")),
      0);
}

TEST_F(MetricsTest, UnknownMethodsShareOneLabel) {
  grpc::GenericStub stub(server_.channel());
  for (const char* method :
       {"/vla.v1.NoSuchService/Nope", "/vla.v1.VmdbService/Nope"}) {
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1), response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     std::lock_guard<std::mutex> lock(mu);
                     status = std::move(s);
                     done = true;
                     cv.notify_all();
                   });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    EXPECT_THAT(status, IsCode(StatusCode::UNIMPLEMENTED)) << method;
  }
  const std::string scrape = Scrape();
  EXPECT_EQ(Value(scrape, RpcTotal("unknown", "UNIMPLEMENTED")), 2);
  EXPECT_THAT(scrape, Not(HasSubstr("Nope")));
}

// --- Request ids and logs ---

TEST_F(MetricsTest, RequestIdIsReturnedAndLoggedWithFailuresButNoToken) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "req-42.abc");
  ctx.AddMetadata("authorization", "Bearer s3cr3t-t0ken");
  v1::GetTeamRequest req;
  req.set_name("teams/nope");
  v1::Team team;
  ::testing::internal::CaptureStderr();
  const grpc::Status s = server_.vmdb().GetTeam(&ctx, req, &team);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(s, IsCode(StatusCode::NOT_FOUND));
  auto it = ctx.GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(it, ctx.GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "req-42.abc");

  std::string line;
  for (absl::string_view l : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(l, "\"request_id\":\"req-42.abc\""))
      line = std::string(l);
  }
  ASSERT_FALSE(line.empty()) << log;
  EXPECT_THAT(line, HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(line, HasSubstr("\"msg\":\"rpc failed\""));
  EXPECT_THAT(line, HasSubstr("\"method\":\"/vla.v1.VmdbService/GetTeam\""));
  EXPECT_THAT(line, HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(line, HasSubstr("\"duration_ms\":"));
  EXPECT_THAT(line, HasSubstr("teams/nope"));  // the error message
  EXPECT_THAT(log, Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(log, Not(HasSubstr("authorization")));
}

TEST_F(MetricsTest, MissingOrUnusableRequestIdsAreReplacedByNewOnes) {
  std::vector<std::string> ids;
  for (const std::string& sent :
       {std::string(), std::string("has space"), std::string(200, 'a')}) {
    grpc::ClientContext ctx;
    if (!sent.empty()) ctx.AddMetadata("x-request-id", sent);
    v1::GetTeamRequest req;
    req.set_name("teams/nope");
    v1::Team team;
    EXPECT_THAT(server_.vmdb().GetTeam(&ctx, req, &team),
                IsCode(StatusCode::NOT_FOUND));
    auto it = ctx.GetServerInitialMetadata().find("x-request-id");
    ASSERT_NE(it, ctx.GetServerInitialMetadata().end()) << sent;
    const std::string id(it->second.data(), it->second.size());
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos)
        << id;
    ids.push_back(id);
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
}

TEST(MetricsServerTest, SlowCallsAreLogged) {
  ServerOptions options = FastOptions();
  options.slow_rpc_threshold = absl::ZeroDuration();
  TestServer server(options);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "slow-1");
  v1::ListTeamsRequest req;
  v1::ListTeamsResponse resp;
  ::testing::internal::CaptureStderr();
  const grpc::Status s = server.vmdb().ListTeams(&ctx, req, &resp);
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(log, HasSubstr("\"msg\":\"slow rpc\",\"method\":\"/"
                             "vla.v1.VmdbService/ListTeams\""));
  EXPECT_THAT(log, HasSubstr("\"request_id\":\"slow-1\""));
}

TEST(RequestIdTest, KeepsSaneIdsOnly) {
  EXPECT_EQ(RequestIdOrNew("abc-123_x.y:z/w+v="), "abc-123_x.y:z/w+v=");
  EXPECT_NE(RequestIdOrNew("a\"b"), "a\"b");
  EXPECT_NE(RequestIdOrNew("a\nb"), "a\nb");
  EXPECT_EQ(RequestIdOrNew(std::string(128, 'x')), std::string(128, 'x'));
  EXPECT_EQ(RequestIdOrNew(std::string(129, 'x')).size(), 32u);
  EXPECT_EQ(RequestIdOrNew("").size(), 32u);
}

// --- The facade ---

TEST(MetricsRegistryTest, SeriesAddUpAndSampledValuesAreReadAtScrape) {
  metrics::Registry registry;
  registry.GetCounter("t_total", "help", {{"k", "a"}}).Increment();
  registry.GetCounter("t_total", "help", {{"k", "a"}}).Increment(2);
  registry.GetCounter("t_total", "help", {{"k", "b"}}).Increment();
  registry.GetGauge("t_gauge", "help").Set(7);
  registry.GetHistogram("t_seconds", "help", {0.1, 1})
      .ObserveDuration(absl::Milliseconds(500));
  double sampled = 1;
  registry.AddSampled("t_sampled", "help", metrics::Registry::Type::kGauge,
                      {{"x", "y"}}, [&] { return sampled; });
  sampled = 42;
  const std::string scrape = registry.Scrape();
  EXPECT_EQ(Value(scrape, "t_total{k=\"a\"}"), 3);
  EXPECT_EQ(Value(scrape, "t_total{k=\"b\"}"), 1);
  EXPECT_EQ(Value(scrape, "t_gauge"), 7);
  EXPECT_EQ(Value(scrape, "t_seconds_bucket{le=\"0.1\"}"), 0);
  EXPECT_EQ(Value(scrape, "t_seconds_bucket{le=\"1\"}"), 1);
  EXPECT_EQ(Value(scrape, "t_sampled{x=\"y\"}"), 42);
  EXPECT_THAT(scrape, HasSubstr("# TYPE t_sampled gauge\n"));
  // Handles without a registry do nothing.
  metrics::Counter().Increment();
  metrics::Histogram().Observe(1);
  metrics::Gauge().Set(1);
}

TEST(MetricsRegistryDeathTest, OneNameIsOneFamily) {
  EXPECT_DEATH(
      {
        metrics::Registry registry;
        registry.GetCounter("t_total", "help");
        registry.GetGauge("t_total", "help");
      },
      "t_total registered twice");
}

}  // namespace
}  // namespace vla
