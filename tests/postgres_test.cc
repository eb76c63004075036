// vlad on PostgreSQL beyond the conformance suite: the database stopped and
// restarted under load, and several processes (replicas) on one database.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/fixtures.h"
#include "tests/pg_test_util.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using grpc::health::v1::HealthCheckResponse;
using testing::Ctx;
using testing::Eventually;
using testing::FastOptions;
using testing::HealthOf;
using testing::MakeTeam;
using testing::PgCluster;
using testing::PgDatabase;
using testing::TestServer;

// A consumer, a provider, value stream `incident` and KVI `count` (the
// number of "s" observations of the last 30 days).
void CreateDefinitions(v1::VmdbService::Stub& vmdb) {
  for (auto [id, kind] : {std::pair{"business", v1::TEAM_KIND_CONSUMER},
                          std::pair{"desk", v1::TEAM_KIND_PROVIDER}}) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    *req.mutable_team() = MakeTeam(kind);
    v1::Team out;
    ASSERT_TRUE(vmdb.CreateTeam(Ctx().get(), req, &out).ok());
  }
  v1::CreateValueStreamRequest vs;
  vs.set_value_stream_id("incident");
  vs.mutable_value_stream()->set_consumer("teams/business");
  vs.mutable_value_stream()->add_providers("teams/desk");
  v1::ValueStream vs_out;
  ASSERT_TRUE(vmdb.CreateValueStream(Ctx().get(), vs, &vs_out).ok());
  v1::CreateKviRequest kvi;
  kvi.set_kvi_id("count");
  v1::Kvi& k = *kvi.mutable_kvi();
  k.set_value_stream("valueStreams/incident");
  k.set_source(v1::SOURCE_OBSERVATIONS);
  k.set_signal("s");
  k.set_aggregation(v1::AGGREGATION_COUNT);
  k.mutable_window()->mutable_rolling()->set_seconds(30 * 86400);
  k.set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
  v1::Kvi kvi_out;
  ASSERT_TRUE(vmdb.CreateKvi(Ctx().get(), kvi, &kvi_out).ok());
}

// Batch `b`: `n` observations with ids "b<b>-<i>", a minute old.
v1::IngestRequest Batch(int b, int n) {
  v1::IngestRequest req;
  const int64_t t = absl::ToUnixSeconds(absl::Now()) - 60;
  for (int i = 0; i < n; ++i) {
    v1::Observation* o = req.add_observations();
    o->set_event_id(absl::StrCat("b", b, "-", i));
    o->set_signal("s");
    o->set_value(1);
    o->mutable_time()->set_seconds(t);
    o->set_value_stream("valueStreams/incident");
  }
  return req;
}

// The value of KVI `count` now (0 without one; -1 if the evaluator does not
// know the KVI yet).
double CountNow(v1::EvaluationService::Stub& eval) {
  v1::GetKviValueRequest req;
  req.set_kvi("kvis/count");
  v1::KviValue v;
  if (!eval.GetKviValue(Ctx().get(), req, &v).ok()) return -1;
  return v.has_value() ? v.value() : 0;
}

// Stopping PostgreSQL under a stream of ingest: every service's health goes
// NOT_SERVING, then SERVING again by itself once the server is back. Calls
// in flight wait (the stores retry with backoff for up to 5 s) or fail with
// UNAVAILABLE, which the client retries; every record it sent is stored and
// counted exactly once.
TEST(PostgresTest, DatabaseStoppedAndRestartedUnderLoad) {
  auto cluster = PgCluster::StartPrivate();
  PgDatabase db(*cluster);
  ServerOptions options = FastOptions();
  options.database = db.uri();
  options.health_check_interval = absl::Milliseconds(100);
  TestServer server(options);
  CreateDefinitions(server.vmdb());
  // The evaluator follows the VMDB: records are accepted once it knows the
  // value stream (created before the KVI).
  ASSERT_TRUE(Eventually([&] { return CountNow(server.evaluation()) >= 0; }));

  constexpr int kPerBatch = 50;
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};  // batches acknowledged
  std::thread client([&] {
    for (int b = 0; !stop; ++b) {
      const v1::IngestRequest req = Batch(b, kPerBatch);
      // A client's retry loop: the same batch until it is acknowledged.
      while (true) {
        v1::IngestResponse resp;
        const grpc::Status s =
            server.evaluation().IngestBatch(Ctx().get(), req, &resp);
        if (s.ok()) {
          EXPECT_EQ(resp.accepted() + resp.duplicates(), kPerBatch)
              << resp.ShortDebugString();
          break;
        }
        EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
            << s.error_message();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ++acked;
    }
  });
  ASSERT_TRUE(Eventually([&] { return acked >= 5; }));

  cluster->Pause();
  for (const char* service : {"", "vmdb", "evaluator", "okr-status"}) {
    EXPECT_TRUE(Eventually([&] {
      return HealthOf(server.channel(), service) ==
             HealthCheckResponse::NOT_SERVING;
    })) << service;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  cluster->Resume();
  for (const char* service : {"", "vmdb", "evaluator", "okr-status"}) {
    EXPECT_TRUE(Eventually([&] {
      return HealthOf(server.channel(), service) ==
             HealthCheckResponse::SERVING;
    })) << service;
  }
  const int before = acked;
  ASSERT_TRUE(Eventually([&] { return acked >= before + 5; }));
  stop = true;
  client.join();

  const int sent = acked * kPerBatch;
  EXPECT_EQ(db.QueryInt("SELECT COUNT(*) FROM vla_evaluator.records"), sent);
  EXPECT_TRUE(Eventually([&] { return CountNow(server.evaluation()) == sent; }))
      << CountNow(server.evaluation()) << " != " << sent;
}

}  // namespace
}  // namespace vla
