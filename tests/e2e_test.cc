// End to end: the real `vlad` binary, started on port 0, used over TCP,
// killed with SIGKILL after acknowledged writes and restarted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/fixtures.h"
#include "tests/test_util.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::IsCode;
using testing::TempDir;

// The real server binary in a child process.
class Vlad {
 public:
  explicit Vlad(const std::string& data_dir) : data_dir_(data_dir) {}
  ~Vlad() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Starts vlad and waits until it reports its port and is SERVING.
  void Start() {
    const std::string port_file = absl::StrCat(data_dir_, "/port");
    unlink(port_file.c_str());
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string log = absl::StrCat(data_dir_, "/vlad.log");
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 2);
      const std::string data = absl::StrCat("--data_dir=", data_dir_);
      const std::string pf = absl::StrCat("--port_file=", port_file);
      execl(VLAD_PATH, VLAD_PATH, "--listen=127.0.0.1:0", data.c_str(),
            pf.c_str(), "--shutdown_grace=3s", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      if (!(in >> port_)) {
        port_ = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_GT(port_, 0) << "vlad did not report its port";
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
    vmdb_ = v1::VmdbService::NewStub(channel_);
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    auto ctx = Ctx();
    ASSERT_TRUE(health->Check(ctx.get(), req, &resp).ok());
    ASSERT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }

  void Signal(int sig) { kill(pid_, sig); }
  void DropChannel() {
    vmdb_.reset();
    channel_.reset();
  }

  // Waits for exit; returns the wait status.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    port_ = 0;
    return status;
  }

  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  v1::VmdbService::Stub& vmdb() { return *vmdb_; }

 private:
  std::string data_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmdbService::Stub> vmdb_;
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
  vlad.Start();
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
  vlad.Start();

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

  vlad.Start();
  for (const std::string& name : acknowledged) {
    v1::GetTeamRequest req;
    req.set_name(name);
    v1::Team team;
    ASSERT_TRUE(vlad.vmdb().GetTeam(Ctx().get(), req, &team).ok()) << name;
  }
  // The change log after restart is gap-free and holds every acknowledged
  // write.
  grpc::ClientContext ctx;
  auto stream = vlad.vmdb().WatchChanges(&ctx, v1::WatchChangesRequest());
  v1::Change change;
  std::set<std::string> logged;
  int64_t expect = 1;
  while (logged.size() < acknowledged.size() && stream->Read(&change)) {
    EXPECT_EQ(change.revision(), expect++);
    logged.insert(change.name());
  }
  for (const std::string& name : acknowledged)
    EXPECT_TRUE(logged.count(name)) << name;
  ctx.TryCancel();
  stream->Finish();
}

TEST(EndToEndTest, SigtermEndsStreamsAndExitsCleanly) {
  TempDir dir;
  Vlad vlad(dir.path());
  vlad.Start();
  v1::CreateTeamRequest req;
  req.set_team_id("a");
  *req.mutable_team() = testing::MakeTeam();
  v1::Team team;
  ASSERT_TRUE(vlad.vmdb().CreateTeam(Ctx().get(), req, &team).ok());

  auto ctx = std::make_unique<grpc::ClientContext>();
  auto stream = vlad.vmdb().WatchChanges(ctx.get(), v1::WatchChangesRequest());
  v1::Change change;
  ASSERT_TRUE(stream->Read(&change));
  const auto start = std::chrono::steady_clock::now();
  vlad.Signal(SIGTERM);
  EXPECT_FALSE(stream->Read(&change));
  EXPECT_THAT(stream->Finish(), IsCode(StatusCode::UNAVAILABLE));
  stream.reset();
  ctx.reset();
  // A client that sees the server go away drops its connection (an idle,
  // unpolled one would hold the server until the end of its grace period).
  vlad.DropChannel();
  const int status = vlad.Wait();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Well inside the grace period: nothing was left to wait for.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));

  // Restart on the same folder keeps the data.
  vlad.Start();
  v1::GetTeamRequest get;
  get.set_name("teams/a");
  EXPECT_TRUE(vlad.vmdb().GetTeam(Ctx().get(), get, &team).ok());
}

}  // namespace
}  // namespace vla
