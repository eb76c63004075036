// The server runner: health, reflection, service selection, UNIMPLEMENTED
// placeholders.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::HealthOf;
using testing::IsCode;
using testing::TestServer;

TEST(ServerTest, HealthOverallAndPerService) {
  TestServer server;
  using grpc::health::v1::HealthCheckResponse;
  for (const char* name :
       {"", "vla.v1.VmdbService", "vla.v1.EvaluationService",
        "vla.v1.OkrStatusService", "vmdb", "evaluator", "okr-status"}) {
    EXPECT_EQ(HealthOf(server.channel(), name), HealthCheckResponse::SERVING)
        << name;
  }
  grpc::Status s;
  HealthOf(server.channel(), "vla.v1.Nope", &s);
  EXPECT_THAT(s, IsCode(StatusCode::NOT_FOUND));
}

TEST(ServerTest, HealthListenAnswersOnlyHealthInPlaintext) {
  ServerOptions options;
  options.health_listen = "127.0.0.1:0";
  TestServer server(options);
  ASSERT_GT(server.server().health_port(), 0);
  auto channel = grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server.server().health_port()),
      grpc::InsecureChannelCredentials());
  using grpc::health::v1::HealthCheckResponse;
  for (const char* name : {"", "vla.v1.VmdbService", "okr-status"}) {
    EXPECT_EQ(HealthOf(channel, name), HealthCheckResponse::SERVING) << name;
  }
  // Nothing but health on that port.
  auto vmdb = v1::VmdbService::NewStub(channel);
  v1::GetTeamRequest req;
  req.set_name("teams/x");
  v1::Team team;
  EXPECT_THAT(vmdb->GetTeam(Ctx().get(), req, &team),
              IsCode(StatusCode::UNIMPLEMENTED));
  // It follows the main port into NOT_SERVING at shutdown.
  server.server().Shutdown();
  grpc::Status s;
  const auto status = HealthOf(channel, "", &s);
  EXPECT_TRUE(!s.ok() || status == HealthCheckResponse::NOT_SERVING);
}

TEST(ServerTest, OnlySelectedServices) {
  ServerOptions options;
  options.services = {"vmdb"};
  TestServer server(options);
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(HealthOf(server.channel(), "vla.v1.VmdbService"),
            HealthCheckResponse::SERVING);
  grpc::Status s;
  HealthOf(server.channel(), "vla.v1.EvaluationService", &s);
  EXPECT_THAT(s, IsCode(StatusCode::NOT_FOUND));
  v1::GetKviValueRequest req;
  v1::KviValue resp;
  EXPECT_THAT(server.evaluation().GetKviValue(Ctx().get(), req, &resp),
              IsCode(StatusCode::UNIMPLEMENTED));
}

TEST(ServerTest, UnknownServiceIsRefused) {
  testing::TempDir dir;
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.path();
  options.services = {"vmdb", "billing"};
  auto server = Server::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("billing"), std::string::npos);
}

TEST(ServerTest, BadCheckpointOptionsAreRefusedNamingTheFlag) {
  testing::TempDir dir;
  for (double share : {0.0, -0.5, 1.5}) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = dir.path();
    options.snapshot_cpu_share = share;
    auto server = Server::Start(options);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << share;
    EXPECT_NE(server.status().message().find("snapshot_cpu_share"),
              std::string::npos);
  }
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.path();
  options.snapshot_interval = absl::Seconds(-1);
  auto server = Server::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("snapshot_interval"),
            std::string::npos);
}

TEST(ServerTest, ReflectionDescribesTheApi) {
  TestServer server;
  auto stub =
      grpc::reflection::v1alpha::ServerReflection::NewStub(server.channel());
  grpc::ClientContext ctx;
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_file_containing_symbol("vla.v1.VmdbService");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> files;
  for (const std::string& bytes :
       resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.insert(file.name());
  }
  EXPECT_TRUE(files.count("vla/v1/vmdb.proto"));
  EXPECT_TRUE(files.count("vla/v1/resources.proto"));
  EXPECT_TRUE(files.count("google/protobuf/field_mask.proto"));

  req.set_file_containing_symbol("vla.v1.Nope");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST(ServerTest, ShutdownTurnsHealthNotServing) {
  TestServer server;
  auto stub = grpc::health::v1::Health::NewStub(server.channel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  req.set_service("vla.v1.VmdbService");
  auto watch = stub->Watch(&ctx, req);
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(watch->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::thread stopper([&] { server.Stop(); });
  ASSERT_TRUE(watch->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  stopper.join();
}

}  // namespace
}  // namespace vla
