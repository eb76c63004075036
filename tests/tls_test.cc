// Transport security: TLS, mutual TLS, certificate rotation without a
// restart, and services calling each other over TLS with a token. The
// certificates are made in the test (tests/cert_util.h).
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/common/access.h"
#include "tests/cert_util.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::IsCode;
using testing::KeyCert;
using testing::MakeCa;
using testing::MakeLeaf;
using testing::TempDir;
using testing::TestServer;
using testing::WriteFileAtomically;

// A fresh connection each time (no subchannel shared between channels), so
// that every call does its own handshake.
std::shared_ptr<grpc::Channel> Channel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> creds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(address, creds, args);
}

std::shared_ptr<grpc::ChannelCredentials> Tls(const KeyCert& ca,
                                              const KeyCert* client = nullptr) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca.cert_pem;
  if (client != nullptr) {
    options.pem_private_key = client->key_pem;
    options.pem_cert_chain = client->cert_pem;
  }
  return grpc::SslCredentials(options);
}

// The status of a health check over `channel` (fails fast, no retries).
grpc::Status Probe(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return stub->Check(&ctx, req, &resp);
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : ca_(MakeCa("test ca")),
        server_cert_(MakeLeaf(ca_, "vlad")),
        client_cert_(MakeLeaf(ca_, "client")) {
    WriteFileAtomically(dir_.File("tls.crt"), server_cert_.cert_pem);
    WriteFileAtomically(dir_.File("tls.key"), server_cert_.key_pem);
    WriteFileAtomically(dir_.File("ca.crt"), ca_.cert_pem);
  }

  ServerOptions Options(bool mutual) {
    ServerOptions options = testing::FastOptions();
    options.tls_cert = dir_.File("tls.crt");
    options.tls_key = dir_.File("tls.key");
    if (mutual) options.tls_client_ca = dir_.File("ca.crt");
    options.tls_refresh_interval = absl::Seconds(1);
    return options;
  }

  TempDir dir_;
  KeyCert ca_;
  KeyCert server_cert_;
  KeyCert client_cert_;
};

TEST_F(TlsTest, TlsClientWorksPlaintextClientFails) {
  TestServer server(Options(/*mutual=*/false));
  EXPECT_TRUE(Probe(Channel(server.address(), Tls(ca_))).ok());
  EXPECT_THAT(
      Probe(Channel(server.address(), grpc::InsecureChannelCredentials())),
      IsCode(StatusCode::UNAVAILABLE));
  // A client that trusts another CA refuses the server.
  EXPECT_THAT(Probe(Channel(server.address(), Tls(MakeCa("other ca")))),
              IsCode(StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  TestServer server(Options(/*mutual=*/true));
  EXPECT_TRUE(Probe(Channel(server.address(), Tls(ca_, &client_cert_))).ok());
  EXPECT_THAT(Probe(Channel(server.address(), Tls(ca_))),
              IsCode(StatusCode::UNAVAILABLE));
  const KeyCert stranger = MakeLeaf(MakeCa("other ca"), "stranger");
  EXPECT_THAT(Probe(Channel(server.address(), Tls(ca_, &stranger))),
              IsCode(StatusCode::UNAVAILABLE));
  EXPECT_THAT(
      Probe(Channel(server.address(), grpc::InsecureChannelCredentials())),
      IsCode(StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, RotatedCertificatesAreUsedWithoutRestart) {
  TestServer server(Options(/*mutual=*/true));
  ASSERT_TRUE(Probe(Channel(server.address(), Tls(ca_, &client_cert_))).ok());

  // A new CA: new server certificate, new client CA.
  const KeyCert ca2 = MakeCa("test ca 2");
  const KeyCert server2 = MakeLeaf(ca2, "vlad");
  const KeyCert client2 = MakeLeaf(ca2, "client");
  WriteFileAtomically(dir_.File("ca.crt"), ca2.cert_pem);
  WriteFileAtomically(dir_.File("tls.key"), server2.key_pem);
  WriteFileAtomically(dir_.File("tls.crt"), server2.cert_pem);
  const absl::Time rotated = absl::Now();
  EXPECT_TRUE(testing::Eventually([&] {
    return Probe(Channel(server.address(), Tls(ca2, &client2))).ok();
  }));
  // Within the refresh interval (1 s), plus slack for a loaded machine.
  EXPECT_LT(absl::Now() - rotated, absl::Seconds(5));
  EXPECT_THAT(Probe(Channel(server.address(), Tls(ca_, &client_cert_))),
              IsCode(StatusCode::UNAVAILABLE));
}

TEST_F(TlsTest, UnreadableCertificateStopsTheServer) {
  TempDir data;
  ServerOptions options = Options(/*mutual=*/true);
  options.listen = "127.0.0.1:0";
  options.data_dir = data.path();
  options.tls_key = dir_.File("missing.key");
  auto server = Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("tls_key"), std::string::npos);
  options = Options(true);
  options.listen = "127.0.0.1:0";
  options.data_dir = data.path();
  options.tls_cert = "";
  server = Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("tls_cert"), std::string::npos);
}

// A split deployment: the evaluator in one server follows the VMDB in
// another over mutual TLS, sending a reader token (all a follower needs).
TEST_F(TlsTest, ServicesCallEachOtherOverMutualTlsWithAToken) {
  constexpr char kPeerToken[] = "evaluator-peer-token";
  constexpr char kAdminToken[] = "admin-token";
  {
    std::ofstream out(dir_.File("tokens"));
    out << "reader evaluator " << Sha256Hex(kPeerToken) << "\n"
        << "admin vlactl " << Sha256Hex(kAdminToken) << "\n";
  }
  std::ofstream(dir_.File("peer-token")) << kPeerToken << "\n";

  ServerOptions vmdb_options = Options(/*mutual=*/true);
  vmdb_options.services = {"vmdb"};
  vmdb_options.auth_tokens_file = dir_.File("tokens");
  TestServer vmdb(vmdb_options);

  ServerOptions eval_options = Options(/*mutual=*/true);
  eval_options.services = {"evaluator"};
  eval_options.vmdb_address = vmdb.address();  // 127.0.0.1: the IP SAN
  eval_options.peer_token_file = dir_.File("peer-token");
  TestServer evaluator(eval_options);

  // Define a value stream and a KVI in the VMDB...
  auto admin = v1::VmdbService::NewStub(
      Channel(vmdb.address(), Tls(ca_, &client_cert_)));
  auto as_admin = [&] {
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
    return ctx;
  };
  for (const char* id : {"service-desk", "business"}) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    *req.mutable_team() = testing::MakeTeam(std::string(id) == "business"
                                                ? v1::TEAM_KIND_CONSUMER
                                                : v1::TEAM_KIND_PROVIDER);
    v1::Team team;
    ASSERT_TRUE(admin->CreateTeam(as_admin().get(), req, &team).ok());
  }
  v1::CreateValueStreamRequest vs_req;
  vs_req.set_value_stream_id("incident");
  *vs_req.mutable_value_stream() = testing::MakeValueStream();
  v1::ValueStream vs;
  ASSERT_TRUE(admin->CreateValueStream(as_admin().get(), vs_req, &vs).ok());
  v1::CreateKviRequest kvi_req;
  kvi_req.set_kvi_id("lead-time");
  *kvi_req.mutable_kvi() = testing::MakeKvi();
  v1::Kvi kvi;
  ASSERT_TRUE(admin->CreateKvi(as_admin().get(), kvi_req, &kvi).ok());

  // ...and the evaluator, which learns of it only over the network, knows it.
  auto eval = v1::EvaluationService::NewStub(
      Channel(evaluator.address(), Tls(ca_, &client_cert_)));
  EXPECT_TRUE(testing::Eventually([&] {
    v1::GetKviValueRequest req;
    req.set_kvi("kvis/lead-time");
    v1::KviValue value;
    return eval->GetKviValue(Ctx().get(), req, &value).ok();
  }));
}

}  // namespace
}  // namespace vla
