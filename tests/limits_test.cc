// Limits: each over-limit request fails with the documented code, and the
// server stays healthy (a normal request right after works).
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "clients/lib/watch.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::IsCode;
using testing::IsCodeWith;
using testing::TestServer;

bool Healthy(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  return stub->Check(Ctx().get(), req, &resp).ok() &&
         resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

grpc::Status CreateTeam(TestServer& server, const std::string& id,
                        size_t description_bytes = 0) {
  v1::CreateTeamRequest req;
  req.set_team_id(id);
  *req.mutable_team() = testing::MakeTeam();
  req.mutable_team()->set_description(std::string(description_bytes, 'x'));
  v1::Team team;
  return server.vmdb().CreateTeam(Ctx().get(), req, &team);
}

v1::IngestRequest Batch(int records, size_t id_bytes = 8) {
  v1::IngestRequest req;
  for (int i = 0; i < records; ++i) {
    auto* o = req.add_observations();
    o->set_event_id(absl::StrCat(i, std::string(id_bytes, 'e')));
    o->set_signal("happiness");
    o->set_value(1);
    o->set_value_stream("valueStreams/none");
  }
  return req;
}

grpc::Status IngestBatch(TestServer& server, const v1::IngestRequest& req) {
  v1::IngestResponse resp;
  return server.evaluation().IngestBatch(Ctx().get(), req, &resp);
}

TEST(LimitsTest, MessageSizeIsLimitedPerMethod) {
  ServerOptions options = testing::FastOptions();
  options.max_message_bytes = 1024;
  options.max_ingest_message_bytes = 64 * 1024;
  TestServer server(options);
  // Over the general limit: refused by the method's check.
  EXPECT_THAT(CreateTeam(server, "big", 2000),
              IsCodeWith(StatusCode::RESOURCE_EXHAUSTED, "max_message_bytes"));
  EXPECT_TRUE(CreateTeam(server, "small").ok());
  // Ingest may carry more...
  const v1::IngestRequest medium = Batch(10, 200);
  ASSERT_GT(medium.ByteSizeLong(), 1024u);
  EXPECT_THAT(IngestBatch(server, medium),
              ::testing::Not(IsCode(StatusCode::RESOURCE_EXHAUSTED)));
  // ...up to its own limit, which gRPC itself enforces.
  const v1::IngestRequest huge = Batch(100, 1000);
  ASSERT_GT(huge.ByteSizeLong(), 64u * 1024);
  EXPECT_THAT(IngestBatch(server, huge),
              IsCode(StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_TRUE(Healthy(server.channel()));
  EXPECT_TRUE(CreateTeam(server, "after").ok());
}

TEST(LimitsTest, IngestBatchesAreBounded) {
  ServerOptions options = testing::FastOptions();
  options.max_ingest_batch_records = 5;
  TestServer server(options);
  EXPECT_THAT(IngestBatch(server, Batch(6)),
              IsCodeWith(StatusCode::RESOURCE_EXHAUSTED, "at most 5"));
  EXPECT_TRUE(
      testing::Eventually([&] { return IngestBatch(server, Batch(5)).ok(); }));
  // The streaming Ingest applies the same bound per message.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = server.evaluation().Ingest(&ctx);
  ASSERT_TRUE(stream->Write(Batch(6)));
  stream->WritesDone();
  v1::IngestResponse resp;
  while (stream->Read(&resp)) {
  }
  EXPECT_THAT(stream->Finish(), IsCode(StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_TRUE(IngestBatch(server, Batch(5)).ok());
}

TEST(LimitsTest, ConcurrentStreamsPerConnection) {
  ServerOptions options = testing::FastOptions();
  options.max_concurrent_streams = 2;
  TestServer server(options);
  // Two open streams use up the connection's allowance...
  grpc::ClientContext w1, w2;
  v1::WatchChangesRequest watch;
  auto s1 = client::WatchEvents(server.vmdb().WatchChanges(&w1, watch));
  auto s2 = client::WatchEvents(server.vmdb().WatchChanges(&w2, watch));
  ASSERT_TRUE(testing::Eventually([&] {
    // ...so a third call on the same connection waits (HTTP/2 queues it on
    // the client) until its deadline...
    v1::GetTeamRequest req;
    req.set_name("teams/x");
    v1::Team team;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(300));
    return server.vmdb().GetTeam(&ctx, req, &team).error_code() ==
           StatusCode::DEADLINE_EXCEEDED;
  }));
  // ...while another connection is served at once...
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  EXPECT_TRUE(Healthy(grpc::CreateCustomChannel(
      server.address(), grpc::InsecureChannelCredentials(), args)));
  // ...and the first connection works again once a stream ends.
  w1.TryCancel();
  v1::Change change;
  while (s1.Read(&change)) {
  }
  s1.Finish();
  EXPECT_TRUE(Healthy(server.channel()));
  w2.TryCancel();
  while (s2.Read(&change)) {
  }
  s2.Finish();
}

TEST(LimitsTest, DeadlinesAlreadyExpiredOrTiny) {
  TestServer server(testing::FastOptions());
  v1::GetTeamRequest req;
  req.set_name("teams/x");
  v1::Team team;
  for (auto deadline :
       {std::chrono::system_clock::now() - std::chrono::seconds(1),
        std::chrono::system_clock::now() + std::chrono::microseconds(50)}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline);
    EXPECT_THAT(server.vmdb().GetTeam(&ctx, req, &team),
                IsCode(StatusCode::DEADLINE_EXCEEDED));
  }
  // Writes with tiny deadlines: none half-applies, the server keeps going.
  for (int i = 0; i < 20; ++i) {
    v1::CreateTeamRequest create;
    create.set_team_id(absl::StrCat("t", i));
    *create.mutable_team() = testing::MakeTeam();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::microseconds(200));
    server.vmdb().CreateTeam(&ctx, create, &team);
  }
  EXPECT_TRUE(Healthy(server.channel()));
  EXPECT_TRUE(CreateTeam(server, "after").ok());
}

TEST(LimitsTest, TooFrequentKeepalivePingsCloseTheConnection) {
  ServerOptions options = testing::FastOptions();
  options.keepalive_min_ping_interval = absl::Seconds(10);
  TestServer server(options);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 100);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto abusive = grpc::CreateCustomChannel(
      server.address(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::VmdbService::NewStub(abusive);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream =
      client::WatchEvents(stub->WatchChanges(&ctx, v1::WatchChangesRequest()));
  v1::Change change;
  while (stream.Read(&change)) {
  }
  // The server sent GOAWAY (too_many_pings) long before the deadline.
  EXPECT_THAT(stream.Finish(), IsCodeWith(StatusCode::UNAVAILABLE, "pings"));
  EXPECT_TRUE(Healthy(server.channel()));
}

TEST(LimitsTest, MemoryQuotaRefusesWhatWouldExceedIt) {
  ServerOptions options = testing::FastOptions();
  options.memory_quota_bytes = 256 * 1024;
  TestServer server(options);
  // Under --max_ingest_message_bytes (16 MiB), but 8x the memory quota:
  // gRPC resets the stream (ENHANCE_YOUR_CALM), the client sees
  // RESOURCE_EXHAUSTED.
  const v1::IngestRequest big = Batch(2100, 1000);
  ASSERT_GT(big.ByteSizeLong(), 8u * 256 * 1024);
  EXPECT_THAT(IngestBatch(server, big), IsCode(StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_TRUE(Healthy(server.channel()));
  EXPECT_TRUE(
      testing::Eventually([&] { return IngestBatch(server, Batch(5)).ok(); }));
}

TEST(LimitsTest, BadLimitsStopTheServer) {
  testing::TempDir dir;
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.path();
  options.max_concurrent_streams = 0;
  auto server = Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("max_concurrent_streams"),
            std::string::npos);
  options.max_concurrent_streams = 100;
  for (int queues : {0, 65}) {
    options.watch_queues = queues;
    server = Server::Start(options);
    ASSERT_FALSE(server.ok()) << queues;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(server.status().message().find("watch_queues"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace vla
