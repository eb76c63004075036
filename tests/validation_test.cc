#include "common/validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "tests/fixtures.h"
#include "tests/test_util.h"

namespace vla::vmdb {
namespace {

using testing::AbslIsCodeWith;
using testing::MakeKvi;
using testing::MakeObjective;
using testing::MakeTeam;
using testing::MakeValueStream;
using testing::MakeVla;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename R>
struct Case {
  std::string name;
  std::function<void(R*)> mutate;
  std::string error;  // expected substring of the INVALID_ARGUMENT message
};

template <typename R>
void ExpectCases(const R& valid,
                 absl::Status (*validate)(const R&, absl::string_view,
                                          std::vector<Reference>*),
                 absl::string_view prefix, const std::vector<Case<R>>& cases) {
  std::vector<Reference> refs;
  ASSERT_TRUE(validate(valid, prefix, &refs).ok())
      << validate(valid, prefix, &refs);
  for (const Case<R>& c : cases) {
    R r = valid;
    c.mutate(&r);
    refs.clear();
    EXPECT_THAT(validate(r, prefix, &refs),
                AbslIsCodeWith(absl::StatusCode::kInvalidArgument, c.error))
        << c.name;
  }
}

TEST(IdTest, Pattern) {
  EXPECT_TRUE(IsValidId("a"));
  EXPECT_TRUE(IsValidId("service-desk-2"));
  EXPECT_TRUE(IsValidId(std::string(63, 'a')));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidId("2fast"));
  EXPECT_FALSE(IsValidId("Upper"));
  EXPECT_FALSE(IsValidId("under_score"));
  EXPECT_FALSE(IsValidId("-x"));
}

TEST(ParseNameTest, CollectionAndId) {
  auto id = ParseName("kvi", "kvis/lead-time", "kvis");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "lead-time");
  EXPECT_THAT(
      ParseName("vla.consumer", "lead-time", "teams").status(),
      AbslIsCodeWith(
          absl::StatusCode::kInvalidArgument,
          "vla.consumer: \"lead-time\" is not a name like teams/my-id"));
  EXPECT_THAT(ParseName("name", "teams/Bad", "teams").status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "name:"));
  EXPECT_THAT(
      ParseName("name", "", "teams").status(),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "name: required"));
}

TEST(ValidateTeamTest, Fields) {
  ExpectCases<v1::Team>(
      MakeTeam(), ValidateTeam, "team",
      {{"no kind", [](v1::Team* t) { t->clear_kind(); }, "team.kind: required"},
       {"bad kind",
        [](v1::Team* t) { t->set_kind(static_cast<v1::TeamKind>(42)); },
        "team.kind: unknown value 42"},
       {"long name",
        [](v1::Team* t) { t->set_display_name(std::string(201, 'x')); },
        "team.display_name: longer than 200"},
       {"long description",
        [](v1::Team* t) { t->set_description(std::string(4001, 'x')); },
        "team.description"}});
}

TEST(ValidateValueStreamTest, FieldsAndReferences) {
  std::vector<Reference> refs;
  v1::ValueStream vs = MakeValueStream();
  vs.set_value_owner("teams/owners");
  ASSERT_TRUE(ValidateValueStream(vs, "value_stream", &refs).ok());
  std::vector<std::string> names;
  for (const auto& r : refs) names.push_back(r.field + "=" + r.name);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre(
                         "value_stream.value_owner=teams/owners",
                         "value_stream.consumer=teams/business",
                         "value_stream.providers[0]=teams/service-desk",
                         "value_stream.stages[0].team=teams/service-desk"));
  ExpectCases<v1::ValueStream>(
      MakeValueStream(), ValidateValueStream, "value_stream",
      {{"no consumer", [](v1::ValueStream* v) { v->clear_consumer(); },
        "value_stream.consumer: required"},
       {"bad consumer", [](v1::ValueStream* v) { v->set_consumer("business"); },
        "value_stream.consumer: \"business\" is not a name like teams/my-id"},
       {"no providers", [](v1::ValueStream* v) { v->clear_providers(); },
        "value_stream.providers: at least 1 required"},
       {"dup provider",
        [](v1::ValueStream* v) { v->add_providers("teams/service-desk"); },
        "value_stream.providers[1]: teams/service-desk is listed twice"},
       {"stage without name",
        [](v1::ValueStream* v) { v->mutable_stages(0)->clear_name(); },
        "value_stream.stages[0].name: required"},
       {"stage bad team",
        [](v1::ValueStream* v) { v->mutable_stages(0)->set_team("kvis/x"); },
        "value_stream.stages[0].team"},
       {"empty service", [](v1::ValueStream* v) { v->add_services(""); },
        "value_stream.services[1]: empty service id"},
       {"bad owner team",
        [](v1::ValueStream* v) { v->set_value_owner("teams/"); },
        "value_stream.value_owner"}});
}

TEST(ValidateKviTest, Fields) {
  ExpectCases<v1::Kvi>(
      MakeKvi(), ValidateKvi, "kvi",
      {{"no value stream", [](v1::Kvi* k) { k->clear_value_stream(); },
        "kvi.value_stream: required"},
       {"no aggregation", [](v1::Kvi* k) { k->clear_aggregation(); },
        "kvi.aggregation: required"},
       {"no source", [](v1::Kvi* k) { k->clear_source(); },
        "kvi.source: required"},
       {"no field", [](v1::Kvi* k) { k->clear_field(); },
        "kvi.field: required for source WORK_ITEMS"},
       {"signal on work items", [](v1::Kvi* k) { k->set_signal("csat"); },
        "kvi.signal: only for source OBSERVATIONS"},
       {"observations without signal",
        [](v1::Kvi* k) {
          k->set_source(v1::SOURCE_OBSERVATIONS);
          k->clear_field();
        },
        "kvi.signal: required for source OBSERVATIONS"},
       {"percentile 0", [](v1::Kvi* k) { k->set_percentile(0); },
        "kvi.percentile: must be in (0, 100]"},
       {"percentile 101", [](v1::Kvi* k) { k->set_percentile(101); },
        "kvi.percentile: must be in (0, 100]"},
       {"percentile NaN", [](v1::Kvi* k) { k->set_percentile(kNaN); },
        "kvi.percentile"},
       {"percentile on mean",
        [](v1::Kvi* k) { k->set_aggregation(v1::AGGREGATION_MEAN); },
        "kvi.percentile: only for aggregation PERCENTILE"},
       {"threshold inf", [](v1::Kvi* k) { k->set_threshold(kInf); },
        "kvi.threshold: must be a finite number"},
       {"no window", [](v1::Kvi* k) { k->clear_window(); },
        "kvi.window: required"},
       {"empty window",
        [](v1::Kvi* k) { k->mutable_window()->clear_rolling(); },
        "kvi.window: empty"},
       {"zero window",
        [](v1::Kvi* k) {
          k->mutable_window()->mutable_rolling()->set_seconds(0);
        },
        "kvi.window.rolling: must be positive"},
       {"negative window",
        [](v1::Kvi* k) {
          k->mutable_window()->mutable_rolling()->set_seconds(-5);
        },
        "kvi.window.rolling: must be positive"},
       {"huge window",
        [](v1::Kvi* k) {
          k->mutable_window()->mutable_rolling()->set_seconds(4000LL * 86400);
        },
        "kvi.window.rolling: longer than 3660 days"},
       {"bad zone",
        [](v1::Kvi* k) {
          k->mutable_window()->set_calendar(v1::CALENDAR_PERIOD_MONTH);
          k->mutable_window()->set_time_zone("Mars/Olympus");
        },
        "kvi.window.time_zone: unknown IANA time zone"},
       {"zone on rolling",
        [](v1::Kvi* k) { k->mutable_window()->set_time_zone("UTC"); },
        "kvi.window.time_zone: only for calendar windows"},
       {"no direction", [](v1::Kvi* k) { k->clear_direction(); },
        "kvi.direction: required"},
       {"negative min_samples", [](v1::Kvi* k) { k->set_min_samples(-1); },
        "kvi.min_samples"},
       {"negative tolerance",
        [](v1::Kvi* k) {
          k->mutable_co_measurement()->set_absolute_tolerance(-1);
        },
        "kvi.co_measurement.absolute_tolerance"},
       {"co-measured work items",
        [](v1::Kvi* k) { k->mutable_co_measurement()->set_enabled(true); },
        "kvi.co_measurement.enabled: co-measurement needs source OBSERVATIONS"},
       {"too many labels",
        [](v1::Kvi* k) {
          for (int i = 0; i < 17; ++i) {
            (*k->mutable_scope()->mutable_labels())["k" + std::to_string(i)] =
                "v";
          }
        },
        "kvi.scope.labels: at most 16 labels"},
       {"numerator without ratio",
        [](v1::Kvi* k) {
          k->mutable_numerator()->set_source(v1::SOURCE_WORK_ITEMS);
        },
        "kvi.numerator: only for aggregation RATIO"}});
}

TEST(ValidateKviTest, CalendarWindowInZone) {
  v1::Kvi k = MakeKvi();
  k.mutable_window()->set_calendar(v1::CALENDAR_PERIOD_QUARTER);
  k.mutable_window()->set_time_zone("Europe/Berlin");
  std::vector<Reference> refs;
  EXPECT_TRUE(ValidateKvi(k, "kvi", &refs).ok())
      << ValidateKvi(k, "kvi", &refs);
}

v1::Kvi RatioKvi() {
  v1::Kvi k = MakeKvi();
  k.clear_source();
  k.clear_field();
  k.clear_percentile();
  k.set_aggregation(v1::AGGREGATION_RATIO);
  auto* num = k.mutable_numerator();
  num->set_source(v1::SOURCE_OBSERVATIONS);
  num->set_signal("cost_eur");
  num->set_aggregation(v1::AGGREGATION_SUM);
  auto* den = k.mutable_denominator();
  den->set_source(v1::SOURCE_WORK_ITEMS);
  den->set_field(v1::WORK_ITEM_FIELD_RESOLVED);
  den->set_aggregation(v1::AGGREGATION_COUNT);
  return k;
}

TEST(ValidateKviTest, Ratio) {
  ExpectCases<v1::Kvi>(
      RatioKvi(), ValidateKvi, "kvi",
      {{"source on ratio",
        [](v1::Kvi* k) { k->set_source(v1::SOURCE_WORK_ITEMS); },
        "kvi.source: a RATIO KVI leaves source, signal and field unset"},
       {"no numerator", [](v1::Kvi* k) { k->clear_numerator(); },
        "kvi.numerator: required for RATIO"},
       {"no denominator", [](v1::Kvi* k) { k->clear_denominator(); },
        "kvi.denominator: required for RATIO"},
       {"mean side",
        [](v1::Kvi* k) {
          k->mutable_numerator()->set_aggregation(v1::AGGREGATION_MEAN);
        },
        "kvi.numerator.aggregation: must be COUNT or SUM"},
       {"side without signal",
        [](v1::Kvi* k) { k->mutable_numerator()->clear_signal(); },
        "kvi.numerator.signal: required"}});
}

TEST(ValidateVlaTest, Fields) {
  ExpectCases<v1::Vla>(
      MakeVla(), ValidateVla, "vla",
      {{"no clauses", [](v1::Vla* v) { v->clear_clauses(); },
        "vla.clauses: at least 1 required"},
       {"dup clause", [](v1::Vla* v) { *v->add_clauses() = v->clauses(0); },
        "vla.clauses[1].kvi: kvis/lead-time has another clause already"},
       {"nan target",
        [](v1::Vla* v) { v->mutable_clauses(0)->set_target(kNaN); },
        "vla.clauses[0].target: must be a finite number"},
       {"negative weight",
        [](v1::Vla* v) { v->mutable_clauses(0)->set_weight(-1); },
        "vla.clauses[0].weight"},
       {"baseline = target",
        [](v1::Vla* v) { v->mutable_clauses(0)->set_baseline(5 * 86400); },
        "vla.clauses[0].baseline: must differ from target"},
       {"pass 101", [](v1::Vla* v) { v->set_pass_score(101); },
        "vla.pass_score"},
       {"warning above pass",
        [](v1::Vla* v) {
          v->set_pass_score(60);
          v->set_warning_score(70);
        },
        "vla.warning_score: effective warning_score 70 is above effective "
        "pass_score 60"},
       {"default warning above pass", [](v1::Vla* v) { v->set_pass_score(50); },
        "vla.warning_score"},
       {"no state", [](v1::Vla* v) { v->clear_state(); },
        "vla.state: required"},
       {"sla without kvi",
        [](v1::Vla* v) { v->mutable_sla()->set_target(0.95); },
        "vla.sla.kvi: required"},
       {"no consumer", [](v1::Vla* v) { v->clear_consumer(); },
        "vla.consumer: required"},
       {"bad effective time",
        [](v1::Vla* v) { v->mutable_effective_time()->set_nanos(-1); },
        "vla.effective_time: invalid timestamp"}});
}

TEST(ValidateVlaTest, WarningMustNotBeOnTheGoodSideOfTarget) {
  v1::Vla vla = MakeVla();  // target 5 d, warning 7 d
  EXPECT_TRUE(
      ValidateVlaClausesAgainstKvis(
          vla, "vla",
          {MakeKvi("valueStreams/incident", v1::DIRECTION_LOWER_IS_BETTER)})
          .ok());
  EXPECT_THAT(
      ValidateVlaClausesAgainstKvis(
          vla, "vla",
          {MakeKvi("valueStreams/incident", v1::DIRECTION_HIGHER_IS_BETTER)}),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                     "vla.clauses[0].warning: warning 604800 is on the good "
                     "side of target 432000"));
}

TEST(ValidateObjectiveTest, Fields) {
  ExpectCases<v1::Objective>(
      MakeObjective(), ValidateObjective, "objective",
      {{"no owners", [](v1::Objective* o) { o->clear_owners(); },
        "objective.owners: at least 1 required"},
       {"lead not owner", [](v1::Objective* o) { o->set_lead("teams/other"); },
        "objective.lead: teams/other must be one of the owners"},
       {"ends before start",
        [](v1::Objective* o) {
          o->mutable_period_end()->set_seconds(1767225599);
        },
        "objective.period_end: must be after period_start"},
       {"no start", [](v1::Objective* o) { o->clear_period_start(); },
        "objective.period_start: required"},
       {"no kind", [](v1::Objective* o) { o->clear_kind(); },
        "objective.kind: required"},
       {"start equals target",
        [](v1::Objective* o) {
          o->mutable_key_results(1)->set_target_value(62);
        },
        "objective.key_results[1].target_value: must differ from start_value"},
       {"dup kr id",
        [](v1::Objective* o) {
          o->mutable_key_results(1)->set_id("lead-time");
        },
        "objective.key_results[1].id: \"lead-time\" is used twice"},
       {"bad kr id",
        [](v1::Objective* o) { o->mutable_key_results(0)->set_id("KR 1"); },
        "objective.key_results[0].id"},
       {"no key results", [](v1::Objective* o) { o->clear_key_results(); },
        "objective.key_results: at least 1 required"},
       {"inf start",
        [](v1::Objective* o) {
          o->mutable_key_results(0)->set_start_value(-kInf);
        },
        "objective.key_results[0].start_value: must be a finite number"},
       {"bad vla ref", [](v1::Objective* o) { o->add_vlas("kvis/x"); },
        "objective.vlas[0]"}});
}

}  // namespace
}  // namespace vla::vmdb
