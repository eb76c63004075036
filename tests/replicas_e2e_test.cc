// End to end on PostgreSQL: the real `vlad` binary as 2 vmdb, 3 evaluator
// and 2 okr-status replicas on one database, and as one all-in-one process on
// SQLite given the same definitions and records. Records go to every
// evaluator replica from two clients at once; the owner of a value stream is
// killed with SIGKILL mid-ingest; the clients retry on the next replica,
// one of them through the client library (clients/lib/client.h) on one
// target naming every replica, as a Kubernetes Service does: it sees retries,
// never an error.
// Afterwards every surviving replica answers every KVI, VLA and objective
// exactly as the SQLite process does (every acknowledged record counted
// once), and the killed replica's value streams moved within 10 s.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/lib/client.h"
#include "tests/pg_test_util.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"

namespace vla {
namespace {

using testing::Ctx;
using testing::PgDatabase;
using testing::TempDir;
using testing::VladProcess;

const std::vector<std::string> kStreams = {"a", "b", "c", "d", "e", "f"};
constexpr int kBatches = 60;       // per client
constexpr int kBatchRecords = 50;  // observations of one value stream
constexpr int kClients = 2;

// One vlad process with its stubs.
struct Proc {
  Proc(const std::string& dir, std::vector<std::string> args)
      : process(VLAD_PATH, dir, std::move(args)) {}
  void Start() {
    const absl::Status s = process.Start();
    ASSERT_TRUE(s.ok()) << s;
    channel = grpc::CreateChannel(process.address(),
                                  grpc::InsecureChannelCredentials());
    vmdb = v1::VmdbService::NewStub(channel);
    eval = v1::EvaluationService::NewStub(channel);
    okr = v1::OkrStatusService::NewStub(channel);
  }
  VladProcess process;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::VmdbService::Stub> vmdb;
  std::unique_ptr<v1::EvaluationService::Stub> eval;
  std::unique_ptr<v1::OkrStatusService::Stub> okr;
};

// The definitions, created through `vmdb`: teams, then per value stream X
// a KVI count-X, a KVI p90-X and a VLA vla-X on both, and an objective on
// count-a.
void CreateDefinitions(v1::VmdbService::Stub& vmdb, int64_t now) {
  for (auto [id, kind] : {std::pair{"business", v1::TEAM_KIND_CONSUMER},
                          std::pair{"desk", v1::TEAM_KIND_PROVIDER}}) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    req.mutable_team()->set_display_name(id);
    req.mutable_team()->set_kind(kind);
    v1::Team out;
    ASSERT_TRUE(vmdb.CreateTeam(Ctx().get(), req, &out).ok());
  }
  for (const std::string& id : kStreams) {
    v1::CreateValueStreamRequest vs;
    vs.set_value_stream_id(id);
    vs.mutable_value_stream()->set_consumer("teams/business");
    vs.mutable_value_stream()->add_providers("teams/desk");
    v1::ValueStream vs_out;
    ASSERT_TRUE(vmdb.CreateValueStream(Ctx().get(), vs, &vs_out).ok());
    for (auto [kvi_id, aggregation] :
         {std::pair{"count-" + id, v1::AGGREGATION_COUNT},
          std::pair{"p90-" + id, v1::AGGREGATION_PERCENTILE}}) {
      v1::CreateKviRequest kvi;
      kvi.set_kvi_id(kvi_id);
      v1::Kvi& k = *kvi.mutable_kvi();
      k.set_value_stream("valueStreams/" + id);
      k.set_source(v1::SOURCE_OBSERVATIONS);
      k.set_signal("s");
      k.set_aggregation(aggregation);
      if (aggregation == v1::AGGREGATION_PERCENTILE) k.set_percentile(90);
      k.mutable_window()->mutable_rolling()->set_seconds(86400);
      k.set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
      v1::Kvi kvi_out;
      ASSERT_TRUE(vmdb.CreateKvi(Ctx().get(), kvi, &kvi_out).ok());
    }
    v1::CreateVlaRequest vla;
    vla.set_vla_id("vla-" + id);
    v1::Vla& v = *vla.mutable_vla();
    v.set_value_stream("valueStreams/" + id);
    v.set_consumer("teams/business");
    v.add_providers("teams/desk");
    v1::Clause* count = v.add_clauses();
    count->set_kvi("kvis/count-" + id);
    count->set_target(600);
    count->set_warning(400);
    v1::Clause* p90 = v.add_clauses();
    p90->set_kvi("kvis/p90-" + id);
    p90->set_target(95);
    p90->set_warning(80);
    v.set_state(v1::VLA_STATE_ACTIVE);
    v1::Vla vla_out;
    ASSERT_TRUE(vmdb.CreateVla(Ctx().get(), vla, &vla_out).ok());
  }
  v1::CreateObjectiveRequest objective;
  objective.set_objective_id("more-a");
  v1::Objective& o = *objective.mutable_objective();
  o.set_display_name("More a");
  o.add_owners("teams/desk");
  o.set_lead("teams/desk");
  o.mutable_period_start()->set_seconds(now - 86400);
  o.mutable_period_end()->set_seconds(now + 86400);
  o.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  v1::KeyResult* kr = o.add_key_results();
  kr->set_id("count");
  kr->set_kvi("kvis/count-a");
  kr->set_start_value(0);
  kr->set_target_value(2000);
  v1::Objective objective_out;
  ASSERT_TRUE(
      vmdb.CreateObjective(Ctx().get(), objective, &objective_out).ok());
}

// Batch `b` of client `c`: observations of one value stream with integer
// values (sums are exact in any order), within the hour before `now`.
v1::IngestRequest Batch(int c, int b, int64_t now) {
  v1::IngestRequest req;
  const std::string& stream = kStreams[(c * kBatches + b) % kStreams.size()];
  for (int i = 0; i < kBatchRecords; ++i) {
    v1::Observation* o = req.add_observations();
    o->set_event_id(absl::StrCat("c", c, "-b", b, "-", i));
    o->set_signal("s");
    o->set_value((c * 7 + b * 13 + i * 31) % 101);
    o->mutable_time()->set_seconds(now - 3600 + (b * kBatchRecords + i) % 3000);
    o->set_value_stream("valueStreams/" + stream);
  }
  return req;
}

std::string KviAt(v1::EvaluationService::Stub& eval, const std::string& kvi,
                  int64_t at) {
  v1::GetKviValueRequest req;
  req.set_kvi(kvi);
  req.mutable_time()->set_seconds(at);
  v1::KviValue v;
  const grpc::Status s = eval.GetKviValue(Ctx().get(), req, &v);
  if (!s.ok()) return absl::StrCat("error ", s.error_code());
  return absl::StrCat(v.has_value(), " ", v.value(), " ", v.samples());
}

std::string VlaAt(v1::EvaluationService::Stub& eval, const std::string& vla,
                  int64_t at) {
  v1::GetVlaStatusRequest req;
  req.set_vla(vla);
  req.mutable_time()->set_seconds(at);
  v1::VlaStatus v;
  const grpc::Status s = eval.GetVlaStatus(Ctx().get(), req, &v);
  if (!s.ok()) return absl::StrCat("error ", s.error_code());
  return absl::StrCat(v1::ComplianceState_Name(v.state()), " ", v.score(), " ",
                      v.explanation());
}

std::string ObjectiveAt(v1::OkrStatusService::Stub& okr, int64_t at) {
  v1::GetObjectiveStatusRequest req;
  req.set_objective("objectives/more-a");
  req.mutable_time()->set_seconds(at);
  v1::ObjectiveStatus s;
  const grpc::Status st = okr.GetObjectiveStatus(Ctx().get(), req, &s);
  if (!st.ok()) return absl::StrCat("error ", st.error_code());
  return absl::StrCat(v1::OkrStatus_Name(s.status()), " ", s.score(), " ",
                      s.key_results(0).current_value());
}

TEST(ReplicasEndToEndTest, KillingAnOwnerMidIngestLosesAndDoublesNothing) {
  PgDatabase db;
  TempDir dir;
  int n = 0;
  auto make = [&](std::vector<std::string> args) {
    const std::string d = dir.File(absl::StrCat("p", n++));
    std::filesystem::create_directories(d);
    return std::make_unique<Proc>(d, std::move(args));
  };
  const std::string database = "--database=" + db.uri();
  const std::vector<std::string> fast = {"--evaluator_heartbeat=200ms",
                                         "--evaluator_lease_ttl=2s",
                                         "--health_check_interval=200ms"};
  auto with = [&](std::vector<std::string> args) {
    args.push_back(database);
    args.insert(args.end(), fast.begin(), fast.end());
    return args;
  };
  // One gRPC target for all replicas of a service (what a Kubernetes
  // Service name is): the channel moves on when one dies.
  auto target = [](const std::vector<std::unique_ptr<Proc>>& procs) {
    std::string t = "ipv4:";
    for (size_t i = 0; i < procs.size(); ++i) {
      absl::StrAppend(&t, i == 0 ? "" : ",", procs[i]->process.address());
    }
    return t;
  };
  std::vector<std::unique_ptr<Proc>> vmdb, ev, okr;
  for (int i = 0; i < 2; ++i) {
    vmdb.push_back(make(with({"--services=vmdb"})));
    vmdb.back()->Start();
  }
  for (int i = 0; i < 3; ++i) {
    ev.push_back(
        make(with({"--services=evaluator", "--vmdb_address=" + target(vmdb)})));
    ev.back()->Start();
  }
  for (int i = 0; i < 2; ++i) {
    okr.push_back(
        make(with({"--services=okr-status", "--vmdb_address=" + target(vmdb),
                   "--evaluator_address=" + target(ev)})));
    okr.back()->Start();
  }
  auto sqlite = make({});
  sqlite->Start();

  const int64_t now = absl::ToUnixSeconds(absl::Now());
  CreateDefinitions(*vmdb[1]->vmdb, now);
  CreateDefinitions(*sqlite->vmdb, now);
  // Every evaluator replica knows every KVI (the last ones created).
  for (auto& e : ev) {
    ASSERT_TRUE(testing::Eventually([&] {
      return KviAt(*e->eval, "kvis/p90-f", now).rfind("error", 0) != 0;
    }));
  }

  // The owner of value stream a, the replica to kill mid-ingest.
  const auto owner_of_a = [&] {
    return db.Query(
        "SELECT r.address FROM vla_evaluator.leases l JOIN "
        "vla_evaluator.replicas r ON r.id = l.owner "
        "WHERE l.value_stream = 'valueStreams/a'");
  };
  const std::string first_owner = owner_of_a();

  // Two clients ingest into the replicas in turn; a failed batch goes to the
  // next replica. The reference gets every batch once.
  std::atomic<int> acked{0};
  std::atomic<bool> killed[3] = {false, false, false};
  std::atomic<int> retried{0};
  auto client = [&](int c) {
    for (int b = 0; b < kBatches; ++b) {
      const v1::IngestRequest req = Batch(c, b, now);
      bool done = false;
      for (int attempt = 0; !done && attempt < 60; ++attempt) {
        const int r = (b + c + attempt) % 3;
        if (killed[r]) continue;
        v1::IngestResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
        const grpc::Status s = ev[r]->eval->IngestBatch(&ctx, req, &resp);
        if (s.ok()) {
          EXPECT_EQ(resp.accepted() + resp.duplicates(), kBatchRecords);
          EXPECT_EQ(resp.rejected_size(), 0) << resp.ShortDebugString();
          done = true;
        } else {
          ++retried;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
      ASSERT_TRUE(done) << "batch " << b << " of client " << c;
      ++acked;
    }
  };
  // A third client uses the client library's retries on one target naming
  // every replica, the owner first (pick_first uses it until it dies).
  client::ConnectionOptions library;
  library.address = "ipv4:" + first_owner;
  for (auto& e : ev) {
    if (e->process.address() != first_owner) {
      absl::StrAppend(&library.address, ",", e->process.address());
    }
  }
  library.deadline = absl::Seconds(10);
  client::RetryPolicy policy;
  policy.max_attempts = 0;
  policy.total_timeout = absl::Seconds(60);
  policy.max_backoff = absl::Milliseconds(500);
  std::atomic<int> library_attempts{0};
  std::atomic<bool> owner_killed{false};
  std::atomic<int> library_after_kill{0};  // batches acked after the kill
  auto library_client = [&] {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::MakeChannel(library);
    ASSERT_TRUE(channel.ok()) << channel.status();
    auto stub = v1::EvaluationService::NewStub(*channel);
    for (int b = 0; b < kBatches; ++b) {
      const v1::IngestRequest req = Batch(kClients, b, now);
      v1::IngestResponse resp;
      const grpc::Status s =
          client::CallWithRetry(library, policy, [&](grpc::ClientContext* ctx) {
            ++library_attempts;
            resp.Clear();
            return stub->IngestBatch(ctx, req, &resp);
          });
      ASSERT_TRUE(s.ok()) << "library client, batch " << b << ": "
                          << s.error_message();
      EXPECT_EQ(resp.accepted() + resp.duplicates(), kBatchRecords);
      ++acked;
      if (owner_killed) ++library_after_kill;
      // Paced, so that the kill falls mid-ingest for this client too.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) clients.emplace_back(client, c);
  clients.emplace_back(library_client);
  for (int c = 0; c <= kClients; ++c) {
    for (int b = 0; b < kBatches; ++b) {
      v1::IngestResponse resp;
      ASSERT_TRUE(
          sqlite->eval->IngestBatch(Ctx().get(), Batch(c, b, now), &resp).ok());
      ASSERT_EQ(resp.accepted(), kBatchRecords);
    }
  }

  // Mid-ingest: SIGKILL the owner of value stream a.
  ASSERT_TRUE(testing::Eventually([&] { return acked >= kBatches / 2; }));
  const std::string owner = owner_of_a();
  int victim = -1;
  for (int i = 0; i < 3; ++i) {
    if (ev[i]->process.address() == owner) victim = i;
  }
  ASSERT_GE(victim, 0) << "owner " << owner;
  killed[victim] = true;
  ev[victim]->process.Kill();
  owner_killed = true;
  const absl::Time kill_time = absl::Now();
  const int survivor = (victim + 1) % 3;
  // The value stream is served again (by another owner) within 10 s.
  ASSERT_TRUE(testing::Eventually([&] {
    return KviAt(*ev[survivor]->eval, "kvis/count-a", now).rfind("error", 0) !=
           0;
  }));
  const absl::Duration failover = absl::Now() - kill_time;
  EXPECT_LT(failover, absl::Seconds(10));
  std::printf("failover: value stream a served again %s after SIGKILL\n",
              absl::FormatDuration(failover).c_str());
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(acked, (kClients + 1) * kBatches);
  std::printf("batches retried on another replica: %d\n", retried.load());
  std::printf(
      "client library: %d attempts for %d batches, %d acknowledged after its "
      "replica was killed\n",
      library_attempts.load(), kBatches, library_after_kill.load());
  if (owner == first_owner) {
    // Its replica died under it and it went on on another one (retrying a
    // call that was in flight, if any), never failing (above).
    EXPECT_GT(library_after_kill, 0);
  }
  EXPECT_EQ(db.QueryInt("SELECT COUNT(*) FROM vla_evaluator.records"),
            (kClients + 1) * kBatches * kBatchRecords);

  // Every survivor answers like the single SQLite process, at an instant
  // after the last record.
  const int64_t at = now + 60;
  for (int i = 0; i < 3; ++i) {
    if (i == victim) continue;
    for (const std::string& id : kStreams) {
      for (const std::string& kvi : {"kvis/count-" + id, "kvis/p90-" + id}) {
        const std::string want = KviAt(*sqlite->eval, kvi, at);
        EXPECT_EQ(want.rfind("error", 0), std::string::npos) << want;
        EXPECT_TRUE(testing::Eventually([&] {
          return KviAt(*ev[i]->eval, kvi, at) == want;
        })) << "replica "
            << i << " " << kvi << ": " << KviAt(*ev[i]->eval, kvi, at)
            << " != " << want;
      }
      const std::string vla = "vlas/vla-" + id;
      const std::string want = VlaAt(*sqlite->eval, vla, at);
      EXPECT_EQ(want.rfind("error", 0), std::string::npos) << want;
      EXPECT_EQ(VlaAt(*ev[i]->eval, vla, at), want) << "replica " << i;
    }
  }
  const std::string objective = ObjectiveAt(*sqlite->okr, at);
  EXPECT_EQ(objective.rfind("error", 0), std::string::npos) << objective;
  for (auto& o : okr) EXPECT_EQ(ObjectiveAt(*o->okr, at), objective);
}

}  // namespace
}  // namespace vla
