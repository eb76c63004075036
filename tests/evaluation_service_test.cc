// EvaluationService through its gRPC API on a real server (all services in
// one process, as vlad runs them), with hand-worked values at fixed instants.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "clients/lib/watch.h"
#include "common/proto_time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/common/clock.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::grpc::StatusCode;
using testing::Ctx;
using testing::Eventually;
using testing::FastOptions;
using ::testing::HasSubstr;
using testing::IsCode;
using testing::IsCodeWith;
using testing::MakeTeam;
using testing::TestServer;

constexpr int64_t kDay = 86400;
// 2026-03-01T00:00:00Z: the fixed instant most tests evaluate at.
constexpr int64_t kT0 = 1772323200;

google::protobuf::Timestamp At(int64_t unix_seconds) {
  google::protobuf::Timestamp t;
  t.set_seconds(unix_seconds);
  return t;
}

class EvaluationServiceTest : public ::testing::TestWithParam<testing::Db> {
 protected:
  EvaluationServiceTest() : EvaluationServiceTest(FastOptions(), GetParam()) {}
  EvaluationServiceTest(ServerOptions options, testing::Db db)
      : server_(options, db) {}

  void SetUp() override {
    Team("business", v1::TEAM_KIND_CONSUMER);
    Team("desk", v1::TEAM_KIND_PROVIDER);
    Team("network", v1::TEAM_KIND_PROVIDER);
    Team("apps", v1::TEAM_KIND_PROVIDER);
    v1::CreateValueStreamRequest vs;
    vs.set_value_stream_id("incident");
    vs.mutable_value_stream()->set_consumer("teams/business");
    for (const char* p : {"teams/desk", "teams/network", "teams/apps"}) {
      vs.mutable_value_stream()->add_providers(p);
    }
    v1::ValueStream out;
    ASSERT_TRUE(vmdb().CreateValueStream(Ctx().get(), vs, &out).ok());

    Kvi("happiness", ObservationKvi("happiness", v1::AGGREGATION_MEAN,
                                    v1::DIRECTION_HIGHER_IS_BETTER));
    v1::Kvi lead =
        ItemKvi(v1::WORK_ITEM_FIELD_LEAD_TIME, v1::AGGREGATION_PERCENTILE,
                v1::DIRECTION_LOWER_IS_BETTER);
    lead.set_percentile(90);
    lead.set_unit("s");
    lead.set_display_name("p90 lead time");
    Kvi("lead-p90", lead);
    v1::Kvi sla = ItemKvi(v1::WORK_ITEM_FIELD_SLA_MET, v1::AGGREGATION_MEAN,
                          v1::DIRECTION_HIGHER_IS_BETTER);
    sla.set_unit("%");
    sla.set_display_name("SLA compliance");
    Kvi("sla", sla);

    v1::Vla vla;
    vla.set_value_stream("valueStreams/incident");
    vla.set_consumer("teams/business");
    vla.add_providers("teams/desk");
    vla.add_providers("teams/network");
    auto* c1 = vla.add_clauses();
    c1->set_kvi("kvis/happiness");
    c1->set_target(70);
    c1->set_warning(50);
    auto* c2 = vla.add_clauses();
    c2->set_kvi("kvis/lead-p90");
    c2->set_target(5 * kDay);
    c2->set_warning(7 * kDay);
    vla.mutable_sla()->set_kvi("kvis/sla");
    vla.mutable_sla()->set_target(0.95);
    vla.set_state(v1::VLA_STATE_ACTIVE);
    Vla("incident-vla", vla);
    // The evaluator follows the VMDB asynchronously: wait for the VLA.
    ASSERT_TRUE(Eventually([&] {
      v1::GetVlaStatusRequest req;
      req.set_vla("vlas/incident-vla");
      v1::VlaStatus st;
      return eval().GetVlaStatus(Ctx().get(), req, &st).error_code() !=
             StatusCode::NOT_FOUND;
    }));
  }

  v1::VmdbService::Stub& vmdb() { return server_.vmdb(); }
  v1::EvaluationService::Stub& eval() { return server_.evaluation(); }

  void Team(const std::string& id, v1::TeamKind kind) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    *req.mutable_team() = MakeTeam(kind);
    v1::Team out;
    ASSERT_TRUE(vmdb().CreateTeam(Ctx().get(), req, &out).ok());
  }
  static v1::Kvi ObservationKvi(const std::string& signal, v1::Aggregation agg,
                                v1::Direction dir) {
    v1::Kvi k;
    k.set_value_stream("valueStreams/incident");
    k.set_source(v1::SOURCE_OBSERVATIONS);
    k.set_signal(signal);
    k.set_aggregation(agg);
    k.mutable_window()->mutable_rolling()->set_seconds(30 * kDay);
    k.set_direction(dir);
    return k;
  }
  static v1::Kvi ItemKvi(v1::WorkItemField field, v1::Aggregation agg,
                         v1::Direction dir) {
    v1::Kvi k;
    k.set_value_stream("valueStreams/incident");
    k.set_source(v1::SOURCE_WORK_ITEMS);
    k.set_field(field);
    k.set_aggregation(agg);
    k.mutable_window()->mutable_rolling()->set_seconds(30 * kDay);
    k.set_direction(dir);
    return k;
  }
  void Kvi(const std::string& id, const v1::Kvi& kvi) {
    v1::CreateKviRequest req;
    req.set_kvi_id(id);
    *req.mutable_kvi() = kvi;
    v1::Kvi out;
    const grpc::Status s = vmdb().CreateKvi(Ctx().get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void Vla(const std::string& id, const v1::Vla& vla) {
    v1::CreateVlaRequest req;
    req.set_vla_id(id);
    *req.mutable_vla() = vla;
    v1::Vla out;
    const grpc::Status s = vmdb().CreateVla(Ctx().get(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  void WaitForKvi(const std::string& kvi) {
    ASSERT_TRUE(Eventually([&] {
      v1::GetKviValueRequest req;
      req.set_kvi(kvi);
      v1::KviValue v;
      return eval().GetKviValue(Ctx().get(), req, &v).ok();
    })) << kvi;
  }

  static v1::Observation Obs(const std::string& id, const std::string& signal,
                             int64_t t, double value,
                             const std::string& reporter = "") {
    v1::Observation o;
    o.set_event_id(id);
    o.set_signal(signal);
    *o.mutable_time() = At(t);
    o.set_value(value);
    o.set_value_stream("valueStreams/incident");
    o.set_reporter(reporter);
    return o;
  }
  static v1::WorkItemEvent Ev(const std::string& id, const std::string& item,
                              v1::EventKind kind, int64_t t,
                              const std::string& team = "") {
    v1::WorkItemEvent e;
    e.set_event_id(id);
    e.set_item_id(item);
    e.set_item_type(v1::ITEM_TYPE_INCIDENT);
    e.set_value_stream("valueStreams/incident");
    e.set_kind(kind);
    *e.mutable_time() = At(t);
    e.set_team(team);
    if (kind == v1::EVENT_KIND_RESOLVED) e.set_sla_met(true);
    return e;
  }

  v1::IngestResponse Ingest(const v1::IngestRequest& req) {
    v1::IngestResponse resp;
    grpc::Status s;
    // UNAVAILABLE while the evaluator loads definitions: retry.
    EXPECT_TRUE(Eventually([&] {
      resp.Clear();
      s = eval().IngestBatch(Ctx().get(), req, &resp);
      return s.error_code() != StatusCode::UNAVAILABLE;
    }));
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // The worked example: happiness 40/50/60 (mean 50: AT_RISK), four items
  // with lead times 2, 4, 8, 10 days (p90 = 8 + 0.7 * 2 = 9.4 d: BREACHED),
  // all within SLA (100% >= 95%): a watermelon at kT0.
  void IngestExample() {
    v1::IngestRequest req;
    *req.add_observations() = Obs("h1", "happiness", kT0 - 1 * kDay, 40);
    *req.add_observations() = Obs("h2", "happiness", kT0 - 2 * kDay, 50);
    *req.add_observations() = Obs("h3", "happiness", kT0 - 3 * kDay, 60);
    const int64_t lead_days[] = {2, 4, 8, 10};
    for (int i = 0; i < 4; ++i) {
      const std::string item = absl::StrCat("INC", i);
      const int64_t created = kT0 - 20 * kDay;
      *req.add_work_item_events() =
          Ev(item + "-c", item, v1::EVENT_KIND_CREATED, created);
      *req.add_work_item_events() =
          Ev(item + "-a", item, v1::EVENT_KIND_ASSIGNED, created + 60,
             "teams/desk");
      *req.add_work_item_events() =
          Ev(item + "-r", item, v1::EVENT_KIND_RESOLVED,
             created + lead_days[i] * kDay);
    }
    const v1::IngestResponse resp = Ingest(req);
    EXPECT_EQ(resp.accepted(), 15);
    EXPECT_EQ(resp.rejected_size(), 0);
  }

  v1::KviValue KviAt(const std::string& kvi, int64_t t) {
    v1::GetKviValueRequest req;
    req.set_kvi(kvi);
    *req.mutable_time() = At(t);
    v1::KviValue v;
    const grpc::Status s = eval().GetKviValue(Ctx().get(), req, &v);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return v;
  }

  v1::VlaStatus VlaAt(const std::string& vla, int64_t t,
                      grpc::Status* status = nullptr) {
    v1::GetVlaStatusRequest req;
    req.set_vla(vla);
    *req.mutable_time() = At(t);
    v1::VlaStatus v;
    grpc::Status s = eval().GetVlaStatus(Ctx().get(), req, &v);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return v;
  }

  TestServer server_;
};

INSTANTIATE_TEST_SUITE_P(Engines, EvaluationServiceTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(EvaluationServiceTest, KviValuesAtFixedInstants) {
  IngestExample();
  v1::KviValue h = KviAt("kvis/happiness", kT0);
  EXPECT_TRUE(h.has_value());
  EXPECT_DOUBLE_EQ(h.value(), 50);
  EXPECT_EQ(h.samples(), 3);
  EXPECT_EQ(h.window_start().seconds(), kT0 - 30 * kDay);
  EXPECT_EQ(h.window_end().seconds(), kT0);
  EXPECT_EQ(h.comeasurement(), v1::CO_MEASUREMENT_STATE_NOT_COMEASURED);

  v1::KviValue lead = KviAt("kvis/lead-p90", kT0);
  EXPECT_TRUE(lead.has_value());
  EXPECT_NEAR(lead.value(), 9.4 * kDay, 1e-6);
  EXPECT_EQ(lead.samples(), 4);

  // [T - 30 d, T) is half-open: at kT0 - 2 d the sample taken exactly then
  // is not in the window, and the later one is in its future.
  h = KviAt("kvis/happiness", kT0 - 2 * kDay);
  EXPECT_DOUBLE_EQ(h.value(), 60);
  EXPECT_EQ(h.samples(), 1);
  h = KviAt("kvis/happiness", kT0 - 2 * kDay + 1);
  EXPECT_DOUBLE_EQ(h.value(), 55);
  EXPECT_EQ(h.samples(), 2);
  // Long after: no data, and no made-up zero.
  h = KviAt("kvis/happiness", kT0 + 40 * kDay);
  EXPECT_FALSE(h.has_value());
  EXPECT_EQ(h.samples(), 0);
  EXPECT_EQ(h.value(), 0);
}

TEST_P(EvaluationServiceTest, VlaStatusIsAWatermelon) {
  IngestExample();
  const v1::VlaStatus s = VlaAt("vlas/incident-vla", kT0);
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_DOUBLE_EQ(s.score(), 25);  // 100 * (0.5 + 0) / 2
  EXPECT_TRUE(s.watermelon());
  EXPECT_TRUE(s.sla_met());
  EXPECT_DOUBLE_EQ(s.sla_value(), 1);
  EXPECT_EQ(s.vla_revision(), 1);
  ASSERT_EQ(s.clauses_size(), 2);
  EXPECT_EQ(s.clauses(0).state(), v1::CLAUSE_STATE_AT_RISK);
  EXPECT_EQ(s.clauses(1).state(), v1::CLAUSE_STATE_BREACHED);
  EXPECT_EQ(s.clauses(1).samples(), 4);
  EXPECT_THAT(
      s.explanation(),
      HasSubstr("BREACHED (score 25): happiness 50 misses its target 70"));
  EXPECT_THAT(s.explanation(),
              HasSubstr("p90 lead time 9.4 d is worse than the warning 7 d"));
  EXPECT_THAT(
      s.explanation(),
      HasSubstr("SLA compliance 100% meets its 95% target: watermelon"));
}

TEST_P(EvaluationServiceTest, VlaStatusErrorsAndNoData) {
  grpc::Status status;
  VlaAt("vlas/nope", kT0, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::NOT_FOUND, "vlas/nope"));
  VlaAt("nope", kT0, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "vla:"));
  // Active without data: NO_DATA, not an error.
  const v1::VlaStatus s = VlaAt("vlas/incident-vla", kT0);
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_NO_DATA);
  EXPECT_FALSE(s.watermelon());
  // A DRAFT VLA is not evaluated.
  v1::Vla draft;
  draft.set_value_stream("valueStreams/incident");
  draft.set_consumer("teams/business");
  draft.add_providers("teams/desk");
  draft.add_clauses()->set_kvi("kvis/happiness");
  draft.set_state(v1::VLA_STATE_DRAFT);
  Vla("draft", draft);
  ASSERT_TRUE(Eventually([&] {
    VlaAt("vlas/draft", kT0, &status);
    return status.error_code() != StatusCode::NOT_FOUND;
  }));
  EXPECT_THAT(status, IsCodeWith(StatusCode::FAILED_PRECONDITION, "ACTIVE"));

  v1::GetKviValueRequest kreq;
  kreq.set_kvi("kvis/none");
  v1::KviValue v;
  EXPECT_THAT(eval().GetKviValue(Ctx().get(), kreq, &v),
              IsCode(StatusCode::NOT_FOUND));
  kreq.set_kvi("happiness");
  EXPECT_THAT(eval().GetKviValue(Ctx().get(), kreq, &v),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "kvi:"));
  kreq.set_kvi("kvis/happiness");
  kreq.mutable_time()->set_nanos(-5);
  EXPECT_THAT(eval().GetKviValue(Ctx().get(), kreq, &v),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "time"));
}

TEST_P(EvaluationServiceTest, IngestRejectsBadRecordsAloneAndCountsDuplicates) {
  v1::IngestRequest req;
  *req.add_observations() = Obs("ok-1", "happiness", kT0, 70);           // 0
  *req.add_observations() = Obs("", "happiness", kT0, 70);               // 1
  *req.add_observations() = Obs("nan", "happiness", kT0, std::nan(""));  // 2
  v1::Observation unknown_vs = Obs("vs", "happiness", kT0, 1);           // 3
  unknown_vs.set_value_stream("valueStreams/nope");
  *req.add_observations() = unknown_vs;
  const int64_t future = absl::ToUnixSeconds(absl::Now()) + 2 * kDay;
  *req.add_observations() = Obs("future", "happiness", future, 1);  // 4
  v1::Observation labels = Obs("labels", "happiness", kT0, 1);      // 5
  for (int i = 0; i < 17; ++i)
    (*labels.mutable_labels())[absl::StrCat("k", i)] = "v";
  *req.add_observations() = labels;
  *req.add_observations() = Obs("ok-1", "happiness", kT0, 70);  // 6: dup
  *req.add_observations() =
      Obs("rep", "happiness", kT0, 1, "teams/ghost");  // 7
  *req.add_work_item_events() = Ev("e-ok", "I1", v1::EVENT_KIND_CREATED, kT0);
  *req.add_work_item_events() =
      Ev("e-kind", "I1", static_cast<v1::EventKind>(99), kT0);
  *req.add_work_item_events() =
      Ev("e-team", "I1", v1::EVENT_KIND_ASSIGNED, kT0);
  *req.add_work_item_events() = Ev("e-item", "", v1::EVENT_KIND_CREATED, kT0);

  v1::IngestResponse resp = Ingest(req);
  EXPECT_EQ(resp.accepted(), 2);
  EXPECT_EQ(resp.duplicates(), 1);
  std::map<std::pair<int, int>, std::string> rejected;
  for (const auto& r : resp.rejected())
    rejected[{r.kind(), r.index()}] = r.reason();
  const int kObs = v1::RECORD_KIND_OBSERVATION,
            kEv = v1::RECORD_KIND_WORK_ITEM_EVENT;
  EXPECT_EQ(rejected.size(), 9u);
  EXPECT_THAT((rejected[{kObs, 1}]), HasSubstr("event_id: required"));
  EXPECT_THAT((rejected[{kObs, 2}]),
              HasSubstr("value: must be a finite number"));
  EXPECT_THAT((rejected[{kObs, 3}]), HasSubstr("not a known value stream"));
  EXPECT_THAT((rejected[{kObs, 4}]),
              HasSubstr("more than a day in the future"));
  EXPECT_THAT((rejected[{kObs, 5}]), HasSubstr("labels: more than 16"));
  EXPECT_THAT((rejected[{kObs, 7}]),
              HasSubstr("reporter: teams/ghost is not a known team"));
  EXPECT_THAT((rejected[{kEv, 1}]), HasSubstr("kind"));
  EXPECT_THAT((rejected[{kEv, 2}]), HasSubstr("team: required for ASSIGNED"));
  EXPECT_THAT((rejected[{kEv, 3}]), HasSubstr("item_id: required"));

  // A retry of the whole batch stores nothing twice, also after a restart.
  resp = Ingest(req);
  EXPECT_EQ(resp.accepted(), 0);
  EXPECT_EQ(resp.duplicates(), 3);
  server_.Restart();
  resp = Ingest(req);
  EXPECT_EQ(resp.accepted(), 0);
  EXPECT_EQ(resp.duplicates(), 3);
  const v1::KviValue h = KviAt("kvis/happiness", kT0 + 1);
  EXPECT_EQ(h.samples(), 1);
  EXPECT_DOUBLE_EQ(h.value(), 70);
}

TEST_P(EvaluationServiceTest, OversizedBatchIsResourceExhausted) {
  v1::IngestRequest req;
  for (int i = 0; i < 10001; ++i) {
    *req.add_observations() = Obs(absl::StrCat("o", i), "happiness", kT0, 1);
  }
  v1::IngestResponse resp;
  EXPECT_THAT(eval().IngestBatch(Ctx().get(), req, &resp),
              IsCodeWith(StatusCode::RESOURCE_EXHAUSTED, "at most 10000"));
  // Nothing of it was stored.
  EXPECT_FALSE(KviAt("kvis/happiness", kT0 + 1).has_value());
}

TEST_P(EvaluationServiceTest, IngestStreamAcknowledgesEachBatchInOrder) {
  // Make sure definitions are loaded.
  Ingest(v1::IngestRequest());
  grpc::ClientContext ctx;
  auto stream = eval().Ingest(&ctx);
  constexpr int kBatches = 30, kPerBatch = 50;
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      v1::IngestRequest req;
      for (int i = 0; i < kPerBatch; ++i) {
        // Batch b repeats half of batch b-1: those are duplicates.
        const int id = b * kPerBatch / 2 + i;
        *req.add_observations() =
            Obs(absl::StrCat("s", id), "happiness", kT0 - 3600 - id, 1);
      }
      ASSERT_TRUE(stream->Write(req));
    }
    stream->WritesDone();
  });
  v1::IngestResponse resp;
  for (int b = 0; b < kBatches; ++b) {
    ASSERT_TRUE(stream->Read(&resp)) << b;
    EXPECT_EQ(resp.accepted(), b == 0 ? kPerBatch : kPerBatch / 2) << b;
    EXPECT_EQ(resp.duplicates(), b == 0 ? 0 : kPerBatch / 2) << b;
  }
  EXPECT_FALSE(stream->Read(&resp));
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  const int distinct = kPerBatch + (kBatches - 1) * kPerBatch / 2;
  EXPECT_EQ(KviAt("kvis/happiness", kT0).samples(), distinct);
}

TEST_P(EvaluationServiceTest, NewDefinitionsAreEvaluatedWithoutRestart) {
  IngestExample();
  Kvi("happiness-max", ObservationKvi("happiness", v1::AGGREGATION_MAX,
                                      v1::DIRECTION_HIGHER_IS_BETTER));
  WaitForKvi("kvis/happiness-max");
  EXPECT_DOUBLE_EQ(KviAt("kvis/happiness-max", kT0).value(), 60);
  // Changing the KVI changes its value.
  v1::UpdateKviRequest up;
  up.mutable_kvi()->set_name("kvis/happiness-max");
  up.mutable_kvi()->set_aggregation(v1::AGGREGATION_MIN);
  up.mutable_update_mask()->add_paths("aggregation");
  v1::Kvi out;
  ASSERT_TRUE(vmdb().UpdateKvi(Ctx().get(), up, &out).ok());
  EXPECT_TRUE(Eventually(
      [&] { return KviAt("kvis/happiness-max", kT0).value() == 40; }));
}

TEST_P(EvaluationServiceTest, CoMeasurementAgreedDisputedOneSided) {
  v1::Kvi k = ObservationKvi("csat", v1::AGGREGATION_MEAN,
                             v1::DIRECTION_HIGHER_IS_BETTER);
  k.mutable_co_measurement()->set_enabled(true);
  k.mutable_co_measurement()->set_absolute_tolerance(0.5);
  Kvi("csat", k);
  WaitForKvi("kvis/csat");
  v1::IngestRequest req;
  *req.add_observations() =
      Obs("c1", "csat", kT0 - 3 * kDay, 4.0, "teams/business");
  *req.add_observations() =
      Obs("c2", "csat", kT0 - 4 * kDay, 4.4, "teams/desk");
  Ingest(req);
  v1::KviValue v = KviAt("kvis/csat", kT0);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_AGREED);
  EXPECT_NEAR(v.value(), 4.2, 1e-12);
  EXPECT_DOUBLE_EQ(v.party_values().at("teams/business"), 4.0);
  EXPECT_DOUBLE_EQ(v.party_values().at("teams/desk"), 4.4);

  req.Clear();
  *req.add_observations() =
      Obs("c3", "csat", kT0 - 2 * kDay, 4.9, "teams/network");
  Ingest(req);
  // Providers: mean(4.4, 4.9) = 4.65; consumer 4.0; |diff| 0.65 > 0.5.
  v = KviAt("kvis/csat", kT0);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_DISPUTED);
  EXPECT_NEAR(v.party_values().at("teams/network"), 4.65, 1e-12);
  // Before the consumer's sample: one side only, and it is the value.
  v = KviAt("kvis/csat", kT0 - 3 * kDay);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_ONE_SIDED);
  EXPECT_EQ(v.samples(), 1);
  EXPECT_DOUBLE_EQ(v.value(), 4.4);
}

TEST_P(EvaluationServiceTest, CalendarMonthInTimeZone) {
  v1::Kvi k = ObservationKvi("cost", v1::AGGREGATION_SUM,
                             v1::DIRECTION_LOWER_IS_BETTER);
  k.mutable_window()->set_calendar(v1::CALENDAR_PERIOD_MONTH);
  k.mutable_window()->set_time_zone("Europe/Berlin");
  Kvi("cost-mtd", k);
  WaitForKvi("kvis/cost-mtd");
  v1::IngestRequest req;
  // 22:30Z on Feb 28 is 23:30 in Berlin: February. 23:30Z is 00:30 March 1.
  *req.add_observations() = Obs("feb", "cost", kT0 - 5400, 100);
  *req.add_observations() = Obs("mar", "cost", kT0 - 1800, 10);
  *req.add_observations() = Obs("mar2", "cost", kT0 + 10 * kDay, 1);
  Ingest(req);
  v1::KviValue v = KviAt("kvis/cost-mtd", kT0 + 15 * kDay);
  EXPECT_DOUBLE_EQ(v.value(), 11);
  EXPECT_EQ(v.window_start().seconds(), kT0 - 3600);  // March 1, 00:00 CET
  v = KviAt("kvis/cost-mtd", kT0 - 3000);  // Feb 28 23:10Z = 00:10 Berlin
  EXPECT_FALSE(v.has_value());             // nothing yet this month
  v = KviAt("kvis/cost-mtd", kT0 - 3700);  // still February in Berlin
  EXPECT_DOUBLE_EQ(v.value(), 100);
}

TEST_P(EvaluationServiceTest, ValueStreamFlow) {
  v1::IngestRequest req;
  // INC-A: created t, desk at t, network at t+1h (waits 2h for work), back
  // to desk at t+5h (ping-pong), resolved t+6h.
  const int64_t t = kT0 - 2 * kDay;
  auto add = [&](const std::string& id, v1::EventKind kind, int64_t time,
                 const std::string& team = "") {
    *req.add_work_item_events() = Ev(id, "INC-A", kind, time, team);
  };
  add("a1", v1::EVENT_KIND_CREATED, t);
  add("a2", v1::EVENT_KIND_ASSIGNED, t, "teams/desk");
  add("a3", v1::EVENT_KIND_ASSIGNED, t + 3600, "teams/network");
  add("a4", v1::EVENT_KIND_WAITING, t + 3600);
  add("a5", v1::EVENT_KIND_ACTIVE, t + 3 * 3600);
  add("a6", v1::EVENT_KIND_ASSIGNED, t + 5 * 3600, "teams/desk");
  add("a7", v1::EVENT_KIND_RESOLVED, t + 6 * 3600);
  Ingest(req);
  v1::GetValueStreamFlowRequest freq;
  freq.set_value_stream("valueStreams/incident");
  *freq.mutable_time() = At(kT0);
  freq.mutable_window()->set_seconds(7 * kDay);
  v1::ValueStreamFlow flow;
  ASSERT_TRUE(eval().GetValueStreamFlow(Ctx().get(), freq, &flow).ok());
  EXPECT_EQ(flow.resolved_items(), 1);
  EXPECT_EQ(flow.ping_pong_items(), 1);
  // Lead 6 h, wait 2 h: efficiency 4/6.
  EXPECT_NEAR(flow.flow_efficiency(), 4.0 / 6, 1e-12);
  ASSERT_EQ(flow.teams_size(), 2);
  EXPECT_EQ(flow.teams(0).team(), "teams/desk");
  EXPECT_DOUBLE_EQ(flow.teams(0).active_seconds(),
                   2 * 3600);  // t..t+1h, t+5h..t+6h
  EXPECT_EQ(flow.teams(1).team(), "teams/network");
  EXPECT_DOUBLE_EQ(flow.teams(1).wait_seconds(), 2 * 3600);
  EXPECT_DOUBLE_EQ(flow.teams(1).active_seconds(), 2 * 3600);
  ASSERT_EQ(flow.seams_size(), 2);
  EXPECT_EQ(flow.seams(0).from_team(), "teams/desk");
  EXPECT_EQ(flow.seams(0).to_team(), "teams/network");
  EXPECT_EQ(flow.seams(0).handoffs(), 1);
  EXPECT_DOUBLE_EQ(flow.seams(0).mean_wait_seconds(), 2 * 3600);

  freq.set_value_stream("valueStreams/none");
  EXPECT_THAT(eval().GetValueStreamFlow(Ctx().get(), freq, &flow),
              IsCode(StatusCode::NOT_FOUND));
  freq.set_value_stream("valueStreams/incident");
  freq.mutable_window()->set_seconds(-1);
  EXPECT_THAT(eval().GetValueStreamFlow(Ctx().get(), freq, &flow),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "window"));
}

TEST_P(EvaluationServiceTest, ListAndWatchStatusesFollowTheClock) {
  // Data near the real now, so the evaluation loop (which evaluates at now)
  // sees it.
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  grpc::ClientContext ctx;
  v1::WatchVlaStatusesRequest wreq;
  wreq.set_filter("value_stream = \"valueStreams/incident\"");
  auto stream = client::WatchEvents(eval().WatchVlaStatuses(&ctx, wreq));
  v1::VlaStatusEvent event;
  // Snapshot: the VLA (NO_DATA once evaluated), then the marker.
  ASSERT_TRUE(Eventually([&] {
    v1::ListVlaStatusesResponse list;
    return eval()
               .ListVlaStatuses(Ctx().get(), v1::ListVlaStatusesRequest(),
                                &list)
               .ok() &&
           list.statuses_size() == 1;
  }));
  bool complete = false;
  while (!complete && stream.Read(&event)) complete = event.snapshot_complete();
  ASSERT_TRUE(complete);

  v1::IngestRequest req;
  *req.add_observations() = Obs("n1", "happiness", now - 3600, 90);
  Ingest(req);
  // An event for the change: the happiness clause now has data. (The first
  // evaluation, NO_DATA, may come before it if it ran after the snapshot.)
  do {
    ASSERT_TRUE(stream.Read(&event));
    EXPECT_FALSE(event.snapshot());
    EXPECT_EQ(event.status().vla(), "vlas/incident-vla");
  } while (event.status().state() == v1::COMPLIANCE_STATE_NO_DATA);
  EXPECT_EQ(event.status().state(), v1::COMPLIANCE_STATE_MET);
  EXPECT_DOUBLE_EQ(event.status().score(), 100);

  v1::ListVlaStatusesRequest lreq;
  lreq.set_filter(
      "state = MET AND watermelon = false AND team = \"teams/desk\"");
  v1::ListVlaStatusesResponse list;
  ASSERT_TRUE(eval().ListVlaStatuses(Ctx().get(), lreq, &list).ok());
  ASSERT_EQ(list.statuses_size(), 1);
  lreq.set_filter("state = BREACHED");
  ASSERT_TRUE(eval().ListVlaStatuses(Ctx().get(), lreq, &list).ok());
  EXPECT_EQ(list.statuses_size(), 0);
  lreq.set_filter("colour = RED");
  EXPECT_THAT(eval().ListVlaStatuses(Ctx().get(), lreq, &list),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "colour"));
  lreq.set_filter("");
  lreq.set_page_token("garbage");
  EXPECT_THAT(eval().ListVlaStatuses(Ctx().get(), lreq, &list),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "page_token"));

  // A bad watch filter fails the stream.
  grpc::ClientContext bad_ctx;
  wreq.set_filter("state = PURPLE");
  auto bad = client::WatchEvents(eval().WatchVlaStatuses(&bad_ctx, wreq));
  EXPECT_FALSE(bad.Read(&event));
  EXPECT_THAT(bad.Finish(), IsCode(StatusCode::INVALID_ARGUMENT));
  ctx.TryCancel();
}

TEST_P(EvaluationServiceTest, WatchKviValuesStreamsSnapshotThenChanges) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  grpc::ClientContext ctx;
  v1::WatchKviValuesRequest wreq;
  Kvi("extra", ObservationKvi("extra", v1::AGGREGATION_SUM,
                              v1::DIRECTION_HIGHER_IS_BETTER));
  wreq.set_filter(
      "value_stream = \"valueStreams/incident\" AND kvi != \"kvis/lead-p90\" "
      "AND kvi != \"kvis/sla\"");
  // Wait until the first pass has published the KVIs, so the snapshot
  // holds them.
  ASSERT_TRUE(Eventually([&] {
    grpc::ClientContext probe;
    v1::WatchKviValuesRequest all;
    auto s = client::WatchEvents(eval().WatchKviValues(&probe, all));
    v1::KviValueEvent e;
    int n = 0;
    while (s.Read(&e) && !e.snapshot_complete()) ++n;
    probe.TryCancel();
    s.Finish();
    return n == 4;
  }));
  auto stream = client::WatchEvents(eval().WatchKviValues(&ctx, wreq));
  v1::KviValueEvent event;
  std::set<std::string> snapshot;
  while (stream.Read(&event) && !event.snapshot_complete()) {
    EXPECT_TRUE(event.snapshot());
    EXPECT_FALSE(event.value().has_value());
    snapshot.insert(event.value().kvi());
  }
  ASSERT_TRUE(event.snapshot_complete());
  EXPECT_EQ(snapshot, (std::set<std::string>{"kvis/happiness", "kvis/extra"}));

  v1::IngestRequest req;
  *req.add_observations() = Obs("w1", "happiness", now - 3600, 80);
  *req.add_observations() = Obs("w2", "happiness", now - 1800, 60);
  Ingest(req);
  ASSERT_TRUE(stream.Read(&event));
  EXPECT_FALSE(event.snapshot());
  EXPECT_EQ(event.value().kvi(), "kvis/happiness");
  EXPECT_TRUE(event.value().has_value());
  EXPECT_DOUBLE_EQ(event.value().value(), 70);
  EXPECT_EQ(event.value().samples(), 2);

  // A deleted KVI is removed from the stream.
  v1::DeleteKviRequest del;
  del.set_name("kvis/extra");
  google::protobuf::Empty empty;
  const grpc::Status s = vmdb().DeleteKvi(Ctx().get(), del, &empty);
  ASSERT_TRUE(s.ok()) << s.error_message();
  do {
    ASSERT_TRUE(stream.Read(&event));
  } while (event.value().kvi() != "kvis/extra");
  EXPECT_TRUE(event.removed());

  // A bad filter fails the stream.
  grpc::ClientContext bad_ctx;
  wreq.set_filter("colour = RED");
  auto bad = client::WatchEvents(eval().WatchKviValues(&bad_ctx, wreq));
  EXPECT_FALSE(bad.Read(&event));
  EXPECT_THAT(bad.Finish(), IsCodeWith(StatusCode::INVALID_ARGUMENT, "colour"));
  ctx.TryCancel();
}

// Reads without a time answer the latest evaluation pass, not a
// computation per call. The server's clock is a fake one at kT0 and its tick
// an hour long, so passes run only after new data or definitions.
class LatestPassTest : public EvaluationServiceTest {
 protected:
  LatestPassTest() : EvaluationServiceTest(Options(), testing::Db::kSqlite) {}
  static FakeClock* clock() {
    static FakeClock* const clock = new FakeClock(absl::FromUnixSeconds(kT0));
    return clock;
  }
  static ServerOptions Options() {
    clock()->Set(absl::FromUnixSeconds(kT0));
    ServerOptions o = FastOptions();
    o.evaluation_tick = absl::Hours(1);
    o.clock = clock();
    return o;
  }
  v1::VlaStatus Latest(grpc::Status* status = nullptr) {
    v1::GetVlaStatusRequest req;
    req.set_vla("vlas/incident-vla");
    v1::VlaStatus v;
    const grpc::Status s = eval().GetVlaStatus(Ctx().get(), req, &v);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return v;
  }
};

TEST_F(LatestPassTest, StatusReadsWithoutATimeAnswerTheLatestPass) {
  IngestExample();  // the pass after it evaluates at kT0: a watermelon
  v1::ListVlaStatusesResponse list;
  ASSERT_TRUE(Eventually([&] {
    list.Clear();
    return eval()
               .ListVlaStatuses(Ctx().get(), v1::ListVlaStatusesRequest(),
                                &list)
               .ok() &&
           list.statuses_size() == 1 &&
           list.statuses(0).state() == v1::COMPLIANCE_STATE_BREACHED;
  }));
  v1::VlaStatus latest = Latest();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      latest, list.statuses(0)));
  EXPECT_EQ(latest.evaluate_time().seconds(), kT0);
  EXPECT_DOUBLE_EQ(latest.score(), 25);
  EXPECT_TRUE(latest.watermelon());

  // 40 days later the windows hold nothing, but no pass has run since: a
  // read without a time still answers the pass at kT0; with a time it
  // computes.
  clock()->Advance(absl::Hours(24 * 40));
  latest = Latest();
  EXPECT_EQ(latest.evaluate_time().seconds(), kT0);
  EXPECT_EQ(latest.state(), v1::COMPLIANCE_STATE_BREACHED);
  const v1::VlaStatus computed = VlaAt("vlas/incident-vla", kT0 + 40 * kDay);
  EXPECT_EQ(computed.state(), v1::COMPLIANCE_STATE_NO_DATA);
  EXPECT_EQ(computed.evaluate_time().seconds(), kT0 + 40 * kDay);

  v1::GetKviValueRequest kreq;
  kreq.set_kvi("kvis/happiness");
  v1::KviValue value;
  ASSERT_TRUE(eval().GetKviValue(Ctx().get(), kreq, &value).ok());
  EXPECT_EQ(value.kvi(), "kvis/happiness");
  EXPECT_DOUBLE_EQ(value.value(), 50);
  EXPECT_EQ(value.window_end().seconds(), kT0);
  EXPECT_FALSE(KviAt("kvis/happiness", kT0 + 40 * kDay).has_value());

  // A retired VLA is not answered for, with or without a time.
  v1::UpdateVlaRequest update;
  update.mutable_vla()->set_name("vlas/incident-vla");
  update.mutable_vla()->set_state(v1::VLA_STATE_RETIRED);
  update.mutable_update_mask()->add_paths("state");
  v1::Vla out;
  ASSERT_TRUE(vmdb().UpdateVla(Ctx().get(), update, &out).ok());
  grpc::Status status;
  EXPECT_TRUE(Eventually([&] {
    Latest(&status);
    return status.error_code() == StatusCode::FAILED_PRECONDITION;
  })) << status.error_message();
  // An unknown VLA: NOT_FOUND as before.
  v1::GetVlaStatusRequest req;
  req.set_vla("vlas/none");
  v1::VlaStatus none;
  EXPECT_THAT(eval().GetVlaStatus(Ctx().get(), req, &none),
              IsCode(StatusCode::NOT_FOUND));
}

// --- History: ListVlaEvaluations, GetVlaReport, GetKviSeries ---------------

absl::Time Utc(int y, int m, int d, int hh = 0) {
  return absl::FromCivil(absl::CivilHour(y, m, d, hh), absl::UTCTimeZone());
}

// The VMDB's and the evaluator's clock, set by the test: each evaluation
// pass evaluates at its instant, so the published history is hand-made.
struct FakeClockHolder {
  FakeClock clock{Utc(2026, 2, 20)};
};

ServerOptions WithClock(const Clock* clock) {
  ServerOptions o = FastOptions();
  o.clock = clock;
  return o;
}

class HistoryTest : protected FakeClockHolder, public EvaluationServiceTest {
 protected:
  HistoryTest()
      : EvaluationServiceTest(WithClock(&clock), testing::Db::kSqlite) {}

  std::vector<v1::VlaStatus> Evaluations(absl::Time from, absl::Time to,
                                         int page_size = 0,
                                         std::string* next = nullptr,
                                         grpc::Status* status = nullptr) {
    v1::ListVlaEvaluationsRequest req;
    req.set_vla("vlas/incident-vla");
    *req.mutable_start_time() = ToProtoTime(from);
    *req.mutable_end_time() = ToProtoTime(to);
    req.set_page_size(page_size);
    if (next != nullptr) req.set_page_token(*next);
    v1::ListVlaEvaluationsResponse resp;
    const grpc::Status s = eval().ListVlaEvaluations(Ctx().get(), req, &resp);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    if (next != nullptr) *next = resp.next_page_token();
    return {resp.evaluations().begin(), resp.evaluations().end()};
  }

  // How many VLA statuses ListVlaStatuses answers (published ones).
  int ListedStatuses() {
    v1::ListVlaStatusesResponse resp;
    const grpc::Status s = eval().ListVlaStatuses(
        Ctx().get(), v1::ListVlaStatusesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.statuses_size();
  }

  // Waits until `count` evaluations are stored, the last one in `state`.
  void WaitForEvaluations(size_t count, v1::ComplianceState state) {
    std::vector<v1::VlaStatus> all;
    EXPECT_TRUE(Eventually([&] {
      all = Evaluations(Utc(2025, 1, 1), Utc(2028, 1, 1));
      return all.size() == count && all.back().state() == state;
    })) << count
        << " " << v1::ComplianceState_Name(state) << ": " << all.size()
        << " evaluations, the last "
        << (all.empty() ? "-" : v1::ComplianceState_Name(all.back().state()));
  }

  // Ingests at the clock's instant `at`.
  void IngestAt(absl::Time at, const v1::IngestRequest& req) {
    clock.Set(at);
    Ingest(req);
  }

  // The worked history (all times UTC, windows of 30 days):
  // - Feb 20: the VLA is created; no data: NO_DATA published;
  // - Mar 5 12:00: happiness 90, an item resolved in 1 h within SLA: MET;
  // - Mar 15 12:00: happiness 20 (mean 55: AT_RISK, score 75): AT_RISK,
  //   and a watermelon (SLA 100%);
  // - Mar 25 12:00: happiness 10 (mean 40) and an item of 15 d (p90
  //   13.5 d): BREACHED, a watermelon; then revision 2 adds a co-measured
  //   CSAT clause whose two sides disagree: still BREACHED, and disputed.
  void MakeHistory() {
    WaitForEvaluations(1, v1::COMPLIANCE_STATE_NO_DATA);
    v1::Kvi csat = ObservationKvi("csat", v1::AGGREGATION_MEAN,
                                  v1::DIRECTION_HIGHER_IS_BETTER);
    csat.mutable_co_measurement()->set_enabled(true);
    csat.mutable_co_measurement()->set_absolute_tolerance(0.5);
    Kvi("csat", csat);

    const int64_t mar5 = absl::ToUnixSeconds(Utc(2026, 3, 5, 12));
    v1::IngestRequest req;
    *req.add_observations() = Obs("h1", "happiness", mar5 - 3600, 90);
    *req.add_work_item_events() =
        Ev("i1-c", "INC1", v1::EVENT_KIND_CREATED, mar5 - 7200);
    *req.add_work_item_events() =
        Ev("i1-r", "INC1", v1::EVENT_KIND_RESOLVED, mar5 - 3600);
    IngestAt(Utc(2026, 3, 5, 12), req);
    WaitForEvaluations(2, v1::COMPLIANCE_STATE_MET);

    const int64_t mar15 = absl::ToUnixSeconds(Utc(2026, 3, 15, 12));
    req.Clear();
    *req.add_observations() = Obs("h2", "happiness", mar15 - 3600, 20);
    IngestAt(Utc(2026, 3, 15, 12), req);
    WaitForEvaluations(3, v1::COMPLIANCE_STATE_AT_RISK);

    const int64_t mar25 = absl::ToUnixSeconds(Utc(2026, 3, 25, 12));
    req.Clear();
    *req.add_observations() = Obs("h3", "happiness", mar25 - 3600, 10);
    *req.add_observations() =
        Obs("c1", "csat", mar25 - 3600, 4.0, "teams/business");
    *req.add_observations() =
        Obs("c2", "csat", mar25 - 3600, 4.9, "teams/desk");
    *req.add_work_item_events() =
        Ev("i2-c", "INC2", v1::EVENT_KIND_CREATED, mar25 - 3600 - 15 * kDay);
    *req.add_work_item_events() =
        Ev("i2-r", "INC2", v1::EVENT_KIND_RESOLVED, mar25 - 3600);
    IngestAt(Utc(2026, 3, 25, 12), req);
    WaitForEvaluations(4, v1::COMPLIANCE_STATE_BREACHED);

    v1::UpdateVlaRequest up;
    up.mutable_vla()->set_name("vlas/incident-vla");
    v1::Vla current;
    v1::GetVlaRequest get;
    get.set_name("vlas/incident-vla");
    ASSERT_TRUE(vmdb().GetVla(Ctx().get(), get, &current).ok());
    *up.mutable_vla()->mutable_clauses() = current.clauses();
    v1::Clause* c = up.mutable_vla()->add_clauses();
    c->set_kvi("kvis/csat");
    c->set_target(4);
    c->set_warning(3.5);
    up.mutable_update_mask()->add_paths("clauses");
    v1::Vla updated;
    const grpc::Status s = vmdb().UpdateVla(Ctx().get(), up, &updated);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(updated.revision(), 2);
    std::vector<v1::VlaStatus> all;
    ASSERT_TRUE(Eventually([&] {
      all = Evaluations(Utc(2025, 1, 1), Utc(2028, 1, 1));
      return all.size() == 5 && all.back().disputed();
    }));
    clock.Set(Utc(2026, 4, 10));
  }

  v1::VlaReport Report(v1::GetVlaReportRequest req,
                       grpc::Status* status = nullptr) {
    if (req.vla().empty()) req.set_vla("vlas/incident-vla");
    v1::VlaReport report;
    const grpc::Status s = eval().GetVlaReport(Ctx().get(), req, &report);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return report;
  }

  static v1::GetVlaReportRequest Months(absl::Time from, absl::Time to,
                                        const std::string& zone = "") {
    v1::GetVlaReportRequest req;
    req.set_period(v1::CALENDAR_PERIOD_MONTH);
    req.set_time_zone(zone);
    *req.mutable_start_time() = ToProtoTime(from);
    *req.mutable_end_time() = ToProtoTime(to);
    return req;
  }
};

// MET, AT_RISK, BREACHED, NO_DATA shares of `p`, checking their order and
// that they sum to 1.
std::vector<double> Shares(const v1::PeriodReport& p) {
  const v1::ComplianceState order[] = {
      v1::COMPLIANCE_STATE_MET, v1::COMPLIANCE_STATE_AT_RISK,
      v1::COMPLIANCE_STATE_BREACHED, v1::COMPLIANCE_STATE_NO_DATA};
  std::vector<double> out;
  double sum = 0;
  EXPECT_EQ(p.time_in_state_size(), 4);
  for (int i = 0; i < p.time_in_state_size() && i < 4; ++i) {
    EXPECT_EQ(p.time_in_state(i).state(), order[i]);
    out.push_back(p.time_in_state(i).fraction());
    sum += out.back();
  }
  EXPECT_NEAR(sum, 1, 1e-9);
  return out;
}

MATCHER_P4(SharesAre, met, at_risk, breached, no_data, "") {
  const std::vector<double> got = Shares(arg);
  const double want[] = {static_cast<double>(met), static_cast<double>(at_risk),
                         static_cast<double>(breached),
                         static_cast<double>(no_data)};
  for (int i = 0; i < 4; ++i) {
    if (got.size() != 4 || std::fabs(got[i] - want[i]) > 1e-9) {
      *result_listener << "shares " << ::testing::PrintToString(got);
      return false;
    }
  }
  return true;
}

TEST_F(HistoryTest, EvaluationsAreListedOldestFirstWithTheirRevisionInPages) {
  MakeHistory();
  std::vector<v1::VlaStatus> all =
      Evaluations(Utc(2026, 2, 1), Utc(2026, 4, 10));
  ASSERT_EQ(all.size(), 5u);
  const absl::Time times[] = {Utc(2026, 2, 20), Utc(2026, 3, 5, 12),
                              Utc(2026, 3, 15, 12), Utc(2026, 3, 25, 12),
                              Utc(2026, 3, 25, 12)};
  const v1::ComplianceState states[] = {
      v1::COMPLIANCE_STATE_NO_DATA, v1::COMPLIANCE_STATE_MET,
      v1::COMPLIANCE_STATE_AT_RISK, v1::COMPLIANCE_STATE_BREACHED,
      v1::COMPLIANCE_STATE_BREACHED};
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(FromProtoTime(all[i].evaluate_time()), times[i]) << i;
    EXPECT_EQ(all[i].state(), states[i]) << i;
    EXPECT_EQ(all[i].vla_revision(), i < 4 ? 1 : 2) << i;
    EXPECT_FALSE(all[i].explanation().empty());
  }
  EXPECT_TRUE(all[2].watermelon());
  EXPECT_FALSE(all[3].disputed());
  EXPECT_TRUE(all[4].disputed());
  EXPECT_EQ(all[4].clauses_size(), 3);

  // Pages of two: the same five, in the same order.
  std::string token;
  std::vector<v1::VlaStatus> paged;
  int pages = 0;
  do {
    for (auto& e : Evaluations(Utc(2026, 2, 1), Utc(2026, 4, 10), 2, &token)) {
      paged.push_back(e);
    }
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(paged.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(paged[i], all[i])) << i;
  }
  // [start, end) is half-open; by default the last 30 days (from Mar 11).
  EXPECT_EQ(Evaluations(Utc(2026, 3, 5, 12), Utc(2026, 3, 25, 12)).size(), 2u);
  v1::ListVlaEvaluationsRequest req;
  req.set_vla("vlas/incident-vla");
  v1::ListVlaEvaluationsResponse resp;
  ASSERT_TRUE(eval().ListVlaEvaluations(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.evaluations_size(), 3);

  // Errors: a token of another request, a bad one, a bad name, an unknown
  // VLA, a negative page size, start after end.
  grpc::Status status;
  token.clear();
  Evaluations(Utc(2026, 2, 1), Utc(2026, 4, 10), 2, &token);
  ASSERT_FALSE(token.empty());
  Evaluations(Utc(2026, 2, 2), Utc(2026, 4, 10), 2, &token, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "page_token"));
  req.set_page_token("garbage");
  EXPECT_THAT(eval().ListVlaEvaluations(Ctx().get(), req, &resp),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "page_token"));
  req.clear_page_token();
  req.set_page_size(-1);
  EXPECT_THAT(eval().ListVlaEvaluations(Ctx().get(), req, &resp),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "page_size"));
  req.set_page_size(0);
  req.set_vla("incident-vla");
  EXPECT_THAT(eval().ListVlaEvaluations(Ctx().get(), req, &resp),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "vla"));
  req.set_vla("vlas/nope");
  EXPECT_THAT(eval().ListVlaEvaluations(Ctx().get(), req, &resp),
              IsCodeWith(StatusCode::NOT_FOUND, "vlas/nope"));
  Evaluations(Utc(2026, 4, 1), Utc(2026, 3, 1), 0, nullptr, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "start_time"));
  req.set_vla("vlas/incident-vla");
  req.mutable_end_time()->set_nanos(-1);
  EXPECT_THAT(eval().ListVlaEvaluations(Ctx().get(), req, &resp),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "end_time"));
}

TEST_F(HistoryTest, MonthlyReportsAgainstHandWorkedValues) {
  MakeHistory();
  // March in UTC (744 h): NO_DATA (published Feb 20) until the 5th 12:00
  // (108 h), MET 240 h, AT_RISK 240 h, BREACHED 156 h; a watermelon while
  // AT_RISK and BREACHED, disputed for the last 156 h.
  v1::VlaReport report = Report(Months(Utc(2026, 3, 1), Utc(2026, 4, 1)));
  EXPECT_EQ(report.vla(), "vlas/incident-vla");
  EXPECT_EQ(report.period(), v1::CALENDAR_PERIOD_MONTH);
  EXPECT_EQ(report.time_zone(), "UTC");
  ASSERT_EQ(report.periods_size(), 1);
  const v1::PeriodReport march = report.periods(0);
  EXPECT_EQ(FromProtoTime(march.period_start()), Utc(2026, 3, 1));
  EXPECT_EQ(FromProtoTime(march.period_end()), Utc(2026, 4, 1));
  EXPECT_TRUE(march.complete());
  EXPECT_THAT(march,
              SharesAre(240.0 / 744, 240.0 / 744, 156.0 / 744, 108.0 / 744));
  EXPECT_NEAR(march.watermelon_fraction(), 396.0 / 744, 1e-9);
  EXPECT_NEAR(march.disputed_fraction(), 156.0 / 744, 1e-9);
  EXPECT_EQ(march.evaluations(), 4);
  // The status: revision 2 (in force at the end: it was made on the 25th)
  // with every KVI over March: happiness mean(90, 20, 10) = 40 BREACHED,
  // p90 of {1 h, 15 d} = 1 h + 0.9 * (15 d - 1 h) BREACHED, CSAT 4.0 vs 4.9
  // DISPUTED: score 100 * 0.5 / 3; SLA 100%: a watermelon.
  const v1::VlaStatus& st = march.status();
  EXPECT_EQ(st.vla_revision(), 2);
  EXPECT_EQ(FromProtoTime(st.evaluate_time()), Utc(2026, 4, 1));
  EXPECT_EQ(st.state(), v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_NEAR(st.score(), 100.0 / 6, 1e-9);
  EXPECT_TRUE(st.watermelon());
  EXPECT_TRUE(st.disputed());
  ASSERT_EQ(st.clauses_size(), 3);
  EXPECT_DOUBLE_EQ(st.clauses(0).value(), 40);
  EXPECT_EQ(st.clauses(0).samples(), 3);
  EXPECT_NEAR(st.clauses(1).value(), 3600 + 0.9 * (15 * kDay - 3600), 1e-6);
  EXPECT_EQ(st.clauses(1).state(), v1::CLAUSE_STATE_BREACHED);
  EXPECT_EQ(st.clauses(2).state(), v1::CLAUSE_STATE_DISPUTED);
  EXPECT_THAT(st.explanation(), HasSubstr("watermelon"));

  // The same month in Europe/Berlin straddles the start of summer time
  // (March 29): [Feb 28 23:00Z, Mar 31 22:00Z), 743 h; NO_DATA 109 h,
  // BREACHED 154 h.
  report = Report(Months(Utc(2026, 3, 10), Utc(2026, 3, 11), "Europe/Berlin"));
  ASSERT_EQ(report.periods_size(), 1);
  const v1::PeriodReport& berlin = report.periods(0);
  EXPECT_EQ(FromProtoTime(berlin.period_start()), Utc(2026, 2, 28, 23));
  EXPECT_EQ(FromProtoTime(berlin.period_end()), Utc(2026, 3, 31, 22));
  EXPECT_THAT(berlin,
              SharesAre(240.0 / 743, 240.0 / 743, 154.0 / 743, 109.0 / 743));
  EXPECT_NEAR(berlin.watermelon_fraction(), 394.0 / 743, 1e-9);
  EXPECT_EQ(FromProtoTime(berlin.status().evaluate_time()),
            Utc(2026, 3, 31, 22));
  EXPECT_DOUBLE_EQ(berlin.status().clauses(0).value(), 40);

  // The default: the last six months, the current one included.
  report = Report(v1::GetVlaReportRequest());
  ASSERT_EQ(report.periods_size(), 6);
  EXPECT_EQ(FromProtoTime(report.periods(0).period_start()), Utc(2025, 11, 1));
  // Before the first data: NO_DATA, never zeros. January: no revision was
  // in force yet (the first one is used), nothing published; February:
  // revision 1, NO_DATA published on the 20th.
  for (int i : {0, 1, 2, 3}) {
    SCOPED_TRACE(i);
    const v1::PeriodReport& p = report.periods(i);
    EXPECT_TRUE(p.complete());
    EXPECT_EQ(p.status().state(), v1::COMPLIANCE_STATE_NO_DATA);
    EXPECT_EQ(p.status().vla_revision(), 1);
    EXPECT_THAT(p, SharesAre(0, 0, 0, 1));
    EXPECT_EQ(p.evaluations(), i == 3 ? 1 : 0);
    for (const v1::ClauseStatus& c : p.status().clauses()) {
      EXPECT_FALSE(c.has_value());
      EXPECT_EQ(c.state(), v1::CLAUSE_STATE_NO_DATA);
    }
  }
  EXPECT_TRUE(MessageDifferencer::Equals(report.periods(4), march));
  // April to date: not complete; BREACHED, a disputed watermelon since
  // March 25; its own status has no data yet (nothing in [Apr 1, Apr 10)).
  const v1::PeriodReport& april = report.periods(5);
  EXPECT_FALSE(april.complete());
  EXPECT_EQ(FromProtoTime(april.period_end()), Utc(2026, 5, 1));
  EXPECT_EQ(FromProtoTime(april.status().evaluate_time()), Utc(2026, 4, 10));
  EXPECT_EQ(april.status().state(), v1::COMPLIANCE_STATE_NO_DATA);
  EXPECT_THAT(april, SharesAre(0, 0, 1, 0));
  EXPECT_EQ(april.watermelon_fraction(), 1);
  EXPECT_EQ(april.disputed_fraction(), 1);

  // Quarters and years: Q1 2026 holds everything.
  v1::GetVlaReportRequest quarter = Months(Utc(2026, 1, 1), Utc(2026, 4, 1));
  quarter.set_period(v1::CALENDAR_PERIOD_QUARTER);
  report = Report(quarter);
  ASSERT_EQ(report.periods_size(), 1);
  EXPECT_EQ(report.periods(0).evaluations(), 5);
  EXPECT_DOUBLE_EQ(report.periods(0).status().clauses(0).value(), 40);
}

TEST_F(HistoryTest, ReportErrors) {
  WaitForEvaluations(1, v1::COMPLIANCE_STATE_NO_DATA);
  grpc::Status status;
  v1::GetVlaReportRequest req;
  req.set_period(static_cast<v1::CalendarPeriod>(9));
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "period"));
  req.set_period(v1::CALENDAR_PERIOD_YEAR);
  req.set_time_zone("Mars/Olympus_Mons");
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "time_zone"));
  req = Months(Utc(2026, 3, 1), Utc(2026, 3, 1));
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "start_time"));
  req = Months(Utc(2000, 1, 1), Utc(2026, 3, 1));  // 314 months
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "120"));
  req.set_period(v1::CALENDAR_PERIOD_YEAR);  // 27 years
  EXPECT_EQ(Report(req).periods_size(), 27);
  req.set_vla("vlas/nope");
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::NOT_FOUND, "vlas/nope"));
  req.set_vla("nope");
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "vla"));
  req.set_vla("vlas/incident-vla");
  req.mutable_start_time()->set_nanos(-1);
  Report(req, &status);
  EXPECT_THAT(status, IsCodeWith(StatusCode::INVALID_ARGUMENT, "start_time"));
  // Periods that have not begun are left out.
  req = Months(Utc(2026, 6, 1), Utc(2026, 9, 1));
  EXPECT_EQ(Report(req).periods_size(), 0);
}

TEST_F(HistoryTest, SeriesPointsEqualGetKviValue) {
  MakeHistory();
  for (const char* kvi : {"kvis/lead-p90", "kvis/happiness", "kvis/csat"}) {
    SCOPED_TRACE(kvi);
    v1::GetKviSeriesRequest req;
    req.set_kvi(kvi);
    *req.mutable_start_time() = ToProtoTime(Utc(2026, 2, 28, 5));
    *req.mutable_end_time() = ToProtoTime(Utc(2026, 4, 10));
    req.mutable_step()->set_seconds(6 * 3600 + 7 * 60 + 11);
    v1::KviSeries series;
    const grpc::Status s = eval().GetKviSeries(Ctx().get(), req, &series);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(series.kvi(), kvi);
    // ceil((40 d 19 h) / 6:07:11) = ceil(3524400 s / 22031 s)
    ASSERT_EQ(series.points_size(), 160);
    int with_value = 0;
    for (const v1::KviValue& point : series.points()) {
      const v1::KviValue value =
          KviAt(kvi, absl::ToUnixSeconds(FromProtoTime(point.window_end())));
      EXPECT_TRUE(MessageDifferencer::Equals(point, value))
          << point.DebugString() << " vs " << value.DebugString();
      with_value += point.has_value();
    }
    EXPECT_GT(with_value, 50);  // CSAT from March 25 only
  }

  // Defaults: 30 points, a day apart, up to now.
  v1::GetKviSeriesRequest req;
  req.set_kvi("kvis/happiness");
  v1::KviSeries series;
  ASSERT_TRUE(eval().GetKviSeries(Ctx().get(), req, &series).ok());
  ASSERT_EQ(series.points_size(), 30);
  EXPECT_EQ(FromProtoTime(series.points(29).window_end()), Utc(2026, 4, 9));
  EXPECT_DOUBLE_EQ(series.points(29).value(), 15);  // mean(20, 10)

  // Errors.
  req.mutable_step()->set_seconds(59);
  EXPECT_THAT(eval().GetKviSeries(Ctx().get(), req, &series),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "step"));
  req.mutable_step()->set_seconds(60);
  *req.mutable_start_time() = ToProtoTime(Utc(2026, 3, 1));
  *req.mutable_end_time() = ToProtoTime(Utc(2026, 3, 1) + absl::Minutes(10001));
  EXPECT_THAT(eval().GetKviSeries(Ctx().get(), req, &series),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "10000"));
  *req.mutable_end_time() = ToProtoTime(Utc(2026, 3, 1) + absl::Minutes(10000));
  ASSERT_TRUE(eval().GetKviSeries(Ctx().get(), req, &series).ok());
  EXPECT_EQ(series.points_size(), 10000);
  *req.mutable_end_time() = req.start_time();
  EXPECT_THAT(eval().GetKviSeries(Ctx().get(), req, &series),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "start_time"));
  req.clear_end_time();
  req.mutable_step()->set_nanos(-5);
  EXPECT_THAT(eval().GetKviSeries(Ctx().get(), req, &series),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "step"));
  req.clear_step();
  req.set_kvi("kvis/nope");
  EXPECT_THAT(eval().GetKviSeries(Ctx().get(), req, &series),
              IsCodeWith(StatusCode::NOT_FOUND, "kvis/nope"));
  req.set_kvi("nope");
  EXPECT_THAT(eval().GetKviSeries(Ctx().get(), req, &series),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "kvi"));
}

// The real vlactl against the server, with the worked history's values
// (MonthlyReportsAgainstHandWorkedValues) as people read them: March's
// shares 240/744 = 32.3%, 156/744 = 21%, 108/744 = 14.5%, watermelon
// 396/744 = 53.2%.
TEST_F(HistoryTest, VlactlReportHistoryAndSeries) {
  MakeHistory();
  testing::TempDir dir;
  auto vlactl = [&](const std::string& args) {
    return testing::RunCommand(
        absl::StrCat("NO_COLOR=1 VLA_SERVER=", server_.address(), " ",
                     VLACTL_PATH, " ", args),
        dir);
  };
  const std::string report =
      "report vla/incident-vla --last 3 --until 2026-04-10";
  testing::CommandResult r = vlactl(report);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(
      r.out,
      HasSubstr(
          "vlas/incident-vla: monthly compliance (UTC)\n\n"
          "PERIOD              STATE      SCORE   MET     AT_RISK   BREACHED   "
          "NO_DATA   WATERMELON   DISPUTED   EVALUATIONS   WORST\n"
          "2026-02             NO_DATA    -       0%      0%        0%         "
          "100%      0%           0%         1             -\n"
          "2026-03             BREACHED   16.7    32.3%   32.3%     21%        "
          "14.5%     53.2%        21%        4             happiness BREACHED, "
          "lead-p90 BREACHED\n"
          "2026-04 (to date)   NO_DATA    -       0%      0%        100%       "
          "0%        100%         100%       0             -\n\n"
          "2026-04 (to date): NO_DATA: happiness has no data;"))
      << r.out;
  const std::string csv_rows =
      "PERIOD,STATE,SCORE,MET,AT_RISK,BREACHED,NO_DATA,WATERMELON,DISPUTED,"
      "EVALUATIONS,WORST\n"
      "2026-02,NO_DATA,-,0%,0%,0%,100%,0%,0%,1,-\n"
      "2026-03,BREACHED,16.7,32.3%,32.3%,21%,14.5%,53.2%,21%,4,"
      "\"happiness BREACHED, lead-p90 BREACHED\"\n"
      "2026-04 (to date),NO_DATA,-,0%,0%,100%,0%,100%,100%,0,-\n";
  r = vlactl(report + " -o csv");
  EXPECT_EQ(r.out, csv_rows) << r.err;
  r = vlactl(report + " -o markdown");
  EXPECT_THAT(
      r.out,
      HasSubstr("### vlas/incident-vla: monthly compliance (UTC)\n\n"
                "| PERIOD | STATE | SCORE | MET | AT_RISK | BREACHED | NO_DATA "
                "| WATERMELON | DISPUTED | EVALUATIONS | WORST |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|\n"
                "| 2026-02 | NO_DATA | - | 0% | 0% | 0% | 100% | 0% | 0% | 1 | "
                "- |\n"))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("\n- **2026-03**: BREACHED (score 16.7): "
                               "happiness 40 is worse than the warning 50;"));
  // Europe/Berlin: March is 743 h; BREACHED 154 h (20.7%), NO_DATA 109 h.
  r = vlactl(
      "report vla/incident-vla --last 1 --until 2026-03-10 "
      "--time-zone Europe/Berlin -o csv");
  EXPECT_THAT(r.out, HasSubstr("\n2026-03,BREACHED,16.7,32.3%,32.3%,20.7%,"
                               "14.7%,53%,20.7%,4,"))
      << r.out << r.err;
  r = vlactl(
      "report vla/incident-vla --period quarter --last 1 --until 2026-03-10 "
      "-o csv");
  EXPECT_THAT(r.out, HasSubstr("\n2026-Q1,BREACHED,16.7,")) << r.out << r.err;

  // Every evaluation, with its revision.
  r = vlactl("history vla/incident-vla --since 60d --until 2026-04-10 -o csv");
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_EQ(lines.size(), 7u) << r.out;  // header, 5 rows, ""
  EXPECT_EQ(lines[0],
            "TIME (UTC),REVISION,STATE,SCORE,WATERMELON,DISPUTED,EXPLANATION");
  EXPECT_EQ(lines[2],
            "2026-03-05 12:00,1,MET,100,no,no,MET (score 100): happiness 90 "
            "meets its target 70; p90 lead time 1 h meets its target 5 d; SLA "
            "compliance 100% meets its 95% target");
  EXPECT_THAT(lines[3], ::testing::StartsWith(
                            "2026-03-15 12:00,1,AT_RISK,75,yes,no,AT_RISK"));
  EXPECT_THAT(lines[5], ::testing::StartsWith(
                            "2026-03-25 12:00,2,BREACHED,16.7,yes,yes,"));
  r = vlactl("history vla/incident-vla --since 1d --until 2026-04-10");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("No evaluations of vlas/incident-vla"));

  // Series: happiness over 30 days at Mar 15, 20 and 25 12:00: mean(90, 20),
  // the same, mean(90, 20, 10); the p90 lead time in its unit.
  r = vlactl(
      "series kvi/happiness --since 10d --step 5d "
      "--until 2026-03-25T12:00:00Z");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "kvis/happiness: 3 points, every 5d, 2026-03-15 12:00 .. "
            "2026-03-25 12:00 UTC\n"
            "██▁\n"
            "vlas/incident-vla (ACTIVE): target 70, warning 50\n\n"
            "TIME (UTC)         VALUE   SAMPLES\n"
            "2026-03-15 12:00   55      2\n"
            "2026-03-20 12:00   55      2\n"
            "2026-03-25 12:00   40      3\n");
  r = vlactl(
      "series kvi/lead-p90 --since 10d --step 5d --until 2026-03-25T12:00:00Z");
  EXPECT_THAT(r.out, HasSubstr("▁▁█\nvlas/incident-vla (ACTIVE): target 5 d, "
                               "warning 7 d\n"));
  EXPECT_THAT(r.out, HasSubstr("2026-03-25 12:00   13.5 d   2\n"));
  // CSV keeps the plain number: 1 h + 0.9 * (15 d - 1 h) seconds.
  r = vlactl(
      "series kvi/lead-p90 --since 10d --step 5d --until 2026-03-25T12:00:00Z "
      "-o csv");
  EXPECT_THAT(r.out, HasSubstr("\n2026-03-25 12:00,1166760,2\n")) << r.out;

  // explain: values in their KVI's unit (happiness over [Mar 11, Apr 10):
  // mean(20, 10)); attainment blank without a baseline.
  r = vlactl("explain vla/incident-vla");
  EXPECT_THAT(r.out,
              HasSubstr("kvis/happiness   BREACHED   15      70       50     "
                        "                2\n"
                        "kvis/lead-p90    BREACHED   15 d    5 d      7 d"))
      << r.out;

  // Every format parses: JSON and YAML as documents.
  for (const std::string& cmd :
       {report,
        std::string("history vla/incident-vla --since 60d --until "
                    "2026-04-10"),
        std::string("series kvi/happiness --since 10d --until 2026-03-25")}) {
    SCOPED_TRACE(cmd);
    r = vlactl(cmd + " -o json");
    ASSERT_EQ(r.code, 0) << r.err;
    google::protobuf::Value json;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &json).ok())
        << r.out;
    r = vlactl(cmd + " -o yaml");
    ASSERT_EQ(r.code, 0) << r.err;
    YAML::Node yaml;
    EXPECT_NO_THROW(yaml = YAML::Load(r.out)) << r.out;
    EXPECT_TRUE(yaml.IsMap()) << r.out;
    for (const char* rows : {"csv", "markdown"}) {
      r = vlactl(absl::StrCat(cmd, " -o ", rows));
      EXPECT_EQ(r.code, 0) << r.err;
      EXPECT_THAT(r.out, ::testing::ContainsRegex("TIME|PERIOD")) << r.out;
    }
  }

  // Usage errors exit 1, an unknown VLA 3 (NOT_FOUND).
  for (const char* bad : {"report", "report kvi/happiness",
                          "report vla/incident-vla --period "
                          "week",
                          "report vla/incident-vla --last 0",
                          "report vla/incident-vla --time-zone Mars/Base",
                          "history vla/incident-vla --since -1d",
                          "history vla/incident-vla --until yesterday",
                          "series kvi/happiness --step 0",
                          "series vla/incident-vla", "status -o csv"}) {
    EXPECT_EQ(vlactl(bad).code, 1) << bad;
  }
  EXPECT_EQ(vlactl("report vla/nope").code, 3);
  EXPECT_EQ(vlactl("series kvi/nope").code, 3);
}

TEST_F(HistoryTest, EvaluationsOlderThan400DaysArePrunedButTheLastStateStays) {
  WaitForEvaluations(1, v1::COMPLIANCE_STATE_NO_DATA);
  const int64_t mar5 = absl::ToUnixSeconds(Utc(2026, 3, 5, 12));
  v1::IngestRequest req;
  *req.add_observations() = Obs("h1", "happiness", mar5 - 3600, 90);
  IngestAt(Utc(2026, 3, 5, 12), req);
  WaitForEvaluations(2, v1::COMPLIANCE_STATE_MET);
  // 401 days later the windows are empty (NO_DATA is published) and the
  // pass prunes what is older than 400 days (before 2026-03-06 12:00):
  // the NO_DATA of Feb 20, not the MET of Mar 5, the state in force since.
  clock.Set(Utc(2026, 3, 5, 12) + absl::Hours(24 * 401));
  std::vector<v1::VlaStatus> all;
  ASSERT_TRUE(Eventually([&] {
    all = Evaluations(Utc(2025, 1, 1), Utc(2028, 1, 1));
    return all.size() == 2 && all[0].state() == v1::COMPLIANCE_STATE_MET;
  })) << all.size();
  EXPECT_EQ(all[1].state(), v1::COMPLIANCE_STATE_NO_DATA);
  EXPECT_EQ(FromProtoTime(all[1].evaluate_time()),
            Utc(2026, 3, 5, 12) + absl::Hours(24 * 401));
  // So a month between them is still known to have been MET throughout.
  const v1::VlaReport report = Report(Months(Utc(2027, 1, 1), Utc(2027, 2, 1)));
  ASSERT_EQ(report.periods_size(), 1);
  EXPECT_THAT(report.periods(0), SharesAre(1, 0, 0, 0));
  // A restart keeps the pruned history and the revisions.
  server_.Restart();
  // Once the first pass after the restart has published (a VLA is listed
  // only then, after its evaluation is stored), the unchanged NO_DATA was
  // not stored again.
  ASSERT_TRUE(Eventually([&] { return ListedStatuses() == 1; }));
  const std::vector<v1::VlaStatus> kept =
      Evaluations(Utc(2025, 1, 1), Utc(2028, 1, 1));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].state(), v1::COMPLIANCE_STATE_MET);
  EXPECT_EQ(FromProtoTime(kept[1].evaluate_time()),
            Utc(2026, 3, 5, 12) + absl::Hours(24 * 401));
  EXPECT_EQ(Report(Months(Utc(2027, 1, 1), Utc(2027, 2, 1)))
                .periods(0)
                .status()
                .vla_revision(),
            1);
}

}  // namespace
}  // namespace vla
