// End to end, as an operator meets it: the real `vlad` binary killed with
// SIGKILL after a checkpoint of the evaluator's memory and in the middle of
// writing one (each next start answers exactly as a full rebuild from every
// stored record), and running out of disk on a small file system.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/fixtures.h"
#include "tests/http_get.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"

namespace vla {
namespace {

using testing::Ctx;
using testing::TempDir;

const std::vector<std::string> kKvis = {"kvis/lead-time", "kvis/calls"};

// Teams, a value stream, a work item KVI (p90 lead time), an observation
// KVI (a count) and a VLA over both.
void CreateDefinitions(v1::VmdbService::Stub& vmdb) {
  const auto ok = [](const grpc::Status& s) {
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  for (const auto& [id, kind] :
       std::vector<std::pair<std::string, v1::TeamKind>>{
           {"business", v1::TEAM_KIND_CONSUMER},
           {"service-desk", v1::TEAM_KIND_PROVIDER}}) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    *req.mutable_team() = testing::MakeTeam(kind);
    v1::Team out;
    ASSERT_NO_FATAL_FAILURE(ok(vmdb.CreateTeam(Ctx().get(), req, &out)));
  }
  v1::CreateValueStreamRequest vs;
  vs.set_value_stream_id("incident");
  *vs.mutable_value_stream() =
      testing::MakeValueStream("teams/business", {"teams/service-desk"});
  v1::ValueStream vs_out;
  ASSERT_NO_FATAL_FAILURE(ok(vmdb.CreateValueStream(Ctx().get(), vs, &vs_out)));
  v1::CreateKviRequest kvi;
  kvi.set_kvi_id("lead-time");
  *kvi.mutable_kvi() = testing::MakeKvi();
  v1::Kvi kvi_out;
  ASSERT_NO_FATAL_FAILURE(ok(vmdb.CreateKvi(Ctx().get(), kvi, &kvi_out)));
  kvi.set_kvi_id("calls");
  kvi.mutable_kvi()->set_source(v1::SOURCE_OBSERVATIONS);
  kvi.mutable_kvi()->clear_field();
  kvi.mutable_kvi()->clear_percentile();
  kvi.mutable_kvi()->set_signal("calls");
  kvi.mutable_kvi()->set_aggregation(v1::AGGREGATION_COUNT);
  kvi.mutable_kvi()->set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
  ASSERT_NO_FATAL_FAILURE(ok(vmdb.CreateKvi(Ctx().get(), kvi, &kvi_out)));
  v1::CreateVlaRequest vla;
  vla.set_vla_id("incident");
  *vla.mutable_vla() = testing::MakeVla({"kvis/lead-time"});
  v1::Vla vla_out;
  ASSERT_NO_FATAL_FAILURE(ok(vmdb.CreateVla(Ctx().get(), vla, &vla_out)));
}

// Records [first, first + count) of a deterministic load over the 20 days
// before `now`: counted calls (two records in three), and events of 500
// items, some arriving after later events of the same item.
v1::IngestRequest Batch(int first, int count, absl::Time now) {
  v1::IngestRequest batch;
  for (int n = first; n < first + count; ++n) {
    if (n % 3 != 0) {
      v1::Observation* o = batch.add_observations();
      o->set_event_id(absl::StrCat("o", n));
      o->set_signal("calls");
      o->set_value_stream("valueStreams/incident");
      o->mutable_time()->set_seconds(absl::ToUnixSeconds(now) -
                                     (int64_t{n} * 7919) % (20 * 86400));
      o->set_value(1);
      continue;
    }
    const int item = (n * 31) % 500;
    const int step = (n / 500) % 4;
    static constexpr v1::EventKind kKinds[] = {
        v1::EVENT_KIND_RESOLVED, v1::EVENT_KIND_CREATED,
        v1::EVENT_KIND_ASSIGNED, v1::EVENT_KIND_REOPENED};
    v1::WorkItemEvent* e = batch.add_work_item_events();
    e->set_event_id(absl::StrCat("e", n));
    e->set_item_id(absl::StrCat("INC", item));
    e->set_value_stream("valueStreams/incident");
    e->set_kind(kKinds[step]);
    // Created 19 days ago plus up to 400 hours; a resolution (often the
    // first event to arrive) a few hours after it.
    const int64_t created =
        absl::ToUnixSeconds(now) - 19 * 86400 + item % 400 * 3600;
    const int64_t offsets[] = {6 * 3600 + item % 7 * 1800, 0, 600, 9 * 3600};
    e->mutable_time()->set_seconds(created + offsets[step]);
    if (step == 2) e->set_team("teams/service-desk");
  }
  return batch;
}

// The calls among records [0, n).
int64_t Calls(int64_t n) { return n - (n + 2) / 3; }

struct Answers {
  std::map<std::string, v1::KviValue> kvis;
  v1::VlaStatus vla;
};

class Server {
 public:
  Server(const std::string& dir, std::vector<std::string> args)
      : dir_(dir), process_(VLAD_PATH, dir, std::move(args)) {}

  void Start() {
    const absl::Status s = process_.Start();
    ASSERT_TRUE(s.ok()) << s << "\n" << Log();
    channel_ = grpc::CreateChannel(process_.address(),
                                   grpc::InsecureChannelCredentials());
    vmdb_ = v1::VmdbService::NewStub(channel_);
    evaluation_ = v1::EvaluationService::NewStub(channel_);
  }
  void Signal(int sig) { process_.Signal(sig); }
  // SIGTERM (a graceful stop: the evaluator writes its snapshot) or
  // SIGKILL, and waits.
  void Stop(int sig) {
    // No connection to the old process outlives it (a restart on the same
    // port must not meet a stale one).
    vmdb_.reset();
    evaluation_.reset();
    channel_.reset();
    process_.Signal(sig);
    const int status = process_.Wait();
    if (sig == SIGTERM) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
  }

  // Ingests records [first, first + count) in batches of `per_batch`;
  // returns how many were acknowledged.
  int64_t Ingest(int first, int count, int per_batch, absl::Time now) {
    int64_t acked = 0;
    for (int b = first; b < first + count; b += per_batch) {
      v1::IngestResponse resp;
      const grpc::Status s = evaluation_->IngestBatch(
          Ctx().get(), Batch(b, std::min(per_batch, first + count - b), now),
          &resp);
      if (!s.ok()) break;
      EXPECT_EQ(resp.rejected_size(), 0) << resp.rejected(0).reason();
      acked += resp.accepted() + resp.duplicates();
    }
    return acked;
  }

  // Every KVI and the VLA, evaluated at `at`.
  Answers Ask(absl::Time at) {
    Answers a;
    for (const std::string& k : kKvis) {
      v1::GetKviValueRequest req;
      req.set_kvi(k);
      req.mutable_time()->set_seconds(absl::ToUnixSeconds(at));
      const grpc::Status s =
          evaluation_->GetKviValue(Ctx().get(), req, &a.kvis[k]);
      EXPECT_TRUE(s.ok()) << k << ": " << s.error_message();
    }
    v1::GetVlaStatusRequest req;
    req.set_vla("vlas/incident");
    req.mutable_time()->set_seconds(absl::ToUnixSeconds(at));
    const grpc::Status s = evaluation_->GetVlaStatus(Ctx().get(), req, &a.vla);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return a;
  }

  std::string Log() const {
    std::ifstream in(dir_ + "/vlad.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The last "evaluator loaded" line of the log.
  std::string LoadLine() const {
    std::ifstream in(dir_ + "/vlad.log");
    std::string line, last;
    while (std::getline(in, line)) {
      if (line.find("\"evaluator loaded\"") != std::string::npos) last = line;
    }
    return last;
  }

  v1::VmdbService::Stub& vmdb() { return *vmdb_; }
  v1::EvaluationService::Stub& evaluation() { return *evaluation_; }

  // The health of `service` ("" for the whole server).
  grpc::health::v1::HealthCheckResponse::ServingStatus Health(
      const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    const grpc::Status s = stub->Check(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }

  // The port --metrics_listen=127.0.0.1:0 bound (from the log).
  int MetricsPort() const {
    const std::string text = Log();
    const std::string key = "\"metrics listening\",\"address\":\"127.0.0.1:";
    const size_t at = text.rfind(key);
    return at == std::string::npos ? 0
                                   : std::atoi(text.c_str() + at + key.size());
  }

 private:
  std::string dir_;
  testing::VladProcess process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmdbService::Stub> vmdb_;
  std::unique_ptr<v1::EvaluationService::Stub> evaluation_;
};

void ExpectSame(const Answers& want, const Answers& got) {
  using google::protobuf::util::MessageDifferencer;
  for (const auto& [name, value] : want.kvis) {
    EXPECT_TRUE(
        MessageDifferencer::ApproximatelyEquals(value, got.kvis.at(name)))
        << name << "\nwant " << value.ShortDebugString() << "\ngot  "
        << got.kvis.at(name).ShortDebugString();
  }
  EXPECT_TRUE(MessageDifferencer::ApproximatelyEquals(want.vla, got.vla))
      << "want " << want.vla.ShortDebugString() << "\ngot  "
      << got.vla.ShortDebugString();
}

// What a start without the snapshot answers (the snapshot moved aside for
// it and back after).
Answers FullRebuild(const std::string& dir, absl::Time at) {
  const std::string snapshot = dir + "/evaluator.db.snapshot";
  std::error_code ec;
  std::filesystem::rename(snapshot, snapshot + ".aside", ec);
  Server server(dir, {"--snapshot_interval=0s"});
  server.Start();
  Answers a = server.Ask(at);
  EXPECT_NE(server.LoadLine().find("\"snapshot_covers\":\"0\""),
            std::string::npos)
      << server.LoadLine();
  server.Stop(SIGKILL);  // no snapshot of its own
  if (!ec) std::filesystem::rename(snapshot + ".aside", snapshot);
  return a;
}

TEST(DurabilityTest, SigkillAfterASnapshotStartsLikeAFullRebuild) {
  TempDir dir;
  const absl::Time now =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  Server server(dir.path(), {"--snapshot_interval=0s"});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_NO_FATAL_FAILURE(CreateDefinitions(server.vmdb()));
  EXPECT_EQ(server.Ingest(0, 15000, 500, now), 15000);
  server.Stop(SIGTERM);  // writes the snapshot
  ASSERT_TRUE(std::filesystem::exists(dir.File("evaluator.db.snapshot")));

  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_NE(server.LoadLine().find("\"records_replayed\":\"0\""),
            std::string::npos)
      << server.LoadLine();
  // More records, among them earlier events of items the snapshot holds.
  EXPECT_EQ(server.Ingest(15000, 5000, 500, now), 5000);
  server.Stop(SIGKILL);

  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_NE(server.LoadLine().find("\"snapshot_covers\":\"15000\""),
            std::string::npos)
      << server.LoadLine();
  EXPECT_NE(server.LoadLine().find("\"records_replayed\":\"5000\""),
            std::string::npos)
      << server.LoadLine();
  const Answers loaded = server.Ask(now);
  server.Stop(SIGKILL);
  EXPECT_EQ(loaded.kvis.at("kvis/calls").samples(), Calls(20000));
  ExpectSame(FullRebuild(dir.path(), now), loaded);
}

TEST(DurabilityTest, SigkillWhileWritingASnapshotLosesNothing) {
  TempDir dir;
  const absl::Time now =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  // A snapshot every 10 ms while records come.
  Server server(dir.path(), {"--snapshot_interval=10ms"});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_NO_FATAL_FAILURE(CreateDefinitions(server.vmdb()));
  ASSERT_EQ(server.Ingest(0, 40000, 1000, now), 40000);
  // Kill the moment a snapshot is being written (its .tmp exists).
  const std::string tmp = dir.File("evaluator.db.snapshot.tmp");
  std::atomic<bool> stop{false};
  std::atomic<int> sent{40000};
  int64_t acked = 40000;
  std::thread ingest([&] {
    for (; sent < 100000 && !stop; sent += 50) {
      if (server.Ingest(sent, 50, 50, now) != 50) break;
      acked += 50;
    }
  });
  bool caught = false;
  for (const absl::Time until = absl::Now() + absl::Seconds(20);
       !caught && absl::Now() < until;) {
    caught = std::filesystem::exists(tmp);
  }
  server.Signal(SIGKILL);
  stop = true;
  ingest.join();
  server.Stop(SIGKILL);
  ASSERT_TRUE(caught) << "no snapshot was being written in 20 s";
  EXPECT_TRUE(std::filesystem::exists(tmp));

  ASSERT_NO_FATAL_FAILURE(server.Start());
  const Answers loaded = server.Ask(now);
  server.Stop(SIGKILL);
  ExpectSame(FullRebuild(dir.path(), now), loaded);
  // Nothing acknowledged is lost (the batch in flight at the kill may or
  // may not have been stored).
  const int64_t calls = loaded.kvis.at("kvis/calls").samples();
  EXPECT_GE(calls, Calls(acked));
  EXPECT_LE(calls, Calls(sent + 50));
}

int64_t FreeBytes(const std::string& folder) {
  struct statvfs fs;
  if (statvfs(folder.c_str(), &fs) != 0) return 0;
  return static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
}

// A tmpfs of `bytes` mounted on a new folder for the test's life (needs
// CAP_SYS_ADMIN; mounted() says whether it worked).
class SmallFileSystem {
 public:
  explicit SmallFileSystem(const std::string& dir, int64_t bytes)
      : dir_(dir + "/small") {
    std::filesystem::create_directories(dir_);
    mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0,
                     absl::StrCat("size=", bytes).c_str()) == 0;
  }
  ~SmallFileSystem() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// Writes `path` until the file system is full; returns the bytes written.
int64_t FillUp(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  const std::string chunk(64 << 10, 'x');
  int64_t written = 0;
  for (;;) {
    const ssize_t n = write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    written += n;
  }
  fsync(fd);
  close(fd);
  return written;
}

// A 48 MiB file system for the data folder, a 16 MiB reserve: ingest until
// the reserve stops it (RESOURCE_EXHAUSTED naming the folder, the
// evaluator's health NOT_SERVING, the metric), definitions still fit; then
// truly full: definitions too are RESOURCE_EXHAUSTED; then space returns:
// health SERVING by itself, the refused batches go in, and every record
// acknowledged is counted once.
TEST(DurabilityTest, AFullDiskIsResourceExhaustedAndRecoversByItself) {
  TempDir dir;
  SmallFileSystem fs(dir.path(), 48 << 20);
  // Without the right to mount (not root), the reserve is met on the real
  // disk instead: set above its free space. SQLITE_FULL itself is then
  // covered by disk_space_test (a database at its page limit).
  const std::string data = fs.mounted() ? fs.path() : dir.path();
  const int64_t reserve =
      fs.mounted() ? int64_t{16} << 20 : FreeBytes(data) + (int64_t{1} << 30);
  if (!fs.mounted()) {
    std::fprintf(stderr, "no tmpfs (%s): testing the reserve only\n",
                 std::strerror(errno));
  }
  const absl::Time now =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  Server server(
      data, {absl::StrCat("--min_free_bytes=", reserve),
             "--health_check_interval=100ms", "--metrics_listen=127.0.0.1:0",
             "--snapshot_interval=0s"});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  ASSERT_NO_FATAL_FAILURE(CreateDefinitions(server.vmdb()));

  // Ingest until the reserve refuses a batch.
  int64_t acked = 0, next = 0;
  grpc::Status refused;
  std::vector<v1::IngestRequest> refused_batches;
  while (next < 2'000'000) {
    const v1::IngestRequest batch = Batch(next, 2000, now);
    next += 2000;
    v1::IngestResponse resp;
    const grpc::Status s =
        server.evaluation().IngestBatch(Ctx().get(), batch, &resp);
    if (s.ok()) {
      ASSERT_EQ(resp.rejected_size(), 0) << resp.rejected(0).reason();
      acked += resp.accepted();
      continue;
    }
    refused = s;
    refused_batches.push_back(batch);
    break;
  }
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message();
  EXPECT_NE(
      refused.error_message().find(absl::StrCat("the data folder ", data)),
      std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("below the reserve"),
            std::string::npos)
      << refused.error_message();
  const auto wait_for =
      [&](const std::string& service,
          grpc::health::v1::HealthCheckResponse::ServingStatus want) {
        for (int i = 0; i < 100 && server.Health(service) != want; ++i) {
          absl::SleepFor(absl::Milliseconds(50));
        }
        return server.Health(service) == want;
      };
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_TRUE(
      wait_for("vla.v1.EvaluationService", HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(server.Health("vla.v1.VmdbService"), HealthCheckResponse::SERVING);
  // Not a reason to restart the process (Kubernetes liveness asks this).
  EXPECT_EQ(server.Health("liveness"), HealthCheckResponse::SERVING);
  const testing::HttpResponse metrics =
      testing::HttpGet(server.MetricsPort(), "/metrics");
  EXPECT_NE(metrics.body.find("vla_data_free_bytes "), std::string::npos)
      << metrics.body;
  // Below the reserve, definitions still fit.
  v1::CreateTeamRequest team;
  team.set_team_id("network");
  *team.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_PROVIDER);
  v1::Team team_out;
  const grpc::Status created =
      server.vmdb().CreateTeam(Ctx().get(), team, &team_out);
  EXPECT_TRUE(created.ok()) << created.error_message();
  {
    v1::IngestResponse resp;
    const grpc::Status s = server.evaluation().IngestBatch(
        Ctx().get(), Batch(next, 10, now), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    refused_batches.push_back(Batch(next, 10, now));
    next += 10;
  }

  const std::string filler = data + "/filler";
  if (fs.mounted()) {
    // Truly full: a definition is RESOURCE_EXHAUSTED too, naming the folder.
    ASSERT_GT(FillUp(filler), 0);
    team.set_team_id("security");
    grpc::Status full;
    for (int i = 0; i < 200 && full.ok(); ++i) {  // until a page must grow
      team.set_team_id(absl::StrCat("security-", i));
      team.mutable_team()->set_description(std::string(3900, 'd'));
      full = server.vmdb().CreateTeam(Ctx().get(), team, &team_out);
    }
    EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << full.error_message();
    EXPECT_NE(full.error_message().find(absl::StrCat("data folder ", data)),
              std::string::npos)
        << full.error_message();
    const testing::HttpResponse after =
        testing::HttpGet(server.MetricsPort(), "/metrics");
    const std::string key = "vla_storage_errors_total{kind=\"full\"} ";
    const size_t at = after.body.find(key);
    ASSERT_NE(at, std::string::npos) << after.body;
    EXPECT_GT(std::atof(after.body.c_str() + at + key.size()), 0) << after.body;
    std::filesystem::remove(filler);
  } else {
    // Without tmpfs, a restart with no reserve stands in for space
    // returning.
    server.Stop(SIGTERM);
    Server relaxed(data, {"--min_free_bytes=0"});
    ASSERT_NO_FATAL_FAILURE(relaxed.Start());
    for (const v1::IngestRequest& b : refused_batches) {
      v1::IngestResponse resp;
      ASSERT_TRUE(relaxed.evaluation().IngestBatch(Ctx().get(), b, &resp).ok());
    }
    EXPECT_EQ(relaxed.Ask(now).kvis.at("kvis/calls").samples(), Calls(next));
    relaxed.Stop(SIGTERM);
    return;
  }
  // Still below the reserve: the evaluator stays NOT_SERVING, and nothing
  // acknowledged was lost.
  EXPECT_EQ(server.Health("vla.v1.EvaluationService"),
            HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(server.Ask(now).kvis.at("kvis/calls").samples(), Calls(acked));
  // The operator grows the volume (a live remount with more room): health
  // recovers by itself, without a restart.
  ASSERT_EQ(mount("tmpfs", data.c_str(), "tmpfs", MS_REMOUNT,
                  absl::StrCat("size=", 96 << 20).c_str()),
            0)
      << std::strerror(errno);
  EXPECT_TRUE(
      wait_for("vla.v1.EvaluationService", HealthCheckResponse::SERVING));
  for (const v1::IngestRequest& b : refused_batches) {
    v1::IngestResponse resp;
    const grpc::Status s =
        server.evaluation().IngestBatch(Ctx().get(), b, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.accepted(),
              b.observations_size() + b.work_item_events_size());
  }
  EXPECT_EQ(server.Ask(now).kvis.at("kvis/calls").samples(), Calls(next));
  server.Stop(SIGTERM);
}

}  // namespace
}  // namespace vla
