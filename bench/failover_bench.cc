// failover_bench: how long the value streams of an evaluator replica that
// dies (SIGKILL) or stops (SIGTERM) take to be served again by the others,
// on PostgreSQL (issue 19's failover target: within 10 s, nothing lost).
//
// Runs the real `vlad` binary: one vmdb process and --replicas evaluator
// processes on one PostgreSQL database (--database, else a throwaway
// cluster started with tests/pg_cluster.sh in --tmp_dir). Defines
// --value_streams value streams with a COUNT KVI each, ingests --records
// observations spread over them through the replicas, then, --kills times
// and --stops times: finds the owner of a value stream in the leases table,
// kills it with SIGKILL (or stops it with SIGTERM), and, for every value
// stream the victim owned, polls the leases table until a running replica
// holds its lease and then another replica's GetKviValue until it answers
// with the full count (the new owner rebuilt the value stream from the
// database); then restarts the victim and waits until every replica
// answers every value stream in full again.
//
// Prints, per round, the time from the signal until the last of the
// victim's value streams answered in full, and the median and max per kind.
// Exits 1 if a round did not recover within 60 s or a count was wrong.
//
//   failover_bench [--replicas=3] [--value_streams=6] [--records=600000]
//                  [--kills=3] [--stops=3] [--heartbeat=1s]
//                  [--lease_ttl=4s] [--shutdown_grace=20s] [--database=URI]
//                  [--quick]
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "services/common/pg_util.h"
#include "tests/vlad_process.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/vmdb.grpc.pb.h"

ABSL_FLAG(int, replicas, 3, "Evaluator replicas.");
ABSL_FLAG(int, value_streams, 6, "Value streams (a COUNT KVI each).");
ABSL_FLAG(int64_t, records, 600000,
          "Observations stored before the first round, spread evenly over "
          "the value streams: what a new owner rebuilds.");
ABSL_FLAG(int, kills, 3, "Rounds with SIGKILL of an owner.");
ABSL_FLAG(int, stops, 3, "Rounds with SIGTERM of an owner.");
ABSL_FLAG(absl::Duration, heartbeat, absl::Seconds(1),
          "--evaluator_heartbeat of the replicas (vlad's default).");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(4),
          "--evaluator_lease_ttl of the replicas (vlad's default).");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "--shutdown_grace of the replicas (k8s/base's value): how long a "
          "replica stopped with SIGTERM may drain.");
ABSL_FLAG(std::string, database, "",
          "PostgreSQL URI of an empty, throwaway database; empty: start a "
          "throwaway cluster (tests/pg_cluster.sh).");
ABSL_FLAG(std::string, tmp_dir, "/tmp", "Where the data folders go.");
ABSL_FLAG(bool, quick, false,
          "Smoke run: 2 replicas, 2 value streams, 2,000 records, one kill "
          "and one stop, heartbeat 200ms, TTL 1s.");

namespace vla {
namespace {

using Clock = std::chrono::system_clock;

constexpr int kBatch = 1000;
constexpr absl::Duration kRecoveryLimit = absl::Seconds(60);

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(Clock::now() + absl::ToChronoMilliseconds(timeout));
  return ctx;
}

std::string StreamId(int i) { return absl::StrCat("s", i); }

struct Replica {
  Replica(const std::string& dir, std::vector<std::string> args)
      : process(VLAD_PATH, dir, std::move(args)) {}
  absl::Status Start() {
    if (absl::Status s = process.Start(); !s.ok()) return s;
    eval = v1::EvaluationService::NewStub(grpc::CreateChannel(
        process.address(), grpc::InsecureChannelCredentials()));
    return absl::OkStatus();
  }
  testing::VladProcess process;
  std::unique_ptr<v1::EvaluationService::Stub> eval;
  bool running = false;
};

absl::Status CreateDefinitions(v1::VmdbService::Stub& vmdb, int streams) {
  auto check = [](const grpc::Status& s, const std::string& what) {
    return s.ok() ? absl::OkStatus()
                  : absl::InternalError(
                        absl::StrCat(what, ": ", s.error_message()));
  };
  for (auto [id, kind] : {std::pair{"business", v1::TEAM_KIND_CONSUMER},
                          std::pair{"desk", v1::TEAM_KIND_PROVIDER}}) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    req.mutable_team()->set_display_name(id);
    req.mutable_team()->set_kind(kind);
    v1::Team out;
    absl::Status s =
        check(vmdb.CreateTeam(Ctx(absl::Seconds(10)).get(), req, &out), id);
    if (!s.ok()) return s;
  }
  for (int i = 0; i < streams; ++i) {
    v1::CreateValueStreamRequest vs;
    vs.set_value_stream_id(StreamId(i));
    vs.mutable_value_stream()->set_consumer("teams/business");
    vs.mutable_value_stream()->add_providers("teams/desk");
    v1::ValueStream vs_out;
    absl::Status s =
        check(vmdb.CreateValueStream(Ctx(absl::Seconds(10)).get(), vs, &vs_out),
              StreamId(i));
    if (!s.ok()) return s;
    v1::CreateKviRequest kvi;
    kvi.set_kvi_id("count-" + StreamId(i));
    v1::Kvi& k = *kvi.mutable_kvi();
    k.set_value_stream("valueStreams/" + StreamId(i));
    k.set_source(v1::SOURCE_OBSERVATIONS);
    k.set_signal("s");
    k.set_aggregation(v1::AGGREGATION_COUNT);
    k.mutable_window()->mutable_rolling()->set_seconds(30 * 86400);
    k.set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
    v1::Kvi kvi_out;
    s = check(vmdb.CreateKvi(Ctx(absl::Seconds(10)).get(), kvi, &kvi_out),
              kvi.kvi_id());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Stores `records` observations, batch b of value stream b % streams,
// through the replicas in turn; retries a failed batch (a replica still
// learning the definitions).
absl::Status Ingest(std::vector<std::unique_ptr<Replica>>& replicas,
                    int streams, int64_t records, int64_t now) {
  const int64_t batches = records / kBatch;
  for (int64_t b = 0; b < batches; ++b) {
    v1::IngestRequest req;
    for (int i = 0; i < kBatch; ++i) {
      v1::Observation* o = req.add_observations();
      o->set_event_id(absl::StrCat("b", b, "-", i));
      o->set_signal("s");
      o->set_value(i % 100);
      o->mutable_time()->set_seconds(now - 86400 + (b * kBatch + i) % 86000);
      o->set_value_stream("valueStreams/" + StreamId(b % streams));
    }
    grpc::Status s;
    for (int attempt = 0; attempt < 100; ++attempt) {
      Replica& r = *replicas[(b + attempt) % replicas.size()];
      v1::IngestResponse resp;
      s = r.eval->IngestBatch(Ctx(absl::Seconds(30)).get(), req, &resp);
      if (s.ok() && resp.rejected_size() == 0) break;
      if (s.ok()) s = grpc::Status(grpc::StatusCode::INTERNAL, "rejected");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("batch ", b, ": ", s.error_message()));
    }
  }
  return absl::OkStatus();
}

// The count `r` answers for value stream `i` (-1 on error).
int64_t CountAt(Replica& r, int i) {
  v1::GetKviValueRequest req;
  req.set_kvi("kvis/count-" + StreamId(i));
  v1::KviValue v;
  if (!r.eval->GetKviValue(Ctx(absl::Seconds(5)).get(), req, &v).ok()) {
    return -1;
  }
  return v.has_value() ? static_cast<int64_t>(v.value()) : 0;
}

// Waits until `r` answers value stream `i` with `want`; the time that took,
// or InfiniteDuration after kRecoveryLimit.
absl::Duration UntilServed(Replica& r, int i, int64_t want, absl::Time from) {
  while (absl::Now() - from < kRecoveryLimit) {
    if (CountAt(r, i) == want) return absl::Now() - from;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::InfiniteDuration();
}

// The replica (index) owning each value stream, from the leases table; -1
// for none.
std::vector<int> Owners(pg::Connection& db,
                        const std::vector<std::unique_ptr<Replica>>& replicas,
                        int streams) {
  std::vector<int> owners(streams, -1);
  absl::StatusOr<pg::Result> r = db.Query(
      "SELECT l.value_stream, r.address FROM vla_evaluator.leases l "
      "JOIN vla_evaluator.replicas r ON r.id = l.owner "
      "WHERE l.expires > now()");
  if (!r.ok()) return owners;
  for (int row = 0; row < r->rows(); ++row) {
    for (int i = 0; i < streams; ++i) {
      if (r->String(row, 0) != "valueStreams/" + StreamId(i)) continue;
      for (size_t p = 0; p < replicas.size(); ++p) {
        if (replicas[p]->running &&
            replicas[p]->process.address() == r->String(row, 1)) {
          owners[i] = static_cast<int>(p);
        }
      }
    }
  }
  return owners;
}

// Waits until a running replica holds the lease of value stream `i`; the
// time since `from`, or InfiniteDuration after kRecoveryLimit.
absl::Duration UntilOwned(pg::Connection& db,
                          const std::vector<std::unique_ptr<Replica>>& replicas,
                          int streams, int i, absl::Time from) {
  while (absl::Now() - from < kRecoveryLimit) {
    if (Owners(db, replicas, streams)[i] >= 0) return absl::Now() - from;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::InfiniteDuration();
}

int Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  const int n = quick ? 2 : absl::GetFlag(FLAGS_replicas);
  const int streams = quick ? 2 : absl::GetFlag(FLAGS_value_streams);
  const int64_t records = quick ? 2000 : absl::GetFlag(FLAGS_records);
  const int kills = quick ? 1 : absl::GetFlag(FLAGS_kills);
  const int stops = quick ? 1 : absl::GetFlag(FLAGS_stops);
  const absl::Duration heartbeat =
      quick ? absl::Milliseconds(200) : absl::GetFlag(FLAGS_heartbeat);
  const absl::Duration ttl =
      quick ? absl::Seconds(1) : absl::GetFlag(FLAGS_lease_ttl);
  const int64_t per_stream = records / kBatch / streams * kBatch;
  if (n < 2 || streams < 1 || records / kBatch % streams != 0) {
    std::fprintf(stderr,
                 "failover_bench: --replicas >= 2, and --records a multiple "
                 "of 1000 * --value_streams\n");
    return 2;
  }

  std::string dir = absl::GetFlag(FLAGS_tmp_dir) + "/failover_bench.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string database = absl::GetFlag(FLAGS_database);
  const std::string cluster = dir + "/pg";
  if (database.empty()) {
    // As root, the cluster runs as `postgres`, which must reach its folder.
    std::filesystem::permissions(dir,
                                 std::filesystem::perms::group_exec |
                                     std::filesystem::perms::others_exec,
                                 std::filesystem::perm_options::add);
    const std::string cmd =
        absl::StrCat(VLA_PG_CLUSTER_SCRIPT, " start ", cluster);
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "failover_bench: %s failed\n", cmd.c_str());
      return 1;
    }
    std::ifstream uri(cluster + "/uri");
    std::getline(uri, database);
  }
  int exit_code = 0;
  {
    absl::StatusOr<std::unique_ptr<pg::Connection>> db =
        pg::Connection::Open(database, "");
    if (!db.ok()) {
      std::fprintf(stderr, "failover_bench: %s\n",
                   db.status().ToString().c_str());
      return 1;
    }
    const std::vector<std::string> common = {
        "--database=" + database,
        "--evaluator_heartbeat=" + absl::FormatDuration(heartbeat),
        "--evaluator_lease_ttl=" + absl::FormatDuration(ttl),
        "--shutdown_grace=" +
            absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace))};
    auto args = [&](std::vector<std::string> a) {
      a.insert(a.end(), common.begin(), common.end());
      return a;
    };
    int folders = 0;
    auto folder = [&] {
      const std::string d = absl::StrCat(dir, "/p", folders++);
      std::filesystem::create_directories(d);
      return d;
    };
    testing::VladProcess vmdb(VLAD_PATH, folder(), args({"--services=vmdb"}));
    std::vector<std::unique_ptr<Replica>> replicas;
    absl::Status s = vmdb.Start();
    for (int i = 0; s.ok() && i < n; ++i) {
      replicas.push_back(std::make_unique<Replica>(
          folder(),
          args({"--services=evaluator", "--vmdb_address=" + vmdb.address()})));
      s = replicas.back()->Start();
      replicas.back()->running = s.ok();
    }
    if (s.ok()) {
      auto stub = v1::VmdbService::NewStub(grpc::CreateChannel(
          vmdb.address(), grpc::InsecureChannelCredentials()));
      s = CreateDefinitions(*stub, streams);
    }
    const absl::Time load_start = absl::Now();
    if (s.ok()) {
      s = Ingest(replicas, streams, records, absl::ToUnixSeconds(absl::Now()));
    }
    if (!s.ok()) {
      std::fprintf(stderr, "failover_bench: %s\n", s.ToString().c_str());
      exit_code = 1;
    } else {
      std::printf(
          "%d evaluator replicas (heartbeat %s, lease TTL %s, shutdown "
          "grace %s), %d value streams, %lld records stored in %.1f s\n",
          n, absl::FormatDuration(heartbeat).c_str(),
          absl::FormatDuration(ttl).c_str(),
          absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace)).c_str(),
          streams, static_cast<long long>(records),
          absl::ToDoubleSeconds(absl::Now() - load_start));
    }
    // Every replica answers every value stream in full.
    auto all_served = [&] {
      const absl::Time from = absl::Now();
      for (auto& r : replicas) {
        for (int i = 0; i < streams; ++i) {
          if (UntilServed(*r, i, per_stream, from) ==
              absl::InfiniteDuration()) {
            return false;
          }
        }
      }
      return true;
    };
    std::vector<absl::Duration> killed, stopped;
    // The leases settled: every value stream owned, the same owners over
    // two heartbeats (a restarted replica takes its share back).
    auto settled = [&] {
      const absl::Time from = absl::Now();
      std::vector<int> before = Owners(**db, replicas, streams);
      while (absl::Now() - from < kRecoveryLimit) {
        absl::SleepFor(2 * heartbeat);
        std::vector<int> now = Owners(**db, replicas, streams);
        if (now == before &&
            std::find(now.begin(), now.end(), -1) == now.end()) {
          return now;
        }
        before = std::move(now);
      }
      return std::vector<int>();
    };
    for (int round = 0; exit_code == 0 && round < kills + stops; ++round) {
      std::vector<int> owners = settled();
      if (owners.empty() || !all_served()) {
        std::printf("round %d: the value streams did not settle\n", round);
        exit_code = 1;
        break;
      }
      const bool kill = round < kills;
      const int target = round % streams;
      const int victim = owners[target];
      Replica& v = *replicas[victim];
      Replica& survivor = *replicas[(victim + 1) % n];
      const absl::Time signalled = absl::Now();
      if (kill) {
        v.process.Kill();
      } else {
        v.process.Signal(SIGTERM);
      }
      v.running = false;
      // Served again: the lease is held by a running replica (a stopping
      // victim still answers until its server shuts down, and gives up
      // its leases only after that), then the survivor answers in full.
      absl::Duration worst;
      std::vector<std::string> moved;
      for (int i = 0; i < streams; ++i) {
        if (owners[i] != victim) continue;
        moved.push_back(StreamId(i));
        worst =
            std::max(worst, UntilOwned(**db, replicas, streams, i, signalled));
        if (worst == absl::InfiniteDuration()) break;
        worst =
            std::max(worst, UntilServed(survivor, i, per_stream, signalled));
      }
      if (!kill) v.process.Wait();
      std::printf("round %d: %s of the owner of %s: %s served again in %s\n",
                  round, kill ? "SIGKILL" : "SIGTERM", StreamId(target).c_str(),
                  absl::StrJoin(moved, ",").c_str(),
                  absl::FormatDuration(worst).c_str());
      std::fflush(stdout);
      if (worst == absl::InfiniteDuration()) {
        exit_code = 1;
        break;
      }
      (kill ? killed : stopped).push_back(worst);
      // Back to n replicas (on the same port) for the next round.
      s = v.Start();
      v.running = s.ok();
      if (!s.ok()) {
        std::printf("restart: %s\n", s.ToString().c_str());
        exit_code = 1;
      }
    }
    if (exit_code == 0 && !all_served()) {
      std::printf("after the last restart: not every value stream served\n");
      exit_code = 1;
    }
    auto summary = [](const char* what, std::vector<absl::Duration> d) {
      if (d.empty()) return;
      std::sort(d.begin(), d.end());
      std::printf("%s: median %s, max %s over %zu rounds (target: 10s)\n", what,
                  absl::FormatDuration(bench::Percentile(d, 0.5)).c_str(),
                  absl::FormatDuration(d.back()).c_str(), d.size());
    };
    summary("failover after SIGKILL", killed);
    summary("hand-over after SIGTERM", stopped);
  }
  if (absl::GetFlag(FLAGS_database).empty()) {
    const std::string cmd =
        absl::StrCat(VLA_PG_CLUSTER_SCRIPT, " stop ", cluster);
    if (std::system(cmd.c_str()) != 0) exit_code = 1;
  }
  std::filesystem::remove_all(dir);
  return exit_code;
}

}  // namespace
}  // namespace vla

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return vla::Run();
}
