// vlad on PostgreSQL beyond the conformance suite: the database stopped and
// restarted under load, and several processes (replicas) on one database.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "clients/lib/watch.h"
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

// Two processes on one database: A hosts every service, B only vmdb and
// okr-status (its evaluator is A's). Either VMDB replica takes writes and
// both stream one change log (B's watchers are woken by A's commits); page
// tokens of one replica are good on the other; a check-in recorded on one
// okr-status replica is scored by the other.
TEST(PostgresTest, VmdbAndOkrStatusReplicasShareOneDatabase) {
  PgDatabase db;
  ServerOptions a_options = FastOptions();
  a_options.database = db.uri();
  TestServer a(a_options);
  ServerOptions b_options = a_options;
  b_options.services = {"vmdb", "okr-status"};
  b_options.evaluator_address = a.address();
  TestServer b(b_options);

  grpc::ClientContext watch;
  watch.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
  v1::WatchChangesRequest since0;
  auto stream = client::WatchEvents(b.vmdb().WatchChanges(&watch, since0));
  CreateDefinitions(a.vmdb());  // revisions 1 to 4
  v1::CreateTeamRequest team;
  team.set_team_id("ops");
  *team.mutable_team() = MakeTeam(v1::TEAM_KIND_PROVIDER);
  v1::Team team_out;
  ASSERT_TRUE(b.vmdb().CreateTeam(Ctx().get(), team, &team_out).ok());
  const std::vector<std::string> names = {"teams/business", "teams/desk",
                                          "valueStreams/incident", "kvis/count",
                                          "teams/ops"};
  for (size_t i = 0; i < names.size(); ++i) {
    v1::Change change;
    ASSERT_TRUE(stream.Read(&change)) << i;
    EXPECT_EQ(change.revision(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(change.name(), names[i]);
  }
  watch.TryCancel();

  // A page token from A, the next page from B.
  v1::ListTeamsRequest list;
  list.set_page_size(1);
  v1::ListTeamsResponse first, second;
  ASSERT_TRUE(a.vmdb().ListTeams(Ctx().get(), list, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  list.set_page_token(first.next_page_token());
  ASSERT_TRUE(b.vmdb().ListTeams(Ctx().get(), list, &second).ok());
  ASSERT_EQ(second.teams_size(), 1);
  EXPECT_EQ(second.teams(0).name(), "teams/desk");

  v1::CreateObjectiveRequest objective;
  objective.set_objective_id("happier");
  v1::Objective& o = *objective.mutable_objective();
  o.set_display_name("Happier");
  o.add_owners("teams/desk");
  o.set_lead("teams/desk");
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  o.mutable_period_start()->set_seconds(now - 86400);
  o.mutable_period_end()->set_seconds(now + 86400);
  o.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  v1::KeyResult* kr = o.add_key_results();
  kr->set_id("happiness");
  kr->set_start_value(62);
  kr->set_target_value(80);
  v1::Objective objective_out;
  ASSERT_TRUE(
      b.vmdb().CreateObjective(Ctx().get(), objective, &objective_out).ok());
  v1::RecordCheckInRequest check_in;
  check_in.set_objective("objectives/happier");
  check_in.set_key_result_id("happiness");
  check_in.set_value(71);
  check_in.set_confidence(0.5);
  v1::CheckIn check_in_out;
  ASSERT_TRUE(Eventually([&] {
    return a.okr().RecordCheckIn(Ctx().get(), check_in, &check_in_out).ok();
  }));
  EXPECT_TRUE(Eventually([&] {
    v1::GetObjectiveStatusRequest get;
    get.set_objective("objectives/happier");
    v1::ObjectiveStatus status;
    return b.okr().GetObjectiveStatus(Ctx().get(), get, &status).ok() &&
           status.key_results_size() == 1 &&
           status.key_results(0).has_value() &&
           status.key_results(0).current_value() == 71;
  }));
}

// Value stream `id` with KVI `count-<id>` (its "s" observations of the
// last 30 days) and an ACTIVE VLA `vla-<id>` (count >= 10, warning 5).
void CreateValueStream(v1::VmdbService::Stub& vmdb, const std::string& id) {
  v1::CreateValueStreamRequest vs;
  vs.set_value_stream_id(id);
  vs.mutable_value_stream()->set_consumer("teams/business");
  vs.mutable_value_stream()->add_providers("teams/desk");
  v1::ValueStream vs_out;
  ASSERT_TRUE(vmdb.CreateValueStream(Ctx().get(), vs, &vs_out).ok());
  v1::CreateKviRequest kvi;
  kvi.set_kvi_id("count-" + id);
  v1::Kvi& k = *kvi.mutable_kvi();
  k.set_value_stream("valueStreams/" + id);
  k.set_source(v1::SOURCE_OBSERVATIONS);
  k.set_signal("s");
  k.set_aggregation(v1::AGGREGATION_COUNT);
  k.mutable_window()->mutable_rolling()->set_seconds(30 * 86400);
  k.set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
  v1::Kvi kvi_out;
  ASSERT_TRUE(vmdb.CreateKvi(Ctx().get(), kvi, &kvi_out).ok());
  v1::CreateVlaRequest vla;
  vla.set_vla_id("vla-" + id);
  v1::Vla& v = *vla.mutable_vla();
  v.set_value_stream("valueStreams/" + id);
  v.set_consumer("teams/business");
  v.add_providers("teams/desk");
  v1::Clause* c = v.add_clauses();
  c->set_kvi("kvis/count-" + id);
  c->set_target(10);
  c->set_warning(5);
  v.set_state(v1::VLA_STATE_ACTIVE);
  v1::Vla vla_out;
  ASSERT_TRUE(vmdb.CreateVla(Ctx().get(), vla, &vla_out).ok());
}

// `n` observations of value stream `id`, ids "<prefix>-<i>", a minute old.
v1::IngestRequest Observations(const std::string& id, const std::string& prefix,
                               int n) {
  v1::IngestRequest req;
  const int64_t t = absl::ToUnixSeconds(absl::Now()) - 60;
  for (int i = 0; i < n; ++i) {
    v1::Observation* o = req.add_observations();
    o->set_event_id(absl::StrCat(prefix, "-", i));
    o->set_signal("s");
    o->set_value(1);
    o->mutable_time()->set_seconds(t);
    o->set_value_stream("valueStreams/" + id);
  }
  return req;
}

double KviNow(v1::EvaluationService::Stub& eval, const std::string& kvi) {
  v1::GetKviValueRequest req;
  req.set_kvi(kvi);
  v1::KviValue v;
  if (!eval.GetKviValue(Ctx().get(), req, &v).ok()) return -1;
  return v.has_value() ? v.value() : 0;
}

// Three evaluator replicas on one database: records ingested through any
// of them are counted once by the owner of their value stream; every
// replica answers for every KVI (forwarding to the owner) and lists every
// VLA; a replica that stops hands its value streams over.
TEST(PostgresTest, EvaluatorReplicasShareTheValueStreams) {
  PgDatabase db;
  ServerOptions options = FastOptions();
  options.database = db.uri();
  options.evaluator_heartbeat = absl::Milliseconds(200);
  options.evaluator_lease_ttl = absl::Seconds(2);
  std::vector<std::unique_ptr<TestServer>> replicas;
  replicas.push_back(std::make_unique<TestServer>(options));
  options.services = {"evaluator"};
  options.vmdb_address = replicas[0]->address();
  replicas.push_back(std::make_unique<TestServer>(options));
  replicas.push_back(std::make_unique<TestServer>(options));
  CreateDefinitions(replicas[0]->vmdb());
  const std::vector<std::string> streams = {"a", "b", "c", "d"};
  for (const std::string& id : streams) {
    CreateValueStream(replicas[0]->vmdb(), id);
  }
  // Through replica i, 10 * (i + 1) records of each value stream.
  for (size_t i = 0; i < replicas.size(); ++i) {
    for (const std::string& id : streams) {
      const v1::IngestRequest req =
          Observations(id, absl::StrCat(id, i), 10 * (i + 1));
      v1::IngestResponse resp;
      ASSERT_TRUE(Eventually([&] {
        return replicas[i]
                   ->evaluation()
                   .IngestBatch(Ctx().get(), req, &resp)
                   .ok() &&
               resp.rejected_size() == 0;
      })) << resp.ShortDebugString();
    }
  }
  for (auto& r : replicas) {
    for (const std::string& id : streams) {
      EXPECT_TRUE(Eventually([&] {
        return KviNow(r->evaluation(), "kvis/count-" + id) == 60;
      })) << id
          << ": " << KviNow(r->evaluation(), "kvis/count-" + id);
    }
    // Each replica's list shows every VLA (60 >= 10: MET).
    EXPECT_TRUE(Eventually([&] {
      v1::ListVlaStatusesResponse list;
      if (!r->evaluation()
               .ListVlaStatuses(Ctx().get(), v1::ListVlaStatusesRequest(),
                                &list)
               .ok() ||
          list.statuses_size() != static_cast<int>(streams.size())) {
        return false;
      }
      for (const v1::VlaStatus& s : list.statuses()) {
        if (s.state() != v1::COMPLIANCE_STATE_MET) return false;
      }
      return true;
    }));
  }
  // Every value stream has one owner, a running replica. (Which replicas
  // own some is rendezvous hashing over random ports: all five can land on
  // one, so the test does not ask for a spread.)
  // Leases held by the replica at `address` (the advertised host may be a
  // host name: matched by port).
  const auto held_by_address = [&](const std::string& address) {
    return db.QueryInt(absl::StrCat(
        "SELECT COUNT(*) FROM vla_evaluator.leases l JOIN "
        "vla_evaluator.replicas r ON r.id = l.owner WHERE r.address LIKE '%",
        address.substr(address.rfind(':')), "'"));
  };
  const auto held_by = [&](size_t i) {
    return held_by_address(replicas[i]->address());
  };
  EXPECT_EQ(db.QueryInt("SELECT COUNT(*) FROM vla_evaluator.leases"), 5);
  EXPECT_EQ(held_by(0) + held_by(1) + held_by(2), 5);

  // Replica 2 stops; its value streams move to the others, which count
  // new records too.
  const std::string stopped = replicas[2]->address();
  replicas[2].reset();
  for (const std::string& id : streams) {
    const v1::IngestRequest req = Observations(id, "late-" + id, 5);
    v1::IngestResponse resp;
    ASSERT_TRUE(
        replicas[1]->evaluation().IngestBatch(Ctx().get(), req, &resp).ok());
    EXPECT_EQ(resp.accepted(), 5) << resp.ShortDebugString();
  }
  for (size_t i = 0; i < 2; ++i) {
    for (const std::string& id : streams) {
      EXPECT_TRUE(Eventually([&] {
        return KviNow(replicas[i]->evaluation(), "kvis/count-" + id) == 65;
      })) << id
          << ": " << KviNow(replicas[i]->evaluation(), "kvis/count-" + id);
    }
  }
  EXPECT_EQ(held_by_address(stopped), 0);
  EXPECT_EQ(held_by(0) + held_by(1), 5);
}

}  // namespace
}  // namespace vla
