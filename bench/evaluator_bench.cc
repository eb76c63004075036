// evaluator_bench: load generator and timings for the evaluator.
//
// One synthetic but realistic model (4 value streams, 11 teams, 20 KVIs of
// mixed aggregations over rolling 30-day windows, 100 ACTIVE VLAs of 3
// clauses each, half with a linked SLA) and one deterministic record
// generator (70% observations, 30% work item events of 6-event item
// lifecycles, with priority/channel/region/source labels, services and
// reporters, spread over 40 days and replayed in time order) feed four
// measurements, printed as they run and again in a summary:
//
//   eval    (in-process) Evaluator::Open on a temporary folder, no gRPC, no
//           evaluation thread: loads --small_records, times full evaluation
//           passes (Evaluator::EvaluatePass(true), and the engine alone: 100
//           GetVlaStatus calls at one instant) at a fixed instant and with
//           the instant moving by --slide_seconds between passes; then loads
//           up to --records and times the same; reports the median ms per
//           pass, the ratio big/small, RSS after the small set and the peak
//           RSS (VmHWM) at the big set. Runs first, so that the peak is the
//           evaluator's own.
//   raw     plain prepared-statement inserts of the same serialized records
//           into an unindexed SQLite table (WAL, synchronous=FULL, one
//           transaction per --batch_records rows), before and after the
//           ingest settings (disk syncs vary): the faster is the baseline.
//   ingest  a real server (vla::Server, all services, real clock) on
//           127.0.0.1:0; definitions created through VmdbService; then
//           --small_records records through the Ingest bidirectional stream
//           in batches of --batch_records, split between the --streams
//           settings (e.g. 1, 2 and 4 concurrent streams, one TCP connection
//           each), each setting on the next part of the time-ordered data.
//           Requests are serialized before each setting starts, so the
//           client costs only gRPC. Prints records/s per setting, the best,
//           and ingest_vs_raw_sqlite.
//   status  on the server loaded by `ingest` (the --small_records data set):
//           GetVlaStatus (time unset: now, so windows slide) with --threads
//           client threads, against a no-op GetVlaStatus on a baseline
//           server in the same run: calls/s, p50/p99 and status_vs_noop.
//           A read without a time answers the latest evaluation pass.
//   watch   on a server of its own (data on a tmpfs, --watch_records
//           records, a --watch_debounce_ms debounce): --watch_subscribers
//           WatchVlaStatuses streams (attach time), then for
//           --watch_seconds rounds: every VLA updated (a new revision each),
//           then the pass that publishes them awaited, so every pass changes
//           all 100 VLAs: events delivered per second, events per message,
//           update-to-event latency, CPU per event.
//   restart the real `vlad` binary over one data folder filled through gRPC
//           up to each of --restart_records in turn (1M, then 10M): the
//           time from process start to health SERVING without a snapshot
//           (a full rebuild from every stored record) and with the snapshot
//           written at the previous graceful stop; the snapshot's size and
//           write time; and ingest throughput while snapshots are written
//           back to back (--snapshot_interval=1s) against none, each over
//           --restart_segment records.
//
//   history (in-process, --parts=history) records over the two years before
//           the instant, the model plus a VLA of 10 clauses, a pass a day
//           over the two years (the published history); times GetVlaReport
//           (24 months) and GetKviSeries (1,000 points of a rolling 30-day
//           p90, an hour apart and spread over the two years) at
//           --small_records, then at --records.
//
// Exits 1 if any call failed or any record was rejected; missed targets are
// reported, not failures.
//
//   evaluator_bench [--records=10000000] [--small_records=1000000]
//                   [--parts=eval,grpc,restart,history] [--streams=1,2,4]
//                   [--quick]
#include <SQLiteCpp/SQLiteCpp.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/watch_client.h"
#include "common/proto_time.h"
#include "services/common/clock.h"
#include "services/common/pg_util.h"
#include "services/evaluator/engine.h"
#include "services/evaluator/evaluator.h"
#include "services/server/server.h"
#include "tests/vlad_process.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/vmdb.grpc.pb.h"

ABSL_FLAG(int64_t, records, 10000000,
          "Records in the big data set of the eval part (the small set plus "
          "more).");
ABSL_FLAG(int64_t, small_records, 1000000,
          "Records in the small data set: the first step of the eval part, "
          "and what the ingest part sends (and the status part queries).");
ABSL_FLAG(std::string, restart_records, "1000000,10000000",
          "restart part: stored records at each restart measurement.");
ABSL_FLAG(int64_t, restart_segment, 300000,
          "restart part: records ingested with and without snapshots.");
ABSL_FLAG(bool, keep_data, false,
          "restart part: keep the data folder (vlad.log, the databases and "
          "the snapshot) for a look afterwards.");
ABSL_FLAG(std::string, parts, "eval,grpc,restart",
          "Parts to run: eval (in-process evaluation passes and memory), grpc "
          "(raw SQLite baseline, Ingest streams, GetVlaStatus, watch "
          "streams), restart (time to SERVING with and without a snapshot, "
          "ingest while snapshotting), history (GetVlaReport and "
          "GetKviSeries over two years of records; not run by default).");
ABSL_FLAG(std::string, streams, "1,2,4",
          "Concurrent Ingest stream settings, each sending an equal share of "
          "--small_records.");
ABSL_FLAG(int, batch_records, 1000, "Records per Ingest request.");
ABSL_FLAG(int, window, 8,
          "Ingest requests a stream may have sent but not yet seen "
          "acknowledged.");
ABSL_FLAG(int64_t, raw_rows, 300000, "Rows of the raw SQLite baseline.");
ABSL_FLAG(int, passes, 41, "Measured evaluation passes per case.");
ABSL_FLAG(double, slide_seconds, 3,
          "How far the evaluation instant moves between sliding passes.");
ABSL_FLAG(double, seconds, 3.0,
          "Measured duration of each GetVlaStatus phase, seconds.");
ABSL_FLAG(double, warmup_seconds, 0.5,
          "Warm-up before each GetVlaStatus phase, seconds (not measured).");
ABSL_FLAG(int, threads, 8, "GetVlaStatus client threads (one call each).");
ABSL_FLAG(int, status_rounds, 3,
          "The no-op and GetVlaStatus phases alternate this many times, each "
          "--seconds/rounds long, so that load from outside the benchmark "
          "weighs on both alike.");
ABSL_FLAG(int, debounce_ms, 200,
          "Server's evaluation debounce after new data (vlad's default: 200); "
          "a large value keeps the evaluation loop out of the ingest "
          "measurement, for diagnosis.");
ABSL_FLAG(int, tick_seconds, 10,
          "Server's full evaluation period (vlad's default: 10).");
ABSL_FLAG(std::string, database, "",
          "A PostgreSQL URI (postgresql://...) of an empty, throwaway "
          "database: the evaluator stores there (one replica) instead of "
          "SQLite in --tmp_dir; run the eval, grpc and history parts on "
          "separate databases.");
ABSL_FLAG(int, watch_subscribers, 1000,
          "WatchVlaStatuses subscribers of the watch phase (0: no phase).");
ABSL_FLAG(int, watch_channels, 10,
          "TCP connections the watch subscribers share round-robin.");
ABSL_FLAG(double, watch_seconds, 5,
          "Duration of the watch phase's load (rounds: every VLA updated, "
          "then the evaluation pass that publishes them awaited).");
ABSL_FLAG(int64_t, watch_records, 100000,
          "Records loaded into the watch phase's server (so that statuses "
          "carry values).");
ABSL_FLAG(int, watch_debounce_ms, 1000,
          "Evaluation debounce of the watch phase's server: long enough that "
          "a round's 100 updates land in one pass (vlad's default is 200).");
ABSL_FLAG(std::string, watch_dir, "/dev/shm",
          "Data folder of the watch phase's server (a tmpfs: the VLA updates "
          "that drive the phase then cost no disk syncs).");
ABSL_FLAG(std::string, tmp_dir, "/tmp",
          "Where the temporary data folders go (removed at the end).");
ABSL_FLAG(bool, quick, false,
          "Smoke run: 20,000 small / 40,000 big records, 20,000 raw rows, 3 "
          "passes, 0.5 s phases with 0.1 s warm-up (overrides those flags).");

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = vla::v1;

constexpr int64_t kDay = 86400;
constexpr auto kCallDeadline = std::chrono::seconds(30);
constexpr auto kStreamDeadline = std::chrono::minutes(30);

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// /proc/self/status field `key` (e.g. VmRSS, VmHWM) in MiB; -1 if absent.
double ProcStatusMib(absl::string_view key) {
  const int64_t kib = vla::bench::ProcStatusKib(0, key);
  return kib < 0 ? -1 : static_cast<double>(kib) / 1024.0;
}

void Print(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Deterministic hashing: every record is a pure function of its index.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
uint64_t H(uint64_t i, uint64_t salt) {
  return Mix(i * 0x100000001b3ULL ^ salt);
}
// Uniform in [0, 1).
double U(uint64_t i, uint64_t salt) {
  return static_cast<double>(H(i, salt) >> 11) * 0x1.0p-53;
}

// ---------------------------------------------------------------------------
// The model: teams, value streams, KVIs and VLAs.

struct StreamDef {
  std::string id;
  std::string consumer;
  std::vector<std::string> providers;  // three team ids
  std::string item_prefix;
  v1::ItemType item_type;
  std::string signal;  // the stream's own observation signal
};

struct KviDef {
  std::string id;
  v1::Kvi kvi;
  double target = 0;
  double warning = 0;
};

struct Model {
  std::vector<std::pair<std::string, v1::Team>> teams;
  std::vector<StreamDef> streams;
  std::vector<v1::ValueStream> value_streams;  // per stream
  std::vector<std::vector<KviDef>> kvis;       // per stream, five each
  std::vector<std::pair<std::string, v1::Vla>> vlas;
  std::vector<std::string> vla_names;  // "vlas/..."
};

v1::Kvi BaseKvi(const StreamDef& s, v1::Aggregation agg, v1::Direction dir,
                const std::string& display, const std::string& unit) {
  v1::Kvi k;
  k.set_display_name(display);
  k.set_value_stream(absl::StrCat("valueStreams/", s.id));
  k.set_aggregation(agg);
  k.set_direction(dir);
  k.set_unit(unit);
  k.mutable_window()->mutable_rolling()->set_seconds(30 * kDay);
  return k;
}

KviDef ObsKvi(const StreamDef& s, const std::string& id,
              const std::string& signal, v1::Aggregation agg, v1::Direction dir,
              const std::string& display, double target, double warning,
              const std::string& unit = "") {
  KviDef d{id, BaseKvi(s, agg, dir, display, unit), target, warning};
  d.kvi.set_source(v1::SOURCE_OBSERVATIONS);
  d.kvi.set_signal(signal);
  d.kvi.set_dimension(v1::DIMENSION_EXPERIENCE);
  return d;
}

KviDef ItemKvi(const StreamDef& s, const std::string& id,
               v1::WorkItemField field, v1::Aggregation agg, v1::Direction dir,
               const std::string& display, double target, double warning,
               const std::string& unit = "") {
  KviDef d{id, BaseKvi(s, agg, dir, display, unit), target, warning};
  d.kvi.set_source(v1::SOURCE_WORK_ITEMS);
  d.kvi.set_field(field);
  d.kvi.set_dimension(v1::DIMENSION_FLOW);
  return d;
}

Model MakeModel() {
  Model m;
  auto team = [&](const std::string& id, v1::TeamKind kind,
                  const std::string& display) {
    v1::Team t;
    t.set_display_name(display);
    t.set_kind(kind);
    m.teams.emplace_back(id, t);
  };
  team("business-ops", v1::TEAM_KIND_CONSUMER, "Operations (business)");
  team("business-hr", v1::TEAM_KIND_CONSUMER, "HR (business)");
  team("business-sales", v1::TEAM_KIND_CONSUMER, "Sales (business)");
  team("business-finance", v1::TEAM_KIND_CONSUMER, "Finance (business)");
  team("desk", v1::TEAM_KIND_PROVIDER, "Service desk");
  team("network", v1::TEAM_KIND_PROVIDER, "Network");
  team("apps", v1::TEAM_KIND_PROVIDER, "Application support");
  team("facilities", v1::TEAM_KIND_PROVIDER, "Facilities");
  team("change-board", v1::TEAM_KIND_PROVIDER, "Change advisory board");
  team("dba", v1::TEAM_KIND_PROVIDER, "Database administration");
  team("vendor-acme", v1::TEAM_KIND_PROVIDER, "ACME (outsourced)");

  m.streams = {
      {"incident",
       "business-ops",
       {"desk", "network", "apps"},
       "INC",
       v1::ITEM_TYPE_INCIDENT,
       "effort"},
      {"request",
       "business-hr",
       {"desk", "apps", "facilities"},
       "REQ",
       v1::ITEM_TYPE_REQUEST,
       "nps"},
      {"change",
       "business-sales",
       {"change-board", "network", "dba"},
       "CHG",
       v1::ITEM_TYPE_CHANGE,
       "csat"},
      {"problem",
       "business-finance",
       {"apps", "dba", "vendor-acme"},
       "PRB",
       v1::ITEM_TYPE_PROBLEM,
       "cost_eur"},
  };
  for (const StreamDef& s : m.streams) {
    v1::ValueStream vs;
    vs.set_display_name(absl::StrCat(s.id, " management"));
    vs.set_value_owner(absl::StrCat("teams/", s.consumer));
    vs.set_consumer(absl::StrCat("teams/", s.consumer));
    for (const std::string& p : s.providers) {
      vs.add_providers(absl::StrCat("teams/", p));
      v1::Stage* stage = vs.add_stages();
      stage->set_name(absl::StrCat("stage-", p));
      stage->set_team(absl::StrCat("teams/", p));
    }
    for (int i = 0; i < 3; ++i) {
      vs.add_services(absl::StrCat("svc-", s.id, "-", i));
    }
    m.value_streams.push_back(vs);
  }

  using A = v1::Aggregation;
  const auto kHigher = v1::DIRECTION_HIGHER_IS_BETTER;
  const auto kLower = v1::DIRECTION_LOWER_IS_BETTER;
  const StreamDef& inc = m.streams[0];
  const StreamDef& req = m.streams[1];
  const StreamDef& chg = m.streams[2];
  const StreamDef& prb = m.streams[3];
  std::vector<KviDef> k;
  // incident
  k.push_back(ObsKvi(inc, "incident-happiness", "happiness",
                     A::AGGREGATION_MEAN, kHigher, "Incident happiness", 75,
                     65));
  k.push_back(ItemKvi(inc, "incident-lead-p90", v1::WORK_ITEM_FIELD_LEAD_TIME,
                      A::AGGREGATION_PERCENTILE, kLower, "p90 incident lead",
                      4 * kDay, 7 * kDay, "s"));
  k.back().kvi.set_percentile(90);
  k.push_back(ItemKvi(inc, "incident-sla", v1::WORK_ITEM_FIELD_SLA_MET,
                      A::AGGREGATION_MEAN, kHigher, "Incident SLA", 0.95, 0.9,
                      "%"));
  k.push_back(ItemKvi(inc, "incident-p1-lead-p95",
                      v1::WORK_ITEM_FIELD_LEAD_TIME, A::AGGREGATION_PERCENTILE,
                      kLower, "p95 P1 lead", 2 * kDay, 5 * kDay, "s"));
  k.back().kvi.set_percentile(95);
  (*k.back().kvi.mutable_scope()->mutable_labels())["priority"] = "P1";
  k.push_back(ItemKvi(inc, "incident-reopen-rate", v1::WORK_ITEM_FIELD_REOPENED,
                      A::AGGREGATION_MEAN, kLower, "Reopen rate", 0.1, 0.2,
                      "%"));
  m.kvis.push_back(std::move(k));
  // request
  k.clear();
  k.push_back(ObsKvi(req, "request-happiness", "happiness", A::AGGREGATION_MEAN,
                     kHigher, "Request happiness", 75, 65));
  k.push_back(ObsKvi(req, "request-nps", "nps", A::AGGREGATION_NET_SCORE,
                     kHigher, "Request NPS", 30, 10));
  k.push_back(ItemKvi(req, "request-sla", v1::WORK_ITEM_FIELD_SLA_MET,
                      A::AGGREGATION_MEAN, kHigher, "Request SLA", 0.95, 0.9,
                      "%"));
  k.push_back(ItemKvi(req, "request-fcr",
                      v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION,
                      A::AGGREGATION_MEAN, kHigher, "First contact resolution",
                      0.25, 0.15, "%"));
  k.push_back(ItemKvi(req, "request-lead-p50", v1::WORK_ITEM_FIELD_LEAD_TIME,
                      A::AGGREGATION_PERCENTILE, kLower, "Median request lead",
                      8 * 3600, kDay, "s"));
  k.back().kvi.set_percentile(50);
  m.kvis.push_back(std::move(k));
  // change
  k.clear();
  k.push_back(ObsKvi(chg, "change-happiness", "happiness", A::AGGREGATION_MEAN,
                     kHigher, "Change happiness", 75, 65));
  k.push_back(ObsKvi(chg, "change-csat", "csat", A::AGGREGATION_MEAN, kHigher,
                     "Change CSAT (co-measured)", 4.2, 3.8));
  k.back().kvi.mutable_co_measurement()->set_enabled(true);
  k.back().kvi.mutable_co_measurement()->set_absolute_tolerance(0.3);
  k.push_back(ItemKvi(chg, "change-sla", v1::WORK_ITEM_FIELD_SLA_MET,
                      A::AGGREGATION_MEAN, kHigher, "Change SLA", 0.95, 0.9,
                      "%"));
  k.push_back(ItemKvi(chg, "change-wait-p75", v1::WORK_ITEM_FIELD_WAIT_TIME,
                      A::AGGREGATION_PERCENTILE, kLower, "p75 change wait",
                      kDay, 2 * kDay, "s"));
  k.back().kvi.set_percentile(75);
  k.push_back(ItemKvi(chg, "change-throughput", v1::WORK_ITEM_FIELD_RESOLVED,
                      A::AGGREGATION_RATE_PER_DAY, kHigher,
                      "Changes done per day", 200, 100));
  m.kvis.push_back(std::move(k));
  // problem
  k.clear();
  k.push_back(ObsKvi(prb, "problem-happiness-p25", "happiness",
                     A::AGGREGATION_PERCENTILE, kHigher,
                     "p25 problem happiness", 60, 50));
  k.back().kvi.set_percentile(25);
  k.push_back(ObsKvi(prb, "problem-cost", "cost_eur", A::AGGREGATION_SUM,
                     kLower, "Problem cost", 1e6, 2e6, "EUR"));
  k.back().kvi.set_dimension(v1::DIMENSION_COST);
  k.push_back(ItemKvi(prb, "problem-sla", v1::WORK_ITEM_FIELD_SLA_MET,
                      A::AGGREGATION_MEAN, kHigher, "Problem SLA", 0.95, 0.9,
                      "%"));
  k.push_back(ItemKvi(prb, "problem-lead-share", v1::WORK_ITEM_FIELD_LEAD_TIME,
                      A::AGGREGATION_SHARE_AT_MOST, kHigher,
                      "Problems solved within 5 d", 0.9, 0.8, "%"));
  k.back().kvi.set_threshold(5 * kDay);
  {
    KviDef ratio{
        "problem-handoff-ratio",
        BaseKvi(prb, A::AGGREGATION_RATIO, kLower, "Handoffs per problem", ""),
        0.3, 0.5};
    v1::Selection* num = ratio.kvi.mutable_numerator();
    num->set_source(v1::SOURCE_WORK_ITEMS);
    num->set_field(v1::WORK_ITEM_FIELD_HANDOFFS);
    num->set_aggregation(A::AGGREGATION_SUM);
    v1::Selection* den = ratio.kvi.mutable_denominator();
    den->set_source(v1::SOURCE_WORK_ITEMS);
    den->set_field(v1::WORK_ITEM_FIELD_RESOLVED);
    den->set_aggregation(A::AGGREGATION_COUNT);
    k.push_back(std::move(ratio));
  }
  m.kvis.push_back(std::move(k));

  // 100 VLAs, 25 per stream: 3 of the stream's 5 KVIs (the 10 combinations
  // in turn), targets scaled by 0.9 .. 1.1, every other one with the
  // stream's SLA KVI as linked SLA, every 7th with a gating first clause.
  std::vector<std::vector<int>> combos;
  for (int a = 0; a < 5; ++a) {
    for (int b = a + 1; b < 5; ++b) {
      for (int c = b + 1; c < 5; ++c) combos.push_back({a, b, c});
    }
  }
  const double factors[] = {0.9, 0.95, 1.0, 1.05, 1.1};
  for (int j = 0; j < 100; ++j) {
    const int s = j % 4, n = j / 4;
    const StreamDef& sd = m.streams[s];
    v1::Vla vla;
    vla.set_display_name(absl::StrCat(sd.id, " VLA ", n));
    vla.set_value_stream(absl::StrCat("valueStreams/", sd.id));
    vla.set_value_owner(absl::StrCat("teams/", sd.consumer));
    vla.set_consumer(absl::StrCat("teams/", sd.consumer));
    vla.add_providers(absl::StrCat("teams/", sd.providers[n % 3]));
    vla.add_providers(absl::StrCat("teams/", sd.providers[(n + 1) % 3]));
    const double f = factors[(n + n / 10) % 5];
    for (int idx : combos[n % combos.size()]) {
      const KviDef& kd = m.kvis[s][idx];
      v1::Clause* c = vla.add_clauses();
      c->set_kvi(absl::StrCat("kvis/", kd.id));
      c->set_target(kd.target * f);
      c->set_warning(kd.warning * f);
      c->set_weight(idx == 0 ? 2 : 1);
    }
    if (n % 7 == 0) vla.mutable_clauses(0)->set_gating(true);
    if (n % 2 == 0) {
      vla.mutable_sla()->set_kvi(absl::StrCat("kvis/", m.kvis[s][2].id));
      vla.mutable_sla()->set_target(0.8);
    }
    vla.set_state(v1::VLA_STATE_ACTIVE);
    const std::string id = absl::StrCat(sd.id, "-vla-", n);
    m.vla_names.push_back(absl::StrCat("vlas/", id));
    m.vlas.emplace_back(id, std::move(vla));
  }
  return m;
}

// The model as a VMDB change feed, for the in-process evaluator.
std::vector<v1::Change> ModelChanges(const Model& m) {
  std::vector<v1::Change> out;
  auto add = [&](const std::string& name) -> v1::Change& {
    v1::Change& c = out.emplace_back();
    c.set_revision(static_cast<int64_t>(out.size()));
    c.set_kind(v1::CHANGE_KIND_CREATED);
    c.set_name(name);
    return c;
  };
  for (const auto& [id, team] : m.teams) {
    v1::Team* t = add(absl::StrCat("teams/", id)).mutable_team();
    *t = team;
    t->set_name(absl::StrCat("teams/", id));
    t->set_revision(1);
  }
  for (size_t s = 0; s < m.streams.size(); ++s) {
    const std::string name = absl::StrCat("valueStreams/", m.streams[s].id);
    v1::ValueStream* vs = add(name).mutable_value_stream();
    *vs = m.value_streams[s];
    vs->set_name(name);
    vs->set_revision(1);
  }
  for (const auto& per_stream : m.kvis) {
    for (const KviDef& kd : per_stream) {
      const std::string name = absl::StrCat("kvis/", kd.id);
      v1::Kvi* k = add(name).mutable_kvi();
      *k = kd.kvi;
      k->set_name(name);
      k->set_revision(1);
    }
  }
  for (const auto& [id, vla] : m.vlas) {
    const std::string name = absl::StrCat("vlas/", id);
    v1::Vla* v = add(name).mutable_vla();
    *v = vla;
    v->set_name(name);
    v->set_revision(1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Records.
//
// Record i of a generator: in each unit of 20 consecutive records, 14
// observations and the 6 events of one work item. Unit u is placed at
// start + (u + 0.5) * span / units (+- 10 min), so the data replays in time
// order; observations scatter +- 30 min around it; an item's events span its
// lead time (log-uniform 20 min .. 10 d, P1 x 0.3) and are compressed to end
// before `end` - 1 min.

constexpr int kUnit = 20;
constexpr int kObsPerUnit = 14;
constexpr int kEventsPerItem = kUnit - kObsPerUnit;

const char* const kPriorities[] = {"P1", "P2", "P3", "P4"};
const char* const kChannels[] = {"portal", "phone", "email", "chat"};
const char* const kRegions[] = {"emea", "amer", "apac"};
const char* const kReasons[] = {"customer", "vendor", "approval"};

const char* Priority(uint64_t h) {
  const uint64_t p = h % 100;  // 5% P1, 20% P2, 45% P3, 30% P4
  return kPriorities[p < 5 ? 0 : p < 25 ? 1 : p < 70 ? 2 : 3];
}

class RecordGen {
 public:
  RecordGen(const Model* model, absl::Time end, absl::Duration span,
            int64_t total, std::string tag)
      : model_(model),
        end_us_(absl::ToUnixMicros(end)),
        span_us_(absl::ToInt64Microseconds(span)),
        units_(std::max<int64_t>(1, (total + kUnit - 1) / kUnit)),
        tag_(std::move(tag)) {}

  // Appends records [first, first + count).
  void Fill(int64_t first, int64_t count, v1::IngestRequest* out) const {
    for (int64_t i = first; i < first + count; ++i) {
      const int pos = static_cast<int>(i % kUnit);
      if (pos < kObsPerUnit) {
        AddObservation(i, out->add_observations());
      } else {
        AddEvent(i / kUnit, pos - kObsPerUnit, out->add_work_item_events());
      }
    }
  }

 private:
  int64_t UnitTime(int64_t u) const {
    const int64_t start = end_us_ - span_us_;
    int64_t t = start + static_cast<int64_t>((static_cast<double>(u) + 0.5) *
                                             static_cast<double>(span_us_) /
                                             static_cast<double>(units_));
    t += static_cast<int64_t>((U(u, 1) - 0.5) * 1200e6);
    return std::clamp(t, start, end_us_ - 60000000);
  }

  static google::protobuf::Timestamp Ts(int64_t us) {
    return vla::ToProtoTime(absl::FromUnixMicros(us));
  }

  void AddObservation(int64_t i, v1::Observation* o) const {
    const StreamDef& s = model_->streams[H(i, 2) % model_->streams.size()];
    const bool happiness = H(i, 3) % 2 == 0;
    const std::string& signal = happiness ? kHappiness : s.signal;
    o->set_event_id(absl::StrCat("obs-", tag_, "-", i));
    o->set_signal(signal);
    int64_t t =
        UnitTime(i / kUnit) + static_cast<int64_t>((U(i, 4) - 0.5) * 3600e6);
    t = std::clamp(t, end_us_ - span_us_, end_us_ - 60000000);
    *o->mutable_time() = Ts(t);
    const double u = U(i, 5), u2 = U(i, 6);
    double value = 0;
    if (happiness) {  // 0..100, mean about 72
      value =
          std::round(std::clamp(72 + 18 * std::sqrt(-2 * std::log(u + 1e-12)) *
                                         std::cos(6.283185307179586 * u2),
                                0.0, 100.0));
    } else if (signal == "nps") {  // 0..10
      value = u < 0.45  ? 9 + std::floor(u2 * 2)
              : u < 0.8 ? 7 + std::floor(u2 * 2)
                        : std::floor(u2 * 7);
    } else if (signal == "csat") {  // 1..5
      value = u < 0.45 ? 5 : u < 0.8 ? 4 : u < 0.92 ? 3 : u < 0.97 ? 2 : 1;
    } else if (signal == "cost_eur") {
      value = std::round(-120 * std::log(1 - u) * 100) / 100;
    } else {  // effort, 1..7
      value = 1 + std::floor(u * 7);
    }
    o->set_value(value);
    o->set_value_stream(absl::StrCat("valueStreams/", s.id));
    o->set_service(absl::StrCat("svc-", s.id, "-", H(i, 7) % 3));
    auto& labels = *o->mutable_labels();
    labels["priority"] = Priority(H(i, 8));
    labels["channel"] = kChannels[H(i, 9) % 4];
    labels["region"] = kRegions[H(i, 10) % 3];
    labels["source"] = happiness ? "happysignals" : "qualtrics";
    if (signal == "csat") {
      o->set_reporter(absl::StrCat("teams/", H(i, 11) % 2 == 0
                                                 ? s.consumer
                                                 : s.providers[H(i, 12) % 3]));
    }
  }

  void AddEvent(int64_t u, int k, v1::WorkItemEvent* e) const {
    const StreamDef& s = model_->streams[H(u, 20) % model_->streams.size()];
    const std::string item = absl::StrCat(s.item_prefix, tag_, 1000000 + u);
    const char* priority = Priority(H(u, 21));
    const int variant = static_cast<int>(H(u, 22) % 100);
    double lead = std::exp(std::log(1200.0) + U(u, 23) * std::log(720.0));
    if (priority == kPriorities[0]) lead *= 0.3;
    const double assign = 60 + U(u, 24) * 1740;
    const double close = kDay * (1 + U(u, 25) * 2);
    const int a = static_cast<int>(H(u, 26) % 3);
    const int b = (a + 1 + static_cast<int>(H(u, 27) % 2)) % 3;
    const std::string team_a = absl::StrCat("teams/", s.providers[a]);
    const std::string team_b = absl::StrCat("teams/", s.providers[b]);
    const bool sla_met = lead < 3 * kDay ? U(u, 28) < 0.97 : U(u, 28) < 0.5;

    struct Step {
      v1::EventKind kind;
      double at;  // seconds after creation
      const std::string* team = nullptr;
    };
    Step steps[kEventsPerItem];
    using K = v1::EventKind;
    if (variant < 50) {  // plain, with a wait for the customer
      steps[0] = {K::EVENT_KIND_CREATED, 0};
      steps[1] = {K::EVENT_KIND_ASSIGNED, assign, &team_a};
      steps[2] = {K::EVENT_KIND_WAITING, assign + 0.3 * lead};
      steps[3] = {K::EVENT_KIND_ACTIVE, assign + 0.5 * lead};
      steps[4] = {K::EVENT_KIND_RESOLVED, assign + lead};
      steps[5] = {K::EVENT_KIND_CLOSED, assign + lead + close};
    } else if (variant < 75) {  // one handoff, then a wait for a vendor
      steps[0] = {K::EVENT_KIND_CREATED, 0};
      steps[1] = {K::EVENT_KIND_ASSIGNED, assign, &team_a};
      steps[2] = {K::EVENT_KIND_ASSIGNED, assign + 0.4 * lead, &team_b};
      steps[3] = {K::EVENT_KIND_WAITING, assign + 0.5 * lead};
      steps[4] = {K::EVENT_KIND_ACTIVE, assign + 0.7 * lead};
      steps[5] = {K::EVENT_KIND_RESOLVED, assign + lead};
    } else if (variant < 90) {  // resolved, reopened, resolved again
      steps[0] = {K::EVENT_KIND_CREATED, 0};
      steps[1] = {K::EVENT_KIND_ASSIGNED, assign, &team_a};
      steps[2] = {K::EVENT_KIND_RESOLVED, assign + 0.6 * lead};
      steps[3] = {K::EVENT_KIND_REOPENED, assign + 0.7 * lead};
      steps[4] = {K::EVENT_KIND_RESOLVED, assign + lead};
      steps[5] = {K::EVENT_KIND_CLOSED, assign + lead + close};
    } else {  // ping-pong between two teams
      steps[0] = {K::EVENT_KIND_CREATED, 0};
      steps[1] = {K::EVENT_KIND_ASSIGNED, assign, &team_a};
      steps[2] = {K::EVENT_KIND_ASSIGNED, assign + 0.3 * lead, &team_b};
      steps[3] = {K::EVENT_KIND_ASSIGNED, assign + 0.6 * lead, &team_a};
      steps[4] = {K::EVENT_KIND_RESOLVED, assign + lead};
      steps[5] = {K::EVENT_KIND_CLOSED, assign + lead + close};
    }
    const int64_t created = UnitTime(u);
    double last = 0;
    for (const Step& st : steps) last = std::max(last, st.at);
    const double room = static_cast<double>(end_us_ - 60000000 - created) / 1e6;
    const double scale = last > room ? std::max(0.0, room) / last : 1.0;
    const Step& st = steps[k];

    e->set_event_id(absl::StrCat(item, "-", k));
    e->set_item_id(item);
    e->set_item_type(s.item_type);
    e->set_value_stream(absl::StrCat("valueStreams/", s.id));
    e->set_service(absl::StrCat("svc-", s.id, "-", H(u, 29) % 3));
    *e->mutable_time() =
        Ts(created + static_cast<int64_t>(st.at * scale * 1e6));
    e->set_kind(st.kind);
    if (st.team != nullptr) e->set_team(*st.team);
    if (st.kind == v1::EVENT_KIND_WAITING) {
      e->set_reason(kReasons[variant < 50 ? 0 : H(u, 30) % 3]);
    }
    if (st.kind == v1::EVENT_KIND_RESOLVED) {
      e->set_sla_met(sla_met);
      e->set_first_contact(variant < 50 && lead < 4 * 3600);
    }
    auto& labels = *e->mutable_labels();
    labels["priority"] = priority;
    labels["channel"] = kChannels[H(u, 31) % 4];
    labels["region"] = kRegions[H(u, 32) % 3];
    labels["source"] = "servicenow";
  }

  const std::string kHappiness = "happiness";
  const Model* model_;
  int64_t end_us_;
  int64_t span_us_;
  int64_t units_;
  std::string tag_;
};

// ---------------------------------------------------------------------------
// Part: eval (in-process).

// Milliseconds of a run: wall clock and the calling thread's CPU time (the
// second leaves out time spent waiting for a core on a busy machine, and
// the fsync of the evaluations a pass stores).
struct Cost {
  double wall = 0;
  double cpu = 0;
  double max_wall = 0;  // of several runs: the slowest
};

double ThreadCpuMillis() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 +
         static_cast<double>(ts.tv_nsec) / 1e6;
}

// The median costs of `n` calls of `run()`.
template <typename Run>
Cost MedianCost(int n, Run run) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < n; ++i) {
    const double cpu0 = ThreadCpuMillis();
    const Clock::time_point t0 = Clock::now();
    run();
    wall.push_back(Millis(Clock::now() - t0));
    cpu.push_back(ThreadCpuMillis() - cpu0);
  }
  Cost c;
  c.wall = Median(wall);
  c.cpu = Median(cpu);
  c.max_wall = wall.empty() ? 0 : *std::max_element(wall.begin(), wall.end());
  return c;
}

struct PassTimes {
  double cold_ms = 0;  // first pass after loading
  Cost fixed;          // EvaluatePass(true), same instant
  Cost slide;          // EvaluatePass(true), instant moving
  Cost engine_fixed;   // 100 x GetVlaStatus, same instant
  Cost engine_slide;   // 100 x GetVlaStatus, instant moving
  // VLA statuses that changed (published and stored) per sliding pass.
  double slide_changed = 0;
  std::map<std::string, int> states;
  int64_t window_samples = 0;  // samples of the clauses, summed
  // Per KVI: name, median ms of one GetKviValue at the fixed instant, and
  // how many VLAs use it (each VLA computes its KVIs itself).
  struct KviCost {
    std::string kvi;
    double ms = 0;
    int uses = 0;
  };
  std::vector<KviCost> kvi_costs;
};

struct EvalResult {
  bool ran = false;
  int64_t errors = 0;
  int64_t small = 0, big = 0;
  double load_rate_small = 0, load_rate_big = 0;
  double rss_before_mib = 0, rss_small_mib = 0, hwm_small_mib = 0;
  double rss_big_mib = 0, hwm_big_mib = 0;
  PassTimes at_small, at_big;
};

// Loads records [0, count) of `gen` through Evaluator::IngestAsync, batches
// of 10,000 (the largest allowed), up to 4 in flight so the writer thread
// commits groups while this thread generates. Returns records/s.
double LoadEvaluator(vla::evaluator::Evaluator& ev, const RecordGen& gen,
                     int64_t count, const std::string& what, int64_t* errors) {
  constexpr int64_t kBatch = 10000;
  constexpr size_t kInFlight = 4;
  using Result = absl::StatusOr<v1::IngestResponse>;
  struct Pending {
    std::unique_ptr<v1::IngestRequest> batch;
    std::future<Result> done;
  };
  std::deque<Pending> pending;
  int64_t accepted = 0, rejected = 0;
  auto settle = [&] {
    Pending p = std::move(pending.front());
    pending.pop_front();
    Result r = p.done.get();
    if (!r.ok()) {
      if ((*errors)++ == 0) {
        Print(absl::StrCat("  ERROR ingest: ", r.status().ToString()));
      }
      return;
    }
    accepted += r->accepted();
    rejected += r->rejected_size() + r->duplicates();
    if (r->rejected_size() > 0 && *errors == 0) {
      Print(absl::StrCat("  ERROR rejected: ", r->rejected(0).reason()));
    }
    if (r->rejected_size() + r->duplicates() > 0) ++*errors;
  };
  const Clock::time_point t0 = Clock::now();
  Clock::time_point last_print = t0;
  for (int64_t first = 0; first < count; first += kBatch) {
    auto batch = std::make_unique<v1::IngestRequest>();
    gen.Fill(first, std::min(kBatch, count - first), batch.get());
    auto promise = std::make_shared<std::promise<Result>>();
    Pending p{std::move(batch), promise->get_future()};
    ev.IngestAsync(p.batch.get(),
                   [promise](Result r) { promise->set_value(std::move(r)); });
    pending.push_back(std::move(p));
    while (pending.size() >= kInFlight) settle();
    const Clock::time_point now = Clock::now();
    if (now - last_print > std::chrono::seconds(10)) {
      last_print = now;
      Print(absl::StrFormat(
          "  progress: %s %lld / %lld records (%.0f/s)", what,
          static_cast<long long>(first + kBatch), static_cast<long long>(count),
          static_cast<double>(first + kBatch) / Seconds(now - t0)));
    }
  }
  while (!pending.empty()) settle();
  const double s = Seconds(Clock::now() - t0);
  Print(absl::StrFormat(
      "  loaded %s: %lld records accepted, %lld not, in %.1f s (%.0f "
      "records/s, evaluator group commit, no gRPC)",
      what, static_cast<long long>(accepted), static_cast<long long>(rejected),
      s, static_cast<double>(count) / s));
  return static_cast<double>(count) / s;
}

PassTimes MeasurePasses(vla::evaluator::Evaluator& ev, vla::FakeClock& clock,
                        absl::Time at, const Model& m, int passes,
                        absl::Duration slide, int64_t* errors) {
  PassTimes p;
  clock.Set(at);
  Clock::time_point t0 = Clock::now();
  ev.EvaluatePass(true);
  p.cold_ms = Millis(Clock::now() - t0);
  ev.EvaluatePass(true);  // warm-up
  p.fixed = MedianCost(passes, [&] { ev.EvaluatePass(true); });

  auto engine_pass = [&](absl::Time when, bool tally) {
    for (const std::string& name : m.vla_names) {
      absl::StatusOr<v1::VlaStatus> s = ev.GetVlaStatus(name, when);
      if (!s.ok()) {
        if ((*errors)++ == 0) {
          Print(absl::StrCat("  ERROR GetVlaStatus: ", s.status().ToString()));
        }
        continue;
      }
      if (tally) {
        ++p.states[std::string(v1::ComplianceState_Name(s->state()))];
        for (const v1::ClauseStatus& c : s->clauses()) {
          p.window_samples += c.samples();
        }
      }
    }
  };
  engine_pass(at, true);
  p.engine_fixed = MedianCost(passes, [&] { engine_pass(at, false); });

  absl::Time when = at;
  const int64_t published = ev.board().sequence();
  p.slide = MedianCost(passes, [&] {
    when += slide;
    clock.Set(when);
    ev.EvaluatePass(true);
  });
  p.slide_changed =
      static_cast<double>(ev.board().sequence() - published) / passes;
  p.engine_slide = MedianCost(passes, [&] {
    when += slide;
    engine_pass(when, false);
  });

  std::vector<double> times;
  // Where an engine pass goes: each KVI alone, at the fixed instant.
  std::map<std::string, int> uses;
  for (const auto& [id, vla] : m.vlas) {
    for (const v1::Clause& c : vla.clauses()) ++uses[c.kvi()];
    if (vla.has_sla()) ++uses[vla.sla().kvi()];
  }
  for (const auto& [kvi, n] : uses) {
    times.clear();
    for (int r = 0; r < std::max(3, passes / 2); ++r) {
      const Clock::time_point start = Clock::now();
      if (!ev.GetKviValue(kvi, at).ok() && (*errors)++ == 0) {
        Print(absl::StrCat("  ERROR GetKviValue ", kvi));
      }
      times.push_back(Millis(Clock::now() - start));
    }
    p.kvi_costs.push_back({kvi, Median(times), n});
  }
  std::sort(p.kvi_costs.begin(), p.kvi_costs.end(),
            [](const PassTimes::KviCost& a, const PassTimes::KviCost& b) {
              return a.ms * a.uses > b.ms * b.uses;
            });
  return p;
}

void PrintPasses(const std::string& label, const PassTimes& p) {
  std::string states;
  for (const auto& [name, n] : p.states) {
    absl::StrAppend(&states, states.empty() ? "" : " ",
                    absl::string_view(name).substr(strlen("COMPLIANCE_STATE_")),
                    "=", n);
  }
  Print(absl::StrFormat(
      "  %s: pass (EvaluatePass(true)) median %.2f ms (max %.2f; CPU %.2f) "
      "at a fixed instant, %.2f ms (max %.2f; CPU %.2f) sliding; engine only "
      "(100 x GetVlaStatus) %.2f ms (CPU %.2f) fixed, %.2f ms (CPU %.2f) "
      "sliding; %.1f VLA statuses changed (published and stored) per sliding "
      "pass; first pass after loading %.1f ms",
      label, p.fixed.wall, p.fixed.max_wall, p.fixed.cpu, p.slide.wall,
      p.slide.max_wall, p.slide.cpu, p.engine_fixed.wall, p.engine_fixed.cpu,
      p.engine_slide.wall, p.engine_slide.cpu, p.slide_changed, p.cold_ms));
  double total = 0, once = 0;
  std::string top;
  for (size_t i = 0; i < p.kvi_costs.size(); ++i) {
    const PassTimes::KviCost& c = p.kvi_costs[i];
    total += c.ms * c.uses;
    once += c.ms;
    if (i < 6) {
      absl::StrAppendFormat(&top, "%s%s %.3f ms x %d", i ? ", " : "",
                            absl::string_view(c.kvi).substr(5), c.ms, c.uses);
    }
  }
  Print(absl::StrFormat(
      "  %s: one GetKviValue per KVI x its uses sums to %.1f ms per pass "
      "(each KVI once: %.1f ms); largest: %s",
      label, total, once, top));
  Print(absl::StrFormat("  %s: VLA states %s; clause samples summed %lld",
                        label, states,
                        static_cast<long long>(p.window_samples)));
}

// An in-process evaluator in `dir` (no evaluation thread: the bench runs
// the passes) with the definitions of `m`; null, counted in `*errors`, if
// it cannot open.
// Opens the evaluator on `dir` (or on the PostgreSQL database of
// --database, as its only replica, owning every value stream) with the
// model's definitions; null (and errors counted) on failure.
std::unique_ptr<vla::evaluator::Evaluator> OpenEvaluator(const std::string& dir,
                                                         vla::FakeClock* clock,
                                                         const Model& m,
                                                         int64_t* errors) {
  auto fail = [errors](absl::string_view what, const absl::Status& s) {
    Print(absl::StrCat("  ERROR ", what, ": ", s.ToString()));
    ++*errors;
    return nullptr;
  };
  vla::evaluator::EvaluatorOptions options;
  options.run_loop = false;
  const std::string database = absl::GetFlag(FLAGS_database);
  auto store =
      database.empty()
          ? vla::evaluator::OpenSqliteEvaluatorStore(dir + "/evaluator.db")
          : vla::evaluator::OpenPostgresEvaluatorStore(database);
  if (!store.ok()) return fail("open", store.status());
  auto opened =
      vla::evaluator::Evaluator::Open(*std::move(store), clock, options);
  if (!opened.ok()) return fail("open", opened.status());
  std::unique_ptr<vla::evaluator::Evaluator> ev = std::move(*opened);
  if (absl::Status s = ev->ApplyChanges(ModelChanges(m)); !s.ok()) {
    return fail("definitions", s);
  }
  ev->SetDefinitionsReady();
  if (!database.empty()) {
    // One replica: it owns every value stream once its leases are taken.
    vla::evaluator::ReplicationOptions replication;
    replication.address = "127.0.0.1:1";  // never forwarded to
    if (absl::Status s = ev->StartReplication(replication); !s.ok()) {
      return fail("replication", s);
    }
    for (const std::string& name : m.vla_names) {
      if (ev->RouteOf(name, absl::Seconds(20)).kind !=
          vla::evaluator::Replication::Route::Kind::kLocal) {
        return fail(name, absl::DeadlineExceededError("not owned after 20 s"));
      }
    }
    Print(absl::StrCat("  store: PostgreSQL ", vla::pg::RedactDsn(database)));
  }
  return ev;
}

EvalResult RunEvalPart(const Model& m, const std::string& tmp_dir,
                       int64_t small, int64_t big, int passes,
                       absl::Duration slide) {
  EvalResult r;
  r.ran = true;
  r.small = small;
  r.big = big;
  r.rss_before_mib = ProcStatusMib("VmRSS");
  // 2026-03-01 12:17:23 UTC: not on a minute, hour or day boundary.
  const absl::Time at =
      absl::FromUnixSeconds(1772323200 + 12 * 3600 + 17 * 60 + 23);
  vla::FakeClock clock(at);
  std::string dir = absl::StrCat(tmp_dir, "/evaluator_bench_eval.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    r.errors++;
    return r;
  }
  Print(absl::StrFormat(
      "[eval] in-process Evaluator in %s (run_loop=false), instant %s, "
      "records over the 40 days before it; RSS before %.0f MiB",
      dir, absl::FormatTime(at, absl::UTCTimeZone()), r.rss_before_mib));
  {
    std::unique_ptr<vla::evaluator::Evaluator> ev =
        OpenEvaluator(dir, &clock, m, &r.errors);
    if (ev == nullptr) return r;

    RecordGen small_gen(&m, at, absl::Hours(24 * 40), small, "a");
    r.load_rate_small =
        LoadEvaluator(*ev, small_gen, small, "small set", &r.errors);
    r.rss_small_mib = ProcStatusMib("VmRSS");
    r.hwm_small_mib = ProcStatusMib("VmHWM");
    Print(absl::StrFormat(
        "  memory after %lld records: VmRSS %.0f MiB, "
        "VmHWM %.0f MiB",
        static_cast<long long>(small), r.rss_small_mib, r.hwm_small_mib));
    r.at_small = MeasurePasses(*ev, clock, at, m, passes, slide, &r.errors);
    PrintPasses(absl::StrCat(small, " records"), r.at_small);

    if (big > small) {
      RecordGen more_gen(&m, at, absl::Hours(24 * 40), big - small, "b");
      r.load_rate_big = LoadEvaluator(*ev, more_gen, big - small,
                                      "rest of the big set", &r.errors);
      r.rss_big_mib = ProcStatusMib("VmRSS");
      Print(absl::StrFormat(
          "  memory after %lld records: VmRSS %.0f MiB, "
          "VmHWM %.0f MiB",
          static_cast<long long>(big), r.rss_big_mib, ProcStatusMib("VmHWM")));
      r.at_big = MeasurePasses(*ev, clock, at, m, passes, slide, &r.errors);
      PrintPasses(absl::StrCat(big, " records"), r.at_big);
      r.hwm_big_mib = ProcStatusMib("VmHWM");
      Print(absl::StrFormat(
          "  memory at %lld records after the passes: "
          "VmRSS %.0f MiB, VmHWM (peak) %.0f MiB",
          static_cast<long long>(big), ProcStatusMib("VmRSS"), r.hwm_big_mib));
    }
    ev->Shutdown();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

// ---------------------------------------------------------------------------
// Part: history (GetVlaReport, GetKviSeries) on two years of records.

// The 10-clause VLA of the report: the KVIs of the first two streams.
std::pair<std::string, v1::Vla> ReportVla(const Model& m) {
  v1::Vla vla = m.vlas.front().second;
  vla.set_display_name("10-clause report VLA");
  vla.clear_clauses();
  vla.clear_sla();
  for (int s = 0; s < 2; ++s) {
    for (const KviDef& kd : m.kvis[s]) {
      v1::Clause* c = vla.add_clauses();
      c->set_kvi(absl::StrCat("kvis/", kd.id));
      c->set_target(kd.target);
      c->set_warning(kd.warning);
    }
  }
  vla.mutable_sla()->set_kvi(absl::StrCat("kvis/", m.kvis[0][2].id));
  vla.mutable_sla()->set_target(0.8);
  return {"report-vla", std::move(vla)};
}

constexpr char kReportVla[] = "vlas/report-vla";
constexpr char kSeriesKvi[] = "kvis/incident-lead-p90";  // rolling 30 d p90
constexpr int kSeriesPoints = 1000;
constexpr int kReportMonths = 24;

struct HistoryTimes {
  double report_cold_ms = 0;  // the first report after loading
  Cost report;                // 24 monthly periods of the 10-clause VLA
  double series_cold_ms = 0;
  Cost series_hourly;  // 1,000 points an hour apart
  Cost series_spread;  // 1,000 points over the two years
  int periods = 0, points = 0;
  int64_t evaluations_in_report = 0;
};

struct HistoryResult {
  bool ran = false;
  int64_t errors = 0;
  int64_t small = 0, big = 0;
  int64_t passes_published = 0;  // daily passes over the two years
  double publish_seconds = 0;
  HistoryTimes at_small, at_big;
};

HistoryTimes MeasureHistory(vla::evaluator::Evaluator& ev, absl::Time at,
                            int runs, int64_t* errors) {
  HistoryTimes h;
  const absl::Time first_month = absl::FromCivil(
      absl::ToCivilMonth(at, absl::UTCTimeZone()) - (kReportMonths - 1),
      absl::UTCTimeZone());
  auto report = [&] {
    absl::StatusOr<v1::VlaReport> r = ev.GetVlaReport(
        kReportVla, v1::CALENDAR_PERIOD_MONTH, "UTC", first_month, at);
    if (!r.ok()) {
      if ((*errors)++ == 0) {
        Print(absl::StrCat("  ERROR GetVlaReport: ", r.status().ToString()));
      }
      return;
    }
    h.periods = r->periods_size();
    h.evaluations_in_report = 0;
    for (const v1::PeriodReport& p : r->periods()) {
      h.evaluations_in_report += p.evaluations();
    }
  };
  auto series = [&](absl::Duration step) {
    absl::StatusOr<v1::KviSeries> s =
        ev.GetKviSeries(kSeriesKvi, at - step * kSeriesPoints, at, step);
    if (!s.ok()) {
      if ((*errors)++ == 0) {
        Print(absl::StrCat("  ERROR GetKviSeries: ", s.status().ToString()));
      }
      return;
    }
    h.points = s->points_size();
  };
  Clock::time_point t0 = Clock::now();
  report();
  h.report_cold_ms = Millis(Clock::now() - t0);
  h.report = MedianCost(runs, report);
  t0 = Clock::now();
  series(absl::Hours(1));
  h.series_cold_ms = Millis(Clock::now() - t0);
  h.series_hourly = MedianCost(runs, [&] { series(absl::Hours(1)); });
  const absl::Duration spread = absl::Hours(24 * 730) / kSeriesPoints;
  h.series_spread = MedianCost(runs, [&] { series(spread); });
  return h;
}

void PrintHistory(const std::string& label, const HistoryTimes& h) {
  Print(absl::StrFormat(
      "  %s: GetVlaReport (%d months, 10 clauses, %lld evaluations) median "
      "%.2f ms (max %.2f; CPU %.2f), first %.1f ms; GetKviSeries (%d points "
      "of a rolling 30 d p90) hourly median %.2f ms (max %.2f; CPU %.2f), "
      "first %.1f ms; over two years %.2f ms (CPU %.2f)",
      label, h.periods, static_cast<long long>(h.evaluations_in_report),
      h.report.wall, h.report.max_wall, h.report.cpu, h.report_cold_ms,
      h.points, h.series_hourly.wall, h.series_hourly.max_wall,
      h.series_hourly.cpu, h.series_cold_ms, h.series_spread.wall,
      h.series_spread.cpu));
}

// An evaluator whose records span the two years before `at`, with the
// model plus the 10-clause VLA and a published history: a pass a day over
// the two years (older evaluations pruned after 400 days, as in vlad).
HistoryResult RunHistoryPart(const Model& model, const std::string& tmp_dir,
                             int64_t small, int64_t big, int runs) {
  HistoryResult r;
  r.ran = true;
  r.small = small;
  r.big = big;
  const absl::Time at =
      absl::FromUnixSeconds(1772323200 + 12 * 3600 + 17 * 60 + 23);
  const absl::Duration span = absl::Hours(24 * 730);
  vla::FakeClock clock(at);
  std::string dir = absl::StrCat(tmp_dir, "/evaluator_bench_history.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    r.errors++;
    return r;
  }
  Print(absl::StrFormat(
      "[history] in-process Evaluator in %s, records over the 730 days "
      "before %s",
      dir, absl::FormatTime(at, absl::UTCTimeZone())));
  {
    Model m = model;
    auto [id, vla] = ReportVla(model);
    m.vla_names.push_back(absl::StrCat("vlas/", id));
    m.vlas.emplace_back(id, std::move(vla));
    std::unique_ptr<vla::evaluator::Evaluator> ev =
        OpenEvaluator(dir, &clock, m, &r.errors);
    if (ev == nullptr) return r;
    RecordGen small_gen(&m, at, span, small, "h");
    LoadEvaluator(*ev, small_gen, small, "small set", &r.errors);
    const Clock::time_point t0 = Clock::now();
    for (absl::Time t = at - span; t <= at; t += absl::Hours(24)) {
      clock.Set(t);
      ev->EvaluatePass(true);
      ++r.passes_published;
    }
    clock.Set(at);
    ev->EvaluatePass(true);
    r.publish_seconds = Seconds(Clock::now() - t0);
    Print(absl::StrFormat("  %lld daily passes published in %.1f s",
                          static_cast<long long>(r.passes_published),
                          r.publish_seconds));
    r.at_small = MeasureHistory(*ev, at, runs, &r.errors);
    PrintHistory(absl::StrCat(small, " records"), r.at_small);
    if (big > small) {
      RecordGen more_gen(&m, at, span, big - small, "i");
      LoadEvaluator(*ev, more_gen, big - small, "rest of the big set",
                    &r.errors);
      r.at_big = MeasureHistory(*ev, at, runs, &r.errors);
      PrintHistory(absl::StrCat(big, " records"), r.at_big);
    }
    ev->Shutdown();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

// ---------------------------------------------------------------------------
// Part: grpc (raw SQLite baseline, Ingest, GetVlaStatus).

struct RowData {
  std::string event_id;
  int kind;
  std::string data;
};

std::vector<RowData> MakeRows(const RecordGen& gen, int64_t first,
                              int64_t count) {
  std::vector<RowData> rows;
  rows.reserve(count);
  v1::IngestRequest batch;
  for (int64_t at = first; at < first + count; at += 1000) {
    batch.Clear();
    gen.Fill(at, std::min<int64_t>(1000, first + count - at), &batch);
    for (const v1::Observation& o : batch.observations()) {
      rows.push_back(
          {o.event_id(), v1::RECORD_KIND_OBSERVATION, o.SerializeAsString()});
    }
    for (const v1::WorkItemEvent& e : batch.work_item_events()) {
      rows.push_back({e.event_id(), v1::RECORD_KIND_WORK_ITEM_EVENT,
                      e.SerializeAsString()});
    }
  }
  return rows;
}

// Inserts `rows` into a fresh database at `path`, `per_tx` rows per
// transaction, WAL and synchronous=FULL. Returns rows/s, or -1 on error.
double RawSqliteRate(const std::string& path, const std::vector<RowData>& rows,
                     int per_tx, bool store_schema) {
  try {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    if (store_schema) {
      // The evaluator store's records table and statement.
      db.exec(
          "CREATE TABLE records (event_id TEXT PRIMARY KEY, kind INTEGER NOT "
          "NULL, data BLOB NOT NULL) WITHOUT ROWID");
    } else {
      db.exec("CREATE TABLE records (event_id TEXT, kind INTEGER, data BLOB)");
    }
    SQLite::Statement insert(
        db, store_schema ? "INSERT INTO records (event_id, kind, data) VALUES "
                           "(?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
                         : "INSERT INTO records (event_id, kind, data) VALUES "
                           "(?, ?, ?)");
    const Clock::time_point t0 = Clock::now();
    for (size_t first = 0; first < rows.size(); first += per_tx) {
      SQLite::Transaction tx(db);
      const size_t end = std::min(rows.size(), first + per_tx);
      for (size_t i = first; i < end; ++i) {
        insert.bind(1, rows[i].event_id);
        insert.bind(2, rows[i].kind);
        insert.bind(3, rows[i].data.data(),
                    static_cast<int>(rows[i].data.size()));
        insert.exec();
        insert.reset();
      }
      tx.commit();
    }
    return static_cast<double>(rows.size()) / Seconds(Clock::now() - t0);
  } catch (const SQLite::Exception& e) {
    Print(absl::StrCat("  ERROR sqlite: ", e.what()));
    return -1;
  }
}

struct IngestSetting {
  int streams = 0;
  int64_t records = 0;
  int64_t batches = 0;
  double seconds = 0;
  double rate = 0;
  double prepare_seconds = 0;
  double ack_p50_ms = 0, ack_p99_ms = 0;
  int64_t errors = 0;
  std::string first_error;
};

struct StreamOutcome {
  int64_t accepted = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<double> ack_ms;
};

// Sends `batches` (pre-serialized IngestRequests of `sizes` records) on one
// Ingest stream with the generic async API, up to `window` unacknowledged,
// and checks every acknowledgement.
StreamOutcome RunIngestStream(const std::shared_ptr<grpc::Channel>& channel,
                              const std::vector<grpc::ByteBuffer>& batches,
                              const std::vector<int>& sizes, int window) {
  StreamOutcome out;
  enum Tag : intptr_t { kStart = 1, kWrite, kWritesDone, kRead, kFinish };
  auto tag = [](Tag t) { return reinterpret_cast<void*>(t); };
  auto fail = [&](const std::string& why) {
    if (out.errors++ == 0) out.first_error = why;
  };
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kStreamDeadline);
  grpc::GenericStub stub(channel);
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&ctx, "/vla.v1.EvaluationService/Ingest", &cq);
  call->StartCall(tag(kStart));

  const size_t n = batches.size();
  std::vector<Clock::time_point> sent(n);
  size_t next = 0, acked = 0;
  bool write_busy = true, read_busy = false, writes_done = false;
  bool failed = false, finish_started = false, finished = false;
  grpc::ByteBuffer in;
  grpc::Status status;
  auto maybe_write = [&] {
    if (write_busy || failed) return;
    if (next < n && next - acked < static_cast<size_t>(window)) {
      sent[next] = Clock::now();
      call->Write(batches[next], tag(kWrite));
      ++next;
      write_busy = true;
    } else if (next == n && !writes_done) {
      call->WritesDone(tag(kWritesDone));
      writes_done = true;
      write_busy = true;
    }
  };
  void* got = nullptr;
  bool ok = false;
  while (!finished && cq.Next(&got, &ok)) {
    switch (static_cast<Tag>(reinterpret_cast<intptr_t>(got))) {
      case kStart:
        write_busy = false;
        if (!ok) {
          failed = true;
          break;
        }
        call->Read(&in, tag(kRead));
        read_busy = true;
        maybe_write();
        break;
      case kWrite:
      case kWritesDone:
        write_busy = false;
        if (!ok) failed = true;
        maybe_write();
        break;
      case kRead: {
        read_busy = false;
        if (!ok) {
          failed = true;  // The server ended the stream early.
          break;
        }
        v1::IngestResponse resp;
        if (!grpc::SerializationTraits<v1::IngestResponse>::Deserialize(&in,
                                                                        &resp)
                 .ok()) {
          fail("cannot parse an IngestResponse");
        } else if (acked < n) {
          out.accepted += resp.accepted();
          if (resp.accepted() != sizes[acked] || resp.rejected_size() > 0 ||
              resp.duplicates() > 0) {
            fail(absl::StrCat(
                "batch ", acked, ": accepted ", resp.accepted(), " of ",
                sizes[acked], ", duplicates ", resp.duplicates(),
                resp.rejected_size() > 0
                    ? absl::StrCat(", rejected: ", resp.rejected(0).reason())
                    : ""));
          }
          out.ack_ms.push_back(Millis(Clock::now() - sent[acked]));
        }
        ++acked;
        if (acked < n && !failed) {
          call->Read(&in, tag(kRead));
          read_busy = true;
        }
        maybe_write();
        break;
      }
      case kFinish:
        finished = true;
        if (!status.ok()) {
          fail(absl::StrCat("stream ended with ", status.error_code(), ": ",
                            status.error_message()));
        }
        break;
    }
    if (finish_started) continue;
    if (failed && (write_busy || read_busy)) {
      ctx.TryCancel();  // Outstanding operations then complete with !ok.
      continue;
    }
    if (!write_busy && !read_busy && (failed || (acked == n && writes_done))) {
      finish_started = true;
      call->Finish(&status, tag(kFinish));
    }
  }
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
  if (acked != n) {
    fail(absl::StrCat("stream failed: ", acked, " of ", n,
                      " batches acknowledged"));
  }
  return out;
}

// --- Closed-loop unary phases (as in vmdb_bench) ---

class NoopEvaluationService final
    : public v1::EvaluationService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetVlaStatus(grpc::CallbackServerContext* ctx,
                                         const v1::GetVlaStatusRequest*,
                                         v1::VlaStatus*) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

using vla::bench::PhaseLine;
using vla::bench::PhaseResult;
using vla::bench::RunPhase;

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count) {
  return vla::bench::MakeChannels(target, count, 64 << 20,
                                  /*wait_connected=*/true);
}

// One phase from alternating rounds of it: calls and seconds summed, the
// median of the rounds' p50 and the worst p99.
PhaseResult CombineRounds(const std::vector<PhaseResult>& rounds) {
  PhaseResult all = rounds.front();
  all.calls = 0;
  all.seconds = 0;
  all.errors = 0;
  std::vector<double> p50s;
  for (const PhaseResult& r : rounds) {
    all.calls += r.calls;
    all.seconds += r.seconds;
    all.errors += r.errors;
    all.p99_us = std::max(all.p99_us, r.p99_us);
    if (all.first_error.empty()) all.first_error = r.first_error;
    p50s.push_back(r.p50_us);
  }
  std::sort(p50s.begin(), p50s.end());
  all.p50_us = p50s[p50s.size() / 2];
  all.rate = all.seconds > 0 ? static_cast<double>(all.calls) / all.seconds : 0;
  return all;
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return ctx;
}

// --- WatchVlaStatuses with many subscribers while every VLA changes ---

// When each VLA revision was sent (UpdateVla), by VLA index and revision.
class RevisionTimes {
 public:
  static constexpr int kMaxRevision = 4096;
  explicit RevisionTimes(int vlas)
      : ns_(static_cast<size_t>(vlas) * kMaxRevision) {}
  void Set(int vla, int64_t revision, int64_t ns) {
    if (revision > 0 && revision < kMaxRevision) {
      ns_[Index(vla, revision)].store(ns, std::memory_order_release);
    }
  }
  int64_t Get(int vla, int64_t revision) const {
    if (revision <= 0 || revision >= kMaxRevision) return 0;
    return ns_[Index(vla, revision)].load(std::memory_order_acquire);
  }
  // Keeps the smaller (larger) of the time stored and `ns`.
  void Min(int vla, int64_t revision, int64_t ns) {
    Keep(vla, revision, ns, [](int64_t a, int64_t b) { return a < b; });
  }
  void Max(int vla, int64_t revision, int64_t ns) {
    Keep(vla, revision, ns, [](int64_t a, int64_t b) { return a > b; });
  }

 private:
  template <typename Better>
  void Keep(int vla, int64_t revision, int64_t ns, Better better) {
    if (revision <= 0 || revision >= kMaxRevision) return;
    std::atomic<int64_t>& slot = ns_[Index(vla, revision)];
    int64_t old = slot.load();
    while ((old == 0 || better(ns, old)) &&
           !slot.compare_exchange_weak(old, ns)) {
    }
  }
  static size_t Index(int vla, int64_t revision) {
    return static_cast<size_t>(vla) * kMaxRevision +
           static_cast<size_t>(revision);
  }
  std::vector<std::atomic<int64_t>> ns_;
};

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

struct WatchShared {
  const std::map<std::string, int>* index = nullptr;  // VLA name -> index
  const RevisionTimes* sent = nullptr;
  // When the first and the last subscriber got each revision of the first
  // VLA: a pass's fan-out to every subscriber.
  RevisionTimes* first_seen = nullptr;
  RevisionTimes* last_seen = nullptr;
  std::atomic<int> attached{0};
  std::atomic<int> ended{0};
  std::atomic<int64_t> delivered{0};  // change events (not the snapshot)
  std::atomic<int64_t> messages{0};   // messages carrying them
  std::atomic<int64_t> last_delivery_ns{0};
};

// One WatchVlaStatuses subscriber: the last revision seen per VLA, and the
// latency from each update to its event.
class VlaWatcher final
    : public vla::bench::AsyncWatcher<v1::WatchVlaStatusesResponse> {
 public:
  VlaWatcher(WatchShared* shared, int vlas) : shared_(shared), last_(vlas) {
    for (auto& r : last_) r.store(0);
  }
  int64_t Last(int vla) const { return last_[vla].load(); }
  const std::vector<int32_t>& latencies_us() const { return latencies_us_; }

 protected:
  void OnMessage(const v1::WatchVlaStatusesResponse& message) override {
    int64_t changes = 0;
    const int64_t now = SteadyNs();
    for (const v1::VlaStatusEvent& e : message.events()) {
      if (e.snapshot_complete()) {
        shared_->attached.fetch_add(1);
        continue;
      }
      auto it = shared_->index->find(e.status().vla());
      if (it == shared_->index->end() || e.removed()) continue;
      last_[it->second].store(e.status().vla_revision());
      if (e.snapshot()) continue;
      ++changes;
      if (it->second == 0) {
        shared_->first_seen->Min(0, e.status().vla_revision(), now);
        shared_->last_seen->Max(0, e.status().vla_revision(), now);
      }
      const int64_t sent =
          shared_->sent->Get(it->second, e.status().vla_revision());
      if (sent > 0) {
        latencies_us_.push_back(static_cast<int32_t>((now - sent) / 1000));
      }
    }
    if (changes > 0) {
      shared_->delivered.fetch_add(changes);
      shared_->messages.fetch_add(1);
      shared_->last_delivery_ns.store(now);
    }
  }
  void OnEnd() override { shared_->ended.fetch_add(1); }

 private:
  WatchShared* shared_;
  std::vector<std::atomic<int64_t>> last_;
  std::vector<int32_t> latencies_us_;
};

struct WatchResult {
  bool ran = false;
  int subscribers = 0;
  double attach_s = 0;
  int64_t updates = 0;            // UpdateVla calls (each a change of one VLA)
  double update_s = 0;            // how long they took
  int64_t delivered = 0;          // change events received, all subscribers
  int64_t messages = 0;           // messages carrying them
  double deliver_s = 0;           // first update to last delivery
  double p50_ms = 0, p99_ms = 0;  // update sent -> event received
  // A pass's fan-out: first to last subscriber getting its change of the
  // first VLA (median and max over the passes).
  double fanout_p50_ms = 0, fanout_max_ms = 0;
  int vlas = 0;
  double cpu_s = 0;  // this process (server and subscribers)
  bool caught_up = false;
};

std::string WatchLine(const WatchResult& w) {
  return absl::StrFormat(
      "watch: %d subscribers attached in %.2f s; %lld VLA updates in %.1f s "
      "(%.0f/s, each a change of one VLA for every subscriber); delivered "
      "%lld events in %lld messages (%.1f per message) in %.2f s = %.0f "
      "events/s; update -> event p50 %.0f ms, p99 %.0f ms (includes the "
      "evaluation debounce); a pass's fan-out (first to last subscriber) "
      "p50 %.0f ms, max %.0f ms = %.0f events/s while it lasts; process CPU "
      "%.1f s (%.2f us per event)%s",
      w.subscribers, w.attach_s, static_cast<long long>(w.updates), w.update_s,
      w.update_s > 0 ? w.updates / w.update_s : 0.0,
      static_cast<long long>(w.delivered), static_cast<long long>(w.messages),
      w.messages > 0 ? static_cast<double>(w.delivered) / w.messages : 0.0,
      w.deliver_s, w.deliver_s > 0 ? w.delivered / w.deliver_s : 0.0, w.p50_ms,
      w.p99_ms, w.fanout_p50_ms, w.fanout_max_ms,
      w.fanout_p50_ms > 0
          ? w.subscribers * static_cast<double>(w.vlas) / w.fanout_p50_ms * 1e3
          : 0.0,
      w.cpu_s, w.delivered > 0 ? w.cpu_s * 1e6 / w.delivered : 0.0,
      w.caught_up ? "" : " (NOT caught up)");
}

struct GrpcResult {
  bool ran = false;
  int64_t errors = 0;
  double payload_bytes = 0;  // mean serialized record size
  int64_t raw_rows = 0;
  // Unindexed table, before and after the ingest settings (disk syncs vary
  // from run to run); the baseline is the faster of the two.
  double raw_rate_before = 0, raw_rate_after = 0, raw_rate = 0;
  double raw_store_rate = 0;  // the evaluator store's schema (info)
  double parse_us = 0;        // per record, single thread (info)
  double engine_us = 0;       // Check + Add per record (info)
  std::vector<IngestSetting> settings;
  IngestSetting best;
  std::map<std::string, int> states;
  PhaseResult noop, status;
  WatchResult watch;
};

void CountError(GrpcResult& r, const std::string& what) {
  if (r.errors++ == 0) Print(absl::StrCat("  ERROR ", what));
}

// Creates the model through VmdbService.
bool CreateModel(v1::VmdbService::Stub& vmdb, const Model& m, GrpcResult& r) {
  auto check = [&](const grpc::Status& s, const std::string& what) {
    if (!s.ok()) {
      CountError(r, absl::StrCat("creating ", what, ": ", s.error_message()));
    }
    return s.ok();
  };
  for (const auto& [id, team] : m.teams) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    *req.mutable_team() = team;
    v1::Team out;
    if (!check(vmdb.CreateTeam(Ctx().get(), req, &out), id)) return false;
  }
  for (size_t s = 0; s < m.streams.size(); ++s) {
    v1::CreateValueStreamRequest req;
    req.set_value_stream_id(m.streams[s].id);
    *req.mutable_value_stream() = m.value_streams[s];
    v1::ValueStream out;
    if (!check(vmdb.CreateValueStream(Ctx().get(), req, &out),
               m.streams[s].id)) {
      return false;
    }
  }
  for (const auto& per_stream : m.kvis) {
    for (const KviDef& kd : per_stream) {
      v1::CreateKviRequest req;
      req.set_kvi_id(kd.id);
      *req.mutable_kvi() = kd.kvi;
      v1::Kvi out;
      if (!check(vmdb.CreateKvi(Ctx().get(), req, &out), kd.id)) return false;
    }
  }
  for (const auto& [id, vla] : m.vlas) {
    v1::CreateVlaRequest req;
    req.set_vla_id(id);
    *req.mutable_vla() = vla;
    v1::Vla out;
    if (!check(vmdb.CreateVla(Ctx().get(), req, &out), id)) return false;
  }
  return true;
}

// Single-threaded costs of the ingest path's pieces, without gRPC: parsing a
// batch and the engine's Check + Add (on a fresh Engine).
void MeasureIngestPieces(const Model& m, const RecordGen& gen, int64_t count,
                         int batch, GrpcResult& r) {
  std::vector<std::string> wire;
  for (int64_t first = 0; first < count; first += batch) {
    v1::IngestRequest req;
    gen.Fill(first, std::min<int64_t>(batch, count - first), &req);
    wire.push_back(req.SerializeAsString());
  }
  std::vector<v1::IngestRequest> parsed(wire.size());
  Clock::time_point t0 = Clock::now();
  for (size_t i = 0; i < wire.size(); ++i) parsed[i].ParseFromString(wire[i]);
  r.parse_us = Seconds(Clock::now() - t0) * 1e6 / static_cast<double>(count);

  vla::evaluator::Engine engine(vla::Clock::Real());
  for (const v1::Change& c : ModelChanges(m)) engine.ApplyChange(c);
  t0 = Clock::now();
  int64_t bad = 0, seq = 0;
  for (const v1::IngestRequest& req : parsed) {
    std::vector<vla::evaluator::IngestRecord> records =
        vla::evaluator::RecordsOf(req);
    engine.Check(absl::MakeSpan(records));
    for (auto& rec : records) {
      rec.seq = rec.check.ok() ? ++seq : 0;
      if (!rec.check.ok()) ++bad;
    }
    engine.Add(records);
  }
  r.engine_us = Seconds(Clock::now() - t0) * 1e6 / static_cast<double>(count);
  if (bad > 0) CountError(r, absl::StrCat(bad, " records fail Engine::Check"));
}

IngestSetting RunIngestSetting(const std::string& target, const RecordGen& gen,
                               int64_t first, int64_t count, int batch,
                               int streams, int window) {
  IngestSetting st;
  st.streams = streams;
  st.records = count;
  // Serialize every request first: the client then only does gRPC.
  const Clock::time_point p0 = Clock::now();
  std::vector<std::vector<grpc::ByteBuffer>> buffers(streams);
  std::vector<std::vector<int>> sizes(streams);
  int64_t b = 0;
  for (int64_t at = first; at < first + count; at += batch, ++b) {
    const int n =
        static_cast<int>(std::min<int64_t>(batch, first + count - at));
    v1::IngestRequest req;
    gen.Fill(at, n, &req);
    grpc::Slice slice(req.SerializeAsString());
    buffers[b % streams].emplace_back(&slice, 1);
    sizes[b % streams].push_back(n);
  }
  st.batches = b;
  st.prepare_seconds = Seconds(Clock::now() - p0);
  std::vector<std::shared_ptr<grpc::Channel>> channels =
      MakeChannels(target, streams);

  std::vector<StreamOutcome> outcomes(streams);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  for (int k = 0; k < streams; ++k) {
    threads.emplace_back([&, k] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      outcomes[k] = RunIngestStream(channels[k], buffers[k], sizes[k], window);
    });
  }
  while (ready.load() < streams) std::this_thread::yield();
  const Clock::time_point t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  st.seconds = Seconds(Clock::now() - t0);
  st.rate = static_cast<double>(count) / st.seconds;
  std::vector<double> acks;
  for (const StreamOutcome& o : outcomes) {
    acks.insert(acks.end(), o.ack_ms.begin(), o.ack_ms.end());
    st.errors += o.errors;
    if (st.first_error.empty()) st.first_error = o.first_error;
  }
  std::sort(acks.begin(), acks.end());
  if (!acks.empty()) {
    st.ack_p50_ms = acks[(acks.size() - 1) / 2];
    st.ack_p99_ms = acks[static_cast<size_t>(0.99 * (acks.size() - 1))];
  }
  return st;
}

std::string SettingLine(const IngestSetting& s) {
  std::string line = absl::StrFormat(
      "streams=%d records=%lld batches=%lld in %.2f s: %.0f records/s; "
      "batch ack p50=%.1f ms p99=%.1f ms (requests serialized beforehand in "
      "%.2f s)  errors=%lld",
      s.streams, static_cast<long long>(s.records),
      static_cast<long long>(s.batches), s.seconds, s.rate, s.ack_p50_ms,
      s.ack_p99_ms, s.prepare_seconds, static_cast<long long>(s.errors));
  if (s.errors > 0) absl::StrAppend(&line, " (first: ", s.first_error, ")");
  return line;
}

// Server options for the benchmark's servers (the flags' debounce and
// tick), data in `data_dir`.
vla::ServerOptions ServerOptionsIn(const std::string& data_dir) {
  vla::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = data_dir;
  options.shutdown_grace = absl::Seconds(1);
  options.evaluation_debounce =
      absl::Milliseconds(absl::GetFlag(FLAGS_debounce_ms));
  options.evaluation_tick = absl::Seconds(absl::GetFlag(FLAGS_tick_seconds));
  return options;
}

std::unique_ptr<vla::Server> StartServer(const vla::ServerOptions& options,
                                         GrpcResult& r) {
  auto started = vla::Server::Start(options);
  if (!started.ok()) {
    CountError(r, absl::StrCat("cannot start the server: ",
                               started.status().ToString()));
    return nullptr;
  }
  return std::move(*started);
}

// Creates the model on the server at `target` and waits until the evaluator
// has it: ingest answers UNAVAILABLE until the definitions are loaded, and
// GetVlaStatus NOT_FOUND for a VLA it does not know yet.
bool CreateModelAndWait(const std::string& target, const Model& m,
                        GrpcResult& r) {
  std::shared_ptr<grpc::Channel> channel = MakeChannels(target, 1)[0];
  auto vmdb = v1::VmdbService::NewStub(channel);
  auto eval = v1::EvaluationService::NewStub(channel);
  if (!CreateModel(*vmdb, m, r)) return false;
  for (int i = 0; i < 3000; ++i) {
    v1::IngestResponse resp;
    v1::VlaStatus st;
    v1::GetVlaStatusRequest req;
    req.set_vla(m.vla_names.back());
    if (eval->IngestBatch(Ctx().get(), v1::IngestRequest(), &resp).ok() &&
        eval->GetVlaStatus(Ctx().get(), req, &st).ok()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CountError(r, "the evaluator did not load the definitions in 30 s");
  return false;
}

// On a server of its own (data in --watch_dir, a tmpfs by default, so that
// the VLA updates that drive it cost no disk syncs; --watch_records records
// so that statuses carry real values): `subscribers` WatchVlaStatuses
// streams over `channel_count` connections, then rounds for `seconds`: every
// VLA updated (a new description: a new revision, so its status changes in
// the next pass), then a wait until the first subscriber has the round's
// revisions (the pass has published them: each pass changes all the VLAs);
// then until every subscriber has every VLA's last revision.
WatchResult RunWatchPhase(const Model& m, const RecordGen& gen,
                          int64_t gen_records, int subscribers,
                          int channel_count, double seconds, GrpcResult& gr) {
  WatchResult r;
  r.ran = true;
  r.subscribers = subscribers;
  auto fail = [&](const std::string& e) { CountError(gr, e); };
  std::string dir =
      absl::StrCat(absl::GetFlag(FLAGS_watch_dir), "/evaluator_bench.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    fail(absl::StrCat("mkdtemp ", dir, ": ", std::strerror(errno)));
    return r;
  }
  vla::ServerOptions options = ServerOptionsIn(dir);
  options.evaluation_debounce =
      absl::Milliseconds(absl::GetFlag(FLAGS_watch_debounce_ms));
  std::unique_ptr<vla::Server> server = StartServer(options, gr);
  if (server == nullptr) return r;
  const std::string target = absl::StrCat("127.0.0.1:", server->port());
  const int64_t records =
      std::min<int64_t>(absl::GetFlag(FLAGS_watch_records), gen_records);
  Print(absl::StrFormat(
      "[watch] a server of its own (data in %s, evaluation debounce %s), "
      "%lld records; %d WatchVlaStatuses subscribers over %d connections; "
      "then for %.1f s rounds: every VLA updated, then its pass awaited",
      dir, absl::FormatDuration(options.evaluation_debounce),
      static_cast<long long>(records), subscribers, channel_count, seconds));
  bool ok = CreateModelAndWait(target, m, gr);
  if (ok && records > 0) {
    const IngestSetting s = RunIngestSetting(
        target, gen, 0, records, absl::GetFlag(FLAGS_batch_records), 1, 8);
    if (s.errors > 0) {
      fail("watch: ingest failed");
      ok = false;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // its pass
  }
  const int vlas = static_cast<int>(m.vla_names.size());
  std::map<std::string, int> index;
  for (int i = 0; i < vlas; ++i) index[m.vla_names[i]] = i;
  RevisionTimes sent(vlas), first_seen(1), last_seen(1);
  WatchShared shared;
  shared.index = &index;
  shared.sent = &sent;
  shared.first_seen = &first_seen;
  shared.last_seen = &last_seen;
  r.vlas = vlas;
  auto channels = MakeChannels(target, channel_count);
  std::vector<std::unique_ptr<v1::EvaluationService::Stub>> stubs;
  for (auto& c : channels) stubs.push_back(v1::EvaluationService::NewStub(c));
  auto vmdb = v1::VmdbService::NewStub(MakeChannels(target, 1)[0]);
  const v1::WatchVlaStatusesRequest request;
  std::vector<std::unique_ptr<VlaWatcher>> subs;
  {
    // Destroyed before `subs`: its threads stop once every stream has ended
    // (below).
    vla::bench::ClientQueues queues(4);
    const Clock::time_point attach_start = Clock::now();
    for (int i = 0; ok && i < subscribers; ++i) {
      subs.push_back(std::make_unique<VlaWatcher>(&shared, vlas));
      auto* stub = stubs[i % stubs.size()].get();
      subs.back()->Begin(
          [stub, &request](grpc::ClientContext* ctx,
                           grpc::CompletionQueue* cq) {
            return stub->PrepareAsyncWatchVlaStatuses(ctx, request, cq);
          },
          queues.get(i));
    }
    while (ok && shared.attached.load() < subscribers &&
           Clock::now() - attach_start < std::chrono::seconds(60)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.attach_s =
        std::chrono::duration<double>(Clock::now() - attach_start).count();
    if (ok && shared.attached.load() < subscribers) {
      fail(absl::StrCat("watch: ", shared.attached.load(), " of ", subscribers,
                        " snapshots in 60 s"));
      ok = false;
    }
    if (ok) {
      std::vector<int64_t> revision(vlas, 0);  // the last sent, per VLA
      std::atomic<int64_t> failed{0};
      const double cpu_start = vla::bench::ProcCpuSeconds(0);
      const int64_t start_ns = SteadyNs();
      const int64_t end_ns = start_ns + static_cast<int64_t>(seconds * 1e9);
      for (int64_t round = 0; SteadyNs() < end_ns; ++round) {
        // From 4 threads, so that a round fits in one debounce.
        std::vector<std::thread> drivers;
        for (int t = 0; t < 4; ++t) {
          drivers.emplace_back([&, t] {
            for (int v = t; v < vlas; v += 4) {
              v1::UpdateVlaRequest req;
              req.mutable_vla()->set_name(m.vla_names[v]);
              req.mutable_vla()->set_description(absl::StrCat("round ", round));
              req.mutable_update_mask()->add_paths("description");
              v1::Vla out;
              const int64_t t0 = SteadyNs();
              if (!vmdb->UpdateVla(Ctx().get(), req, &out).ok()) {
                ++failed;
                continue;
              }
              sent.Set(v, out.revision(), t0);
              revision[v] = out.revision();
            }
          });
        }
        for (std::thread& d : drivers) d.join();
        r.updates += vlas;
        // The pass that publishes them (at most 10 s).
        for (int tries = 0; tries < 10000; ++tries) {
          bool published = true;
          for (int v = 0; v < vlas && published; ++v) {
            published = subs[0]->Last(v) >= revision[v];
          }
          if (published) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (revision[0] + 2 >= RevisionTimes::kMaxRevision) break;
      }
      r.update_s = static_cast<double>(SteadyNs() - start_ns) / 1e9;
      if (failed.load() > 0) {
        fail(absl::StrCat("watch: ", failed.load(), " UpdateVla calls failed"));
      }
      const Clock::time_point drain_start = Clock::now();
      while (!r.caught_up &&
             Clock::now() - drain_start < std::chrono::seconds(60)) {
        r.caught_up = true;
        for (const auto& sub : subs) {
          for (int v = 0; v < vlas && r.caught_up; ++v) {
            r.caught_up = sub->Last(v) >= revision[v];
          }
          if (!r.caught_up) break;
        }
        if (!r.caught_up) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      r.cpu_s = vla::bench::ProcCpuSeconds(0) - cpu_start;
      r.delivered = shared.delivered.load();
      r.messages = shared.messages.load();
      r.deliver_s =
          static_cast<double>(shared.last_delivery_ns.load() - start_ns) / 1e9;
      if (!r.caught_up) fail("watch: subscribers not caught up after 60 s");
    }
    for (const auto& sub : subs) sub->Cancel();
    while (shared.ended.load() < static_cast<int>(subs.size())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  server->Shutdown();
  server->Wait();
  server.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::vector<int32_t> all;
  for (const auto& sub : subs) {
    all.insert(all.end(), sub->latencies_us().begin(),
               sub->latencies_us().end());
  }
  std::sort(all.begin(), all.end());
  r.p50_ms = vla::bench::Percentile(all, 0.50) / 1000.0;
  r.p99_ms = vla::bench::Percentile(all, 0.99) / 1000.0;
  std::vector<int64_t> fanouts;
  for (int64_t rev = 1; rev < RevisionTimes::kMaxRevision; ++rev) {
    if (first_seen.Get(0, rev) > 0 && last_seen.Get(0, rev) > 0) {
      fanouts.push_back(last_seen.Get(0, rev) - first_seen.Get(0, rev));
    }
  }
  std::sort(fanouts.begin(), fanouts.end());
  if (!fanouts.empty()) {
    r.fanout_p50_ms = vla::bench::Percentile(fanouts, 0.50) / 1e6;
    r.fanout_max_ms = static_cast<double>(fanouts.back()) / 1e6;
  }
  return r;
}

GrpcResult RunGrpcPart(const Model& m, const std::string& tmp_dir,
                       int64_t records, const std::vector<int>& stream_counts,
                       int batch, int window, int64_t raw_rows, int threads,
                       double warmup, double seconds, int watch_subscribers,
                       int watch_channels, double watch_seconds) {
  GrpcResult r;
  r.ran = true;
  std::string dir = absl::StrCat(tmp_dir, "/evaluator_bench_grpc.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    r.errors++;
    return r;
  }
  // The data: the 40 days before now (the server's real clock).
  const RecordGen gen(&m, absl::Now(), absl::Hours(24 * 40), records, "g");

  // --- Raw SQLite baseline and single-threaded pieces ---
  raw_rows = std::max<int64_t>(1, raw_rows);
  Print(absl::StrFormat(
      "[raw] %lld rows of the same records, %d per transaction, WAL, "
      "synchronous=FULL, in %s",
      static_cast<long long>(raw_rows), batch, dir));
  const std::vector<RowData> rows = MakeRows(gen, 0, raw_rows);
  auto remove_db = [&](const std::string& name) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(absl::StrCat(dir, "/", name, suffix), ec);
    }
  };
  {
    double bytes = 0;
    for (const RowData& row : rows) {
      bytes += static_cast<double>(row.data.size() + row.event_id.size() + 4);
    }
    r.payload_bytes = bytes / static_cast<double>(rows.size());
    r.raw_rows = raw_rows;
    r.raw_rate_before = RawSqliteRate(dir + "/raw.db", rows, batch, false);
    remove_db("raw.db");
    r.raw_store_rate = RawSqliteRate(dir + "/raw_store.db", rows, batch, true);
    remove_db("raw_store.db");
    if (r.raw_rate_before <= 0 || r.raw_store_rate <= 0) r.errors++;
    Print(absl::StrFormat(
        "  row payload %.0f bytes (event_id + kind + serialized record)",
        r.payload_bytes));
    Print(absl::StrFormat("  raw unindexed table: %.0f rows/s",
                          r.raw_rate_before));
    Print(absl::StrFormat(
        "  store schema (event_id PRIMARY KEY WITHOUT ROWID, ON CONFLICT DO "
        "NOTHING): %.0f rows/s (info)",
        r.raw_store_rate));
    MeasureIngestPieces(m, gen, std::min<int64_t>(raw_rows, records), batch, r);
    const double store_us = 1e6 / r.raw_store_rate;
    Print(absl::StrFormat(
        "  single thread, per record: parse %.2f us, engine Check + "
        "Add %.2f us, store-schema SQLite %.2f us: %.0f records/s if "
        "done one after the other on one core (info)",
        r.parse_us, r.engine_us, store_us,
        1e6 / (r.parse_us + r.engine_us + store_us)));
  }

  // --- The servers ---
  vla::ServerOptions options = ServerOptionsIn(dir + "/data");
  options.database = absl::GetFlag(FLAGS_database);
  std::unique_ptr<vla::Server> server = StartServer(options, r);
  if (server == nullptr) return r;
  NoopEvaluationService noop_service;
  int noop_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &noop_port);
  builder.RegisterService(&noop_service);
  std::unique_ptr<grpc::Server> noop_server = builder.BuildAndStart();
  if (noop_server == nullptr || noop_port == 0) {
    CountError(r, "cannot start the baseline server");
    server->Shutdown();
    server->Wait();
    return r;
  }
  const std::string target = absl::StrCat("127.0.0.1:", server->port());
  Print(absl::StrFormat(
      "[ingest] server (all services, real clock, evaluation debounce %s, "
      "tick %s) on %s, data in %s; no-op baseline on 127.0.0.1:%d",
      absl::FormatDuration(options.evaluation_debounce),
      absl::FormatDuration(options.evaluation_tick), target,
      options.database.empty() ? options.data_dir
                               : vla::pg::RedactDsn(options.database),
      noop_port));
  {
    std::shared_ptr<grpc::Channel> channel = MakeChannels(target, 1)[0];
    auto eval = v1::EvaluationService::NewStub(channel);
    bool ok = CreateModelAndWait(target, m, r);
    Print(absl::StrFormat(
        "  model created: %d teams, %d value streams, %d "
        "KVIs, %d VLAs",
        static_cast<int>(m.teams.size()), static_cast<int>(m.streams.size()),
        static_cast<int>(m.kvis.size() * m.kvis[0].size()),
        static_cast<int>(m.vlas.size())));

    // --- Ingest settings, each on the next share of the data ---
    int64_t first = 0;
    for (size_t i = 0; ok && i < stream_counts.size(); ++i) {
      int64_t count =
          (records / static_cast<int64_t>(stream_counts.size()) / batch) *
          batch;
      if (i + 1 == stream_counts.size() || count == 0) count = records - first;
      if (count <= 0) break;
      IngestSetting s = RunIngestSetting(target, gen, first, count, batch,
                                         stream_counts[i], window);
      first += count;
      Print("  " + SettingLine(s));
      if (s.errors > 0) r.errors += s.errors;
      if (s.rate > r.best.rate) r.best = s;
      r.settings.push_back(s);
    }
    if (ok && first < records) {
      CountError(r, "not all records were sent");
    }
    Print(
        absl::StrFormat("  memory now (process: engines of both parts, if "
                        "both ran): VmRSS %.0f MiB",
                        ProcStatusMib("VmRSS")));

    // Let the evaluation pass that follows the ingest (debounced) finish,
    // then the raw baseline again.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    r.raw_rate_after = RawSqliteRate(dir + "/raw.db", rows, batch, false);
    remove_db("raw.db");
    r.raw_rate = std::max(r.raw_rate_before, r.raw_rate_after);
    Print(absl::StrFormat(
        "[raw] again, after the ingest: %.0f rows/s; baseline (the faster): "
        "%.0f rows/s",
        r.raw_rate_after, r.raw_rate));

    // --- GetVlaStatus ---
    if (ok) {
      for (const std::string& name : m.vla_names) {
        v1::GetVlaStatusRequest req;
        req.set_vla(name);
        v1::VlaStatus st;
        const grpc::Status s = eval->GetVlaStatus(Ctx().get(), req, &st);
        if (!s.ok()) {
          CountError(
              r, absl::StrCat("GetVlaStatus ", name, ": ", s.error_message()));
          continue;
        }
        ++r.states[std::string(v1::ComplianceState_Name(st.state()))];
      }
      std::string states;
      for (const auto& [name, n] : r.states) {
        absl::StrAppend(
            &states, " ",
            absl::string_view(name).substr(strlen("COMPLIANCE_STATE_")), "=",
            n);
      }
      Print(absl::StrFormat(
          "[status] %lld records loaded; VLA states now:%s; %d threads, one "
          "channel, %.1f s phases after %.1f s warm-up",
          static_cast<long long>(records), states, threads, seconds, warmup));
      auto noop_stub = v1::EvaluationService::NewStub(
          MakeChannels(absl::StrCat("127.0.0.1:", noop_port), 1)[0]);
      const int rounds = std::max(1, absl::GetFlag(FLAGS_status_rounds));
      std::vector<PhaseResult> noops, statuses;
      for (int round = 0; round < rounds; ++round) {
        noops.push_back(RunPhase(
            "noop", threads, warmup, seconds / rounds, [&](int t, int64_t n) {
              v1::GetVlaStatusRequest req;
              req.set_vla(m.vla_names[(t * 13 + n) % m.vla_names.size()]);
              v1::VlaStatus resp;
              return noop_stub->GetVlaStatus(Ctx().get(), req, &resp);
            }));
        Print("  " + PhaseLine(noops.back()));
        statuses.push_back(RunPhase(
            "GetVlaStatus", threads, warmup, seconds / rounds,
            [&](int t, int64_t n) {
              const std::string& name =
                  m.vla_names[(t * 13 + n) % m.vla_names.size()];
              v1::GetVlaStatusRequest req;
              req.set_vla(name);
              v1::VlaStatus resp;
              grpc::Status s = eval->GetVlaStatus(Ctx().get(), req, &resp);
              if (s.ok() && resp.vla() != name) {
                return grpc::Status(
                    grpc::StatusCode::INTERNAL,
                    absl::StrCat("asked for ", name, ", got ", resp.vla()));
              }
              return s;
            }));
        Print("  " + PhaseLine(statuses.back()));
      }
      r.noop = CombineRounds(noops);
      r.status = CombineRounds(statuses);
      r.errors += r.noop.errors + r.status.errors;
    }
    // --- WatchVlaStatuses while every VLA changes ---
    if (ok && watch_subscribers > 0) {
      r.watch = RunWatchPhase(m, gen, records, watch_subscribers,
                              watch_channels, watch_seconds, r);
      Print("  " + WatchLine(r.watch));
    }
  }
  server->Shutdown();
  server->Wait();
  server.reset();
  noop_server->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(1));
  noop_server->Wait();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

// --- restart: the real binary, with and without a snapshot ---

struct RestartPoint {
  int64_t records = 0;
  double rebuild_s = 0;   // start to SERVING, no snapshot
  double snapshot_s = 0;  // start to SERVING, snapshot of every record
  double snapshot_mib = 0;
  double snapshot_write_s = 0;     // at the graceful stop (from the log)
  double ingest_plain = 0;         // records/s, no snapshots
  double ingest_snapshotting = 0;  // records/s, snapshots back to back
  int snapshots_during = 0;        // written during that segment
};

struct RestartResult {
  bool ran = false;
  int64_t errors = 0;
  std::vector<RestartPoint> points;
};

// The value of "key":"VALUE" in the last log line holding `msg`, from line
// `from` on (0 when absent).
double LogValue(const std::string& log, const std::string& msg,
                const std::string& key, int from, int* lines = nullptr) {
  std::ifstream in(log);
  std::string line, last;
  int n = 0, matches = 0;
  while (std::getline(in, line)) {
    if (n++ < from || line.find(msg) == std::string::npos) continue;
    last = line;
    ++matches;
  }
  if (lines != nullptr) *lines = matches;
  const std::string k = absl::StrCat("\"", key, "\":\"");
  const size_t at = last.find(k);
  double v = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtod(
          last.substr(at + k.size(),
                      last.find('"', at + k.size()) - at - k.size()),
          &v)) {
    return 0;
  }
  return v;
}

int LogLines(const std::string& log) {
  std::ifstream in(log);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

RestartResult RunRestartPart(const Model& m, const std::string& tmp_dir,
                             const std::vector<int64_t>& points,
                             int64_t segment, int batch, int window) {
  RestartResult r;
  r.ran = true;
  std::string dir = absl::StrCat(tmp_dir, "/evaluator_bench_restart.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    r.errors++;
    return r;
  }
  const std::string log = dir + "/vlad.log";
  const std::string snapshot = dir + "/evaluator.db.snapshot";
  const auto fail = [&](const std::string& what) {
    if (r.errors++ == 0)
      Print(absl::StrCat("  ERROR ", what, " (see ", log, ")"));
  };
  const int64_t total = points.back();
  const RecordGen gen(&m, absl::Now(), absl::Hours(24 * 40), total, "r");
  // Starts vlad with `interval` between snapshots; the seconds to SERVING.
  const auto start = [&](std::unique_ptr<vla::testing::VladProcess>& vlad,
                         const std::string& interval) {
    vlad = std::make_unique<vla::testing::VladProcess>(
        VLAD_PATH, dir,
        std::vector<std::string>{
            absl::StrCat("--snapshot_interval=", interval)});
    const Clock::time_point t0 = Clock::now();
    const absl::Status s = vlad->Start(absl::Minutes(10));
    if (!s.ok()) fail(absl::StrCat("starting vlad: ", s.ToString()));
    return s.ok() ? Seconds(Clock::now() - t0) : -1.0;
  };
  // Ingests [first, first + count) in 1M-record settings; records/s.
  const auto ingest = [&](const vla::testing::VladProcess& vlad, int64_t first,
                          int64_t count) {
    const Clock::time_point t0 = Clock::now();
    double busy = 0;
    for (int64_t at = first; at < first + count; at += 1000000) {
      const IngestSetting st = RunIngestSetting(
          vlad.address(), gen, at,
          std::min<int64_t>(1000000, first + count - at), batch, 2, window);
      busy += st.seconds;
      if (st.errors > 0) fail(absl::StrCat("ingest: ", st.first_error));
      if (Seconds(Clock::now() - t0) > 10) {
        Print(absl::StrFormat("  progress: %lld records stored",
                              static_cast<long long>(at + st.records)));
      }
    }
    return busy > 0 ? static_cast<double>(count) / busy : 0;
  };
  const auto stop = [&](std::unique_ptr<vla::testing::VladProcess>& vlad,
                        int sig) {
    vlad->Signal(sig);
    vlad->Wait();
    vlad.reset();
  };

  std::unique_ptr<vla::testing::VladProcess> vlad;
  if (start(vlad, "0s") < 0) return r;
  {
    GrpcResult scratch;
    auto vmdb = v1::VmdbService::NewStub(MakeChannels(vlad->address(), 1)[0]);
    if (!CreateModel(*vmdb, m, scratch)) {
      fail("creating the model");
      return r;
    }
  }
  int64_t stored = 0;
  for (const int64_t n : points) {
    RestartPoint p;
    p.records = n;
    const int64_t seg = std::min(segment, n / 4);
    Print(absl::StrFormat("[restart] up to %lld stored records in %s",
                          static_cast<long long>(n), dir));
    if (vlad == nullptr && start(vlad, "0s") < 0) return r;
    ingest(*vlad, stored, n - 2 * seg - stored);
    stop(vlad, SIGTERM);  // a snapshot at the stop
    // Each segment on a fresh start from that snapshot: without snapshots,
    // then with snapshots back to back while it comes.
    if (start(vlad, "0s") < 0) return r;
    p.ingest_plain = ingest(*vlad, n - 2 * seg, seg);
    stop(vlad, SIGKILL);
    if (start(vlad, "1s") < 0) return r;
    const int from = LogLines(log);
    p.ingest_snapshotting = ingest(*vlad, n - seg, seg);
    LogValue(log, "\"snapshot written\"", "covers", from, &p.snapshots_during);
    stop(vlad, SIGKILL);
    stored = n;
    Print(absl::StrFormat(
        "  ingest over %lld records: %.0f records/s without snapshots, %.0f "
        "with %d snapshots written meanwhile (interval 1 s): ratio %.3f",
        static_cast<long long>(seg), p.ingest_plain, p.ingest_snapshotting,
        p.snapshots_during,
        p.ingest_plain > 0 ? p.ingest_snapshotting / p.ingest_plain : 0));

    // Without a snapshot: a full rebuild.
    std::error_code ec;
    std::filesystem::remove(snapshot, ec);
    p.rebuild_s = start(vlad, "0s");
    if (LogValue(log, "\"evaluator loaded\"", "records_replayed", 0) !=
        static_cast<double>(n)) {
      fail("the rebuild did not replay every record");
    }
    int at = LogLines(log);
    stop(vlad, SIGTERM);
    p.snapshot_write_s = LogValue(log, "\"snapshot written\"", "seconds", at);
    p.snapshot_mib =
        static_cast<double>(std::filesystem::file_size(snapshot, ec)) /
        (1 << 20);
    // With the snapshot of every record.
    p.snapshot_s = start(vlad, "0s");
    if (LogValue(log, "\"evaluator loaded\"", "snapshot_covers", 0) <
        static_cast<double>(n)) {
      fail("the start did not load the snapshot");
    }
    Print(absl::StrFormat(
        "  start to SERVING at %lld records: %.2f s without a snapshot, %.2f "
        "s with one (%.0f MiB, written in %.2f s)",
        static_cast<long long>(n), p.rebuild_s, p.snapshot_s, p.snapshot_mib,
        p.snapshot_write_s));
    r.points.push_back(p);
  }
  if (vlad != nullptr) stop(vlad, SIGTERM);
  if (r.errors == 0 && !absl::GetFlag(FLAGS_keep_data)) {
    std::filesystem::remove_all(dir);
  }
  return r;
}

const char* Verdict(bool met) { return met ? "MET" : "NOT MET"; }

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As vlad does (vlad_main.cc): the server in this process runs without
  // Abseil's deadlock detection, which Debian's Abseil has on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int64_t records = absl::GetFlag(FLAGS_records);
  int64_t small = absl::GetFlag(FLAGS_small_records);
  int64_t raw_rows = absl::GetFlag(FLAGS_raw_rows);
  int passes = absl::GetFlag(FLAGS_passes);
  double seconds = absl::GetFlag(FLAGS_seconds);
  double warmup = absl::GetFlag(FLAGS_warmup_seconds);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int batch = absl::GetFlag(FLAGS_batch_records);
  const int window = absl::GetFlag(FLAGS_window);
  const std::string tmp_dir = absl::GetFlag(FLAGS_tmp_dir);
  const bool quick = absl::GetFlag(FLAGS_quick);
  if (quick) {
    small = 20000;
    records = 40000;
    raw_rows = 20000;
    passes = 3;
    seconds = 0.5;
    warmup = 0.1;
  }
  std::vector<int> stream_counts;
  for (absl::string_view w : absl::StrSplit(absl::GetFlag(FLAGS_streams), ',',
                                            absl::SkipWhitespace())) {
    int n = 0;
    if (!absl::SimpleAtoi(w, &n) || n <= 0) {
      std::fprintf(stderr, "--streams: bad count \"%s\"\n",
                   std::string(w).c_str());
      return 2;
    }
    stream_counts.push_back(n);
  }
  std::vector<int64_t> restart_points;
  for (absl::string_view w : absl::StrSplit(
           quick ? "20000,40000" : absl::GetFlag(FLAGS_restart_records), ',',
           absl::SkipWhitespace())) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(w, &n) || n <= 0 ||
        (!restart_points.empty() && n <= restart_points.back())) {
      std::fprintf(stderr,
                   "--restart_records: counts must be positive and rising\n");
      return 2;
    }
    restart_points.push_back(n);
  }
  const int64_t restart_segment =
      quick ? 4000 : absl::GetFlag(FLAGS_restart_segment);
  bool run_eval = false, run_grpc = false, run_restart = false,
       run_history = false;
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_parts), ',',
                                            absl::SkipWhitespace())) {
    if (p == "eval") {
      run_eval = true;
    } else if (p == "grpc") {
      run_grpc = true;
    } else if (p == "restart") {
      run_restart = true;
    } else if (p == "history") {
      run_history = true;
    } else {
      std::fprintf(
          stderr,
          "--parts: unknown part \"%s\" (eval, grpc, restart, history)\n",
          std::string(p).c_str());
      return 2;
    }
  }
  if (small <= 0 || records < small || passes <= 0 || threads <= 0 ||
      batch <= 0 || batch > 10000 || window <= 0 || seconds <= 0 ||
      warmup < 0 || stream_counts.empty() || restart_segment <= 0) {
    std::fprintf(stderr,
                 "need 0 < --small_records <= --records, --passes, --threads, "
                 "--window, --seconds > 0, 0 < --batch_records <= 10000, "
                 "--streams not empty\n");
    return 2;
  }
  const absl::Duration slide =
      absl::Seconds(absl::GetFlag(FLAGS_slide_seconds));
  const Model model = MakeModel();
  Print(absl::StrFormat(
      "evaluator_bench: records=%lld small_records=%lld parts=%s "
      "streams=%s batch=%d window=%d raw_rows=%lld passes=%d slide=%s "
      "threads=%d seconds=%.2f cpus=%u",
      static_cast<long long>(records), static_cast<long long>(small),
      absl::GetFlag(FLAGS_parts), absl::GetFlag(FLAGS_streams), batch, window,
      static_cast<long long>(raw_rows), passes, absl::FormatDuration(slide),
      threads, seconds, std::thread::hardware_concurrency()));
  Print(
      "model: 4 value streams, 11 teams, 20 KVIs (MEAN x8, PERCENTILE x5 "
      "(p25..p95, one label-scoped), NET_SCORE, SUM, SHARE_AT_MOST, "
      "RATE_PER_DAY, RATIO, co-measured MEAN; all rolling 30 d), 100 ACTIVE "
      "VLAs x 3 clauses, 50 with a linked SLA; records: 70% observations, "
      "30% work item events (6-event lifecycles), 4 labels each, 40 days");

  EvalResult ev;
  if (run_eval) {
    ev = RunEvalPart(model, tmp_dir, small, records, passes, slide);
  }
  GrpcResult gr;
  if (run_grpc) {
    const bool quick = absl::GetFlag(FLAGS_quick);
    gr = RunGrpcPart(model, tmp_dir, small, stream_counts, batch, window,
                     raw_rows, threads, warmup, seconds,
                     quick ? 20 : absl::GetFlag(FLAGS_watch_subscribers),
                     quick ? 2 : absl::GetFlag(FLAGS_watch_channels),
                     quick ? 1 : absl::GetFlag(FLAGS_watch_seconds));
  }

  RestartResult rr;
  if (run_restart) {
    rr = RunRestartPart(model, tmp_dir, restart_points, restart_segment, batch,
                        window);
  }

  HistoryResult hr;
  if (run_history) {
    hr =
        RunHistoryPart(model, tmp_dir, small, records, std::max(3, passes / 4));
  }

  Print("\nSUMMARY");
  int64_t errors = ev.errors + gr.errors + rr.errors + hr.errors;
  for (const RestartPoint& p : rr.points) {
    Print(absl::StrFormat(
        "SUMMARY restart %lld records: start to SERVING %.2f s without a "
        "snapshot, %.2f s with one (%.0f MiB, written in %.2f s); ingest "
        "%.0f records/s plain, %.0f while snapshotting (%d snapshots): "
        "snapshot_ingest_ratio=%.3f",
        static_cast<long long>(p.records), p.rebuild_s, p.snapshot_s,
        p.snapshot_mib, p.snapshot_write_s, p.ingest_plain,
        p.ingest_snapshotting, p.snapshots_during,
        p.ingest_plain > 0 ? p.ingest_snapshotting / p.ingest_plain : 0));
  }
  if (!rr.points.empty()) {
    const RestartPoint& big = rr.points.back();
    double worst = 1e9;
    for (const RestartPoint& p : rr.points) {
      worst = std::min(worst, p.ingest_plain > 0
                                  ? p.ingest_snapshotting / p.ingest_plain
                                  : 0.0);
    }
    Print(absl::StrFormat(
        "target restart to SERVING < 2 s at %lld records with a snapshot: %s",
        static_cast<long long>(big.records),
        Verdict(big.snapshot_s >= 0 && big.snapshot_s < 2)));
    Print(absl::StrFormat(
        "target ingest while snapshotting >= 0.9 of plain: %s (worst %.3f)",
        Verdict(worst >= 0.9), worst));
  }
  if (hr.ran) {
    const HistoryTimes& b = hr.big > hr.small ? hr.at_big : hr.at_small;
    for (const auto& [n, h] :
         {std::pair(hr.small, hr.at_small), std::pair(hr.big, b)}) {
      Print(absl::StrFormat(
          "SUMMARY history %lld records: GetVlaReport %d months %.2f ms "
          "(first %.1f); GetKviSeries %d points %.2f ms hourly (first %.1f), "
          "%.2f ms over two years",
          static_cast<long long>(n), h.periods, h.report.wall, h.report_cold_ms,
          h.points, h.series_hourly.wall, h.series_cold_ms,
          h.series_spread.wall));
    }
    Print(absl::StrFormat(
        "target GetVlaReport (24 months, 10 clauses) < 200 ms at %lld "
        "records: %s",
        static_cast<long long>(hr.big),
        Verdict(b.periods == kReportMonths && b.report.wall < 200)));
    Print(absl::StrFormat(
        "target GetKviSeries (1,000 points, rolling 30 d p90) < 100 ms at "
        "%lld records: %s an hour apart, %s spread over two years",
        static_cast<long long>(hr.big),
        Verdict(b.points == kSeriesPoints && b.series_hourly.wall < 100),
        Verdict(b.points == kSeriesPoints && b.series_spread.wall < 100)));
  }
  if (gr.ran) {
    for (const IngestSetting& s : gr.settings) {
      Print("SUMMARY ingest " + SettingLine(s));
    }
    const double vs_raw = gr.raw_rate > 0 ? gr.best.rate / gr.raw_rate : 0;
    Print(absl::StrFormat(
        "SUMMARY ingest_best=%.0f records/s (streams=%d, batch=%d)  "
        "raw_sqlite=%.0f rows/s (best of %.0f before, %.0f after; %.0f-byte "
        "rows)  ingest_vs_raw_sqlite=%.3f  store_schema_sqlite=%.0f rows/s",
        gr.best.rate, gr.best.streams, batch, gr.raw_rate, gr.raw_rate_before,
        gr.raw_rate_after, gr.payload_bytes, vs_raw, gr.raw_store_rate));
    const double vs_noop = gr.noop.rate > 0 ? gr.status.rate / gr.noop.rate : 0;
    Print("SUMMARY " + PhaseLine(gr.noop));
    Print("SUMMARY " + PhaseLine(gr.status));
    Print(absl::StrFormat(
        "SUMMARY status_vs_noop=%.3f status_p99=%.2f ms (%lld records "
        "loaded)",
        vs_noop, gr.status.p99_us / 1000, static_cast<long long>(small)));
    Print(absl::StrFormat("target ingest >= 100000 records/s: %s",
                          Verdict(gr.best.rate >= 100000)));
    Print(absl::StrFormat("stretch ingest_vs_raw_sqlite >= 0.4: %s",
                          Verdict(vs_raw >= 0.4)));
    if (gr.watch.ran) Print("SUMMARY " + WatchLine(gr.watch));
    Print(absl::StrFormat("target status_vs_noop >= 0.8: %s",
                          Verdict(vs_noop >= 0.8)));
    Print(absl::StrFormat(
        "target GetVlaStatus p99 < 5 ms: %s",
        Verdict(gr.status.p99_us > 0 && gr.status.p99_us < 5000)));
  }
  if (ev.ran) {
    const PassTimes& a = ev.at_small;
    const PassTimes& b = ev.big > ev.small ? ev.at_big : ev.at_small;
    for (const auto& [n, t] : {std::pair(ev.small, a), std::pair(ev.big, b)}) {
      Print(absl::StrFormat(
          "SUMMARY eval %lld records: pass %.2f ms fixed / %.2f ms sliding "
          "(CPU %.2f / %.2f); engine %.2f / %.2f ms (CPU %.2f / %.2f)",
          static_cast<long long>(n), t.fixed.wall, t.slide.wall, t.fixed.cpu,
          t.slide.cpu, t.engine_fixed.wall, t.engine_slide.wall,
          t.engine_fixed.cpu, t.engine_slide.cpu));
    }
    const auto ratio = [](double big, double small) {
      return small > 0 ? big / small : 0;
    };
    const double ratio_slide = ratio(b.slide.wall, a.slide.wall);
    const double ratio_slide_cpu = ratio(b.slide.cpu, a.slide.cpu);
    Print(absl::StrFormat(
        "SUMMARY eval_big_vs_small=%.2f fixed, %.2f sliding; CPU %.2f fixed, "
        "%.2f sliding; engine CPU %.2f fixed, %.2f sliding (x%.0f records)",
        ratio(b.fixed.wall, a.fixed.wall), ratio_slide,
        ratio(b.fixed.cpu, a.fixed.cpu), ratio_slide_cpu,
        ratio(b.engine_fixed.cpu, a.engine_fixed.cpu),
        ratio(b.engine_slide.cpu, a.engine_slide.cpu),
        static_cast<double>(ev.big) / static_cast<double>(ev.small)));
    Print(absl::StrFormat(
        "SUMMARY memory: VmRSS %.0f MiB before loading, %.0f MiB after %lld "
        "records; peak VmHWM %.0f MiB at %lld records",
        ev.rss_before_mib, ev.rss_small_mib, static_cast<long long>(ev.small),
        ev.big > ev.small ? ev.hwm_big_mib : ev.hwm_small_mib,
        static_cast<long long>(ev.big)));
    Print(absl::StrFormat(
        "target pass < 50 ms at %lld records (sliding, the realistic case): "
        "%s",
        static_cast<long long>(ev.big), Verdict(b.slide.wall < 50)));
    Print(absl::StrFormat(
        "target pass time flat (big/small <= 1.25, sliding): %s by CPU "
        "time, %s by wall clock",
        Verdict(ratio_slide_cpu > 0 && ratio_slide_cpu <= 1.25),
        Verdict(ratio_slide > 0 && ratio_slide <= 1.25)));
    Print(absl::StrFormat(
        "target peak RSS < 1 GiB at %lld records: %s",
        static_cast<long long>(ev.big),
        Verdict((ev.big > ev.small ? ev.hwm_big_mib : ev.hwm_small_mib) <
                1024)));
  }
  if (errors > 0) {
    Print(absl::StrFormat("FAILED: %lld error(s)",
                          static_cast<long long>(errors)));
    return 1;
  }
  return 0;
}
