// The real `vlad` binary with its security and limit flags: TLS, mutual
// TLS, a tokens file, --hash_token and --help.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/cert_util.h"
#include "tests/test_util.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::IsCode;
using testing::KeyCert;
using testing::TempDir;

std::string RunShell(const std::string& command, const TempDir& dir) {
  const std::string out = dir.File("out.txt");
  const int rc =
      std::system(absl::StrCat(command, " > ", out, " 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << command;
  std::ifstream in(out);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

TEST(VladSecurityTest, HashTokenPrintsTheSha256) {
  TempDir dir;
  // SHA-256("test").
  EXPECT_EQ(
      RunShell(absl::StrCat("echo test | ", VLAD_PATH, " --hash_token"), dir),
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n");
}

TEST(VladSecurityTest, HelpExplainsEveryNewFlag) {
  TempDir dir;
  const std::string help =
      RunShell(absl::StrCat("(", VLAD_PATH, " --help || true)"), dir);
  for (const char* flag :
       {"--tls_cert", "--tls_key", "--tls_client_ca", "--tls_peer_ca",
        "--tls_refresh_interval", "--auth_tokens_file", "--peer_token_file",
        "--hash_token", "--max_message_bytes", "--max_ingest_message_bytes",
        "--max_ingest_batch_records", "--max_concurrent_streams",
        "--memory_quota_bytes", "--keepalive_min_ping_interval",
        "--keepalive_permit_without_calls"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(VladSecurityTest, MutualTlsAndTokens) {
  TempDir dir;
  const KeyCert ca = testing::MakeCa("ca");
  const KeyCert server = testing::MakeLeaf(ca, "vlad");
  const KeyCert client = testing::MakeLeaf(ca, "client");
  testing::WriteFileAtomically(dir.File("tls.crt"), server.cert_pem);
  testing::WriteFileAtomically(dir.File("tls.key"), server.key_pem);
  testing::WriteFileAtomically(dir.File("ca.crt"), ca.cert_pem);
  const std::string hash = RunShell(
      absl::StrCat("echo admin-token | ", VLAD_PATH, " --hash_token"), dir);
  testing::WriteFileAtomically(dir.File("tokens"),
                               absl::StrCat("admin vlactl ", hash));

  const std::string port_file = dir.File("port");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd =
        open(dir.File("vlad.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    const std::string args[] = {
        absl::StrCat("--data_dir=", dir.path()),
        absl::StrCat("--port_file=", port_file),
        absl::StrCat("--tls_cert=", dir.File("tls.crt")),
        absl::StrCat("--tls_key=", dir.File("tls.key")),
        absl::StrCat("--tls_client_ca=", dir.File("ca.crt")),
        absl::StrCat("--auth_tokens_file=", dir.File("tokens")),
    };
    execl(VLAD_PATH, VLAD_PATH, "--listen=127.0.0.1:0", "--shutdown_grace=1s",
          args[0].c_str(), args[1].c_str(), args[2].c_str(), args[3].c_str(),
          args[4].c_str(), args[5].c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 200 && port == 0; ++i) {
    std::ifstream in(port_file);
    if (!(in >> port)) {
      port = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_GT(port, 0) << "vlad did not report its port";
  const std::string address = absl::StrCat("127.0.0.1:", port);

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca.cert_pem;
  ssl.pem_private_key = client.key_pem;
  ssl.pem_cert_chain = client.cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto stub = v1::VmdbService::NewStub(
      grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args));
  v1::CreateTeamRequest req;
  req.set_team_id("ops");
  req.mutable_team()->set_kind(v1::TEAM_KIND_PROVIDER);
  v1::Team team;
  EXPECT_THAT(stub->CreateTeam(Ctx().get(), req, &team),
              IsCode(StatusCode::UNAUTHENTICATED));
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", "Bearer admin-token");
  EXPECT_TRUE(stub->CreateTeam(ctx.get(), req, &team).ok());

  auto plaintext = v1::VmdbService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  ctx = Ctx();
  ctx->AddMetadata("authorization", "Bearer admin-token");
  v1::GetTeamRequest get;
  get.set_name("teams/ops");
  EXPECT_THAT(plaintext->GetTeam(ctx.get(), get, &team),
              IsCode(StatusCode::UNAVAILABLE));

  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream in(dir.File("vlad.log"));
  const std::string log((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  EXPECT_EQ(log.find("admin-token"), std::string::npos);
}

}  // namespace
}  // namespace vla
