// End to end: the real `vlad` binary, started on port 0, used over TCP,
// killed with SIGKILL after acknowledged writes and restarted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "clients/lib/watch.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/fixtures.h"
#include "tests/http_get.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::IsCode;
using testing::TempDir;

// The real server binary in a child process, with stubs.
class Vlad {
 public:
  explicit Vlad(const std::string& data_dir) : process_(VLAD_PATH, data_dir) {}

  // Starts vlad and waits until it reports its port and is SERVING.
  void Start() {
    const absl::Status s = process_.Start();
    ASSERT_TRUE(s.ok()) << s;
    channel_ = grpc::CreateChannel(process_.address(),
                                   grpc::InsecureChannelCredentials());
    vmdb_ = v1::VmdbService::NewStub(channel_);
    evaluation_ = v1::EvaluationService::NewStub(channel_);
  }

  void Signal(int sig) { process_.Signal(sig); }
  void DropChannel() {
    vmdb_.reset();
    channel_.reset();
  }

  // Waits for exit; returns the wait status.
  int Wait() { return process_.Wait(); }

  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  v1::VmdbService::Stub& vmdb() { return *vmdb_; }
  v1::EvaluationService::Stub& evaluation() { return *evaluation_; }

 private:
  testing::VladProcess process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmdbService::Stub> vmdb_;
  std::unique_ptr<v1::EvaluationService::Stub> evaluation_;
};

TEST(EndToEndTest, HelpExplainsEveryFlag) {
  TempDir dir;
  const std::string out = dir.File("help.txt");
  const std::string cmd = absl::StrCat(VLAD_PATH, " --help > ", out, " 2>&1");
  const int rc = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(rc));
  std::ifstream in(out);
  std::string help((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  for (const char* flag : {"--listen", "--data_dir", "--services",
                           "--shutdown_grace", "--port_file"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(EndToEndTest, ReflectionListsEveryService) {
  TempDir dir;
  Vlad vlad(dir.path());
  ASSERT_NO_FATAL_FAILURE(vlad.Start());
  auto stub =
      grpc::reflection::v1alpha::ServerReflection::NewStub(vlad.channel());
  grpc::ClientContext ctx;
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> names;
  for (const auto& s : resp.list_services_response().service())
    names.insert(s.name());
  EXPECT_TRUE(names.count("vla.v1.VmdbService"));
  EXPECT_TRUE(names.count("vla.v1.EvaluationService"));
  EXPECT_TRUE(names.count("vla.v1.OkrStatusService"));
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));
  stream->WritesDone();
  ctx.TryCancel();
}

TEST(EndToEndTest, SigkillLosesNoAcknowledgedWrite) {
  TempDir dir;
  Vlad vlad(dir.path());
  ASSERT_NO_FATAL_FAILURE(vlad.Start());

  // Writers create teams as fast as they can; each acknowledged id is kept.
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> count{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        v1::CreateTeamRequest req;
        req.set_team_id(absl::StrFormat("w%d-%05d", w, i));
        *req.mutable_team() = testing::MakeTeam();
        v1::Team out;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
        if (vlad.vmdb().CreateTeam(&ctx, req, &out).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.insert(out.name());
          ++count;
        } else {
          return;  // the server is gone
        }
      }
    });
  }
  while (count < 200) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  vlad.Signal(SIGKILL);  // mid-stream: writes are still in flight
  const int status = vlad.Wait();
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(acknowledged.size(), 200u);

  ASSERT_NO_FATAL_FAILURE(vlad.Start());
  for (const std::string& name : acknowledged) {
    v1::GetTeamRequest req;
    req.set_name(name);
    v1::Team team;
    ASSERT_TRUE(vlad.vmdb().GetTeam(Ctx().get(), req, &team).ok()) << name;
  }
  // The change log after restart is gap-free and holds every acknowledged
  // write.
  grpc::ClientContext ctx;
  auto stream = client::WatchEvents(
      vlad.vmdb().WatchChanges(&ctx, v1::WatchChangesRequest()));
  v1::Change change;
  std::set<std::string> logged;
  int64_t expect = 1;
  while (logged.size() < acknowledged.size() && stream.Read(&change)) {
    EXPECT_EQ(change.revision(), expect++);
    logged.insert(change.name());
  }
  for (const std::string& name : acknowledged)
    EXPECT_TRUE(logged.count(name)) << name;
  ctx.TryCancel();
  stream.Finish();
}

TEST(EndToEndTest, SigtermEndsStreamsAndExitsCleanly) {
  TempDir dir;
  Vlad vlad(dir.path());
  ASSERT_NO_FATAL_FAILURE(vlad.Start());
  v1::CreateTeamRequest req;
  req.set_team_id("a");
  *req.mutable_team() = testing::MakeTeam();
  v1::Team team;
  ASSERT_TRUE(vlad.vmdb().CreateTeam(Ctx().get(), req, &team).ok());

  auto ctx = std::make_unique<grpc::ClientContext>();
  std::optional<client::WatchReader<v1::WatchChangesResponse>> stream =
      client::WatchEvents(
          vlad.vmdb().WatchChanges(ctx.get(), v1::WatchChangesRequest()));
  v1::Change change;
  ASSERT_TRUE(stream->Read(&change));
  const auto start = std::chrono::steady_clock::now();
  vlad.Signal(SIGTERM);
  // The stream ends at once, before the server's grace period.
  EXPECT_FALSE(stream->Read(&change));
  EXPECT_THAT(stream->Finish(), IsCode(StatusCode::UNAVAILABLE));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  stream.reset();
  ctx.reset();
  // A client that sees the server go away drops its connection (an idle,
  // unpolled one would hold the server until the end of its grace period).
  vlad.DropChannel();
  const int status = vlad.Wait();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Within the grace period (gRPC 1.51 waits for connections, including the
  // services' in-process ones, to close until the deadline).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  // Restart on the same folder keeps the data.
  ASSERT_NO_FATAL_FAILURE(vlad.Start());
  v1::GetTeamRequest get;
  get.set_name("teams/a");
  EXPECT_TRUE(vlad.vmdb().GetTeam(Ctx().get(), get, &team).ok());
}

TEST(EndToEndTest, SigkillMidIngestCountsEveryAcknowledgedRecordOnce) {
  TempDir dir;
  Vlad vlad(dir.path());
  ASSERT_NO_FATAL_FAILURE(vlad.Start());
  v1::CreateTeamRequest team;
  team.set_team_id("business");
  *team.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_CONSUMER);
  v1::Team team_out;
  ASSERT_TRUE(vlad.vmdb().CreateTeam(Ctx().get(), team, &team_out).ok());
  team.set_team_id("desk");
  *team.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_PROVIDER);
  ASSERT_TRUE(vlad.vmdb().CreateTeam(Ctx().get(), team, &team_out).ok());
  v1::CreateValueStreamRequest vs;
  vs.set_value_stream_id("incident");
  *vs.mutable_value_stream() =
      testing::MakeValueStream("teams/business", {"teams/desk"});
  v1::ValueStream vs_out;
  ASSERT_TRUE(vlad.vmdb().CreateValueStream(Ctx().get(), vs, &vs_out).ok());
  v1::CreateKviRequest kvi;
  kvi.set_kvi_id("calls");
  kvi.mutable_kvi()->set_value_stream("valueStreams/incident");
  kvi.mutable_kvi()->set_source(v1::SOURCE_OBSERVATIONS);
  kvi.mutable_kvi()->set_signal("calls");
  kvi.mutable_kvi()->set_aggregation(v1::AGGREGATION_COUNT);
  kvi.mutable_kvi()->mutable_window()->mutable_rolling()->set_seconds(3650LL *
                                                                      86400);
  kvi.mutable_kvi()->set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
  v1::Kvi kvi_out;
  ASSERT_TRUE(vlad.vmdb().CreateKvi(Ctx().get(), kvi, &kvi_out).ok());

  constexpr int kBatches = 400, kPerBatch = 200;
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::vector<v1::IngestRequest> batches(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kPerBatch; ++i) {
      v1::Observation* o = batches[b].add_observations();
      o->set_event_id(absl::StrCat("b", b, "-", i));
      o->set_signal("calls");
      o->mutable_time()->set_seconds(now - 86400 + b);
      o->set_value(1);
      o->set_value_stream("valueStreams/incident");
    }
  }
  // Stream until the server is killed after some acknowledgements.
  std::atomic<int> acked{0};
  {
    grpc::ClientContext ctx;
    auto stream = vlad.evaluation().Ingest(&ctx);
    std::thread writer([&] {
      for (const auto& b : batches) {
        if (!stream->Write(b)) break;
      }
      stream->WritesDone();
    });
    v1::IngestResponse resp;
    while (stream->Read(&resp)) {
      if (resp.accepted() + resp.duplicates() != kPerBatch) break;
      if (++acked == 50) vlad.Signal(SIGKILL);  // mid-stream
    }
    writer.join();
    stream->Finish();
  }
  vlad.Wait();
  ASSERT_GE(acked.load(), 50);
  ASSERT_LT(acked.load(), kBatches)
      << "the kill came too late to test anything";

  // The client resends everything (it cannot know what was committed).
  ASSERT_NO_FATAL_FAILURE(vlad.Start());
  int64_t accepted = 0, duplicates = 0;
  for (const auto& b : batches) {
    v1::IngestResponse resp;
    grpc::Status s;
    for (int attempt = 0; attempt < 500; ++attempt) {
      s = vlad.evaluation().IngestBatch(Ctx().get(), b, &resp);
      if (s.error_code() != StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    accepted += resp.accepted();
    duplicates += resp.duplicates();
  }
  // Every acknowledged record was stored before the kill: a duplicate now.
  EXPECT_GE(duplicates, static_cast<int64_t>(acked) * kPerBatch);
  EXPECT_EQ(accepted + duplicates, kBatches * kPerBatch);
  // And every record is counted exactly once, from the next evaluation pass
  // on (a read without a time answers the latest pass).
  v1::GetKviValueRequest req;
  req.set_kvi("kvis/calls");
  v1::KviValue value;
  for (int tries = 0; tries < 500; ++tries) {
    ASSERT_TRUE(vlad.evaluation().GetKviValue(Ctx().get(), req, &value).ok());
    if (value.samples() >= kBatches * kPerBatch) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(value.samples(), kBatches * kPerBatch);
  EXPECT_DOUBLE_EQ(value.value(), kBatches * kPerBatch);
}

// --metrics_listen: the bound port is logged and serves the RPC counts.
TEST(EndToEndTest, MetricsFlagServesPrometheusText) {
  TempDir dir;
  testing::VladProcess vlad(VLAD_PATH, dir.path(),
                            {"--metrics_listen=127.0.0.1:0"});
  ASSERT_TRUE(vlad.Start().ok());
  const int port = vlad.port();
  const std::string log = dir.File("vlad.log");
  // {"...","msg":"metrics listening","address":"127.0.0.1:PORT",...}
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  const std::string key = "\"metrics listening\",\"address\":\"127.0.0.1:";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos) << text;
  const int metrics_port = std::atoi(text.c_str() + at + key.size());
  ASSERT_GT(metrics_port, 0);

  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(
      health->Check(Ctx().get(), grpc::health::v1::HealthCheckRequest(), &resp)
          .ok());
  const testing::HttpResponse r = testing::HttpGet(metrics_port, "/metrics");
  EXPECT_EQ(r.status, 200);
  // Start() and this test checked health: counted by method and code.
  EXPECT_NE(r.body.find("vla_rpc_total{code=\"OK\",method=\"/"
                        "grpc.health.v1.Health/Check\"} "),
            std::string::npos)
      << r.body;
  vlad.Signal(SIGTERM);
  const int status = vlad.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace vla
