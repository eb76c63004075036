// The KVI formulas and windows (kvi_value.h) at fixed instants, on
// hand-made aggregates: no index, no caches.
#include "services/evaluator/kvi_value.h"

#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vla::evaluator {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm),
                         absl::UTCTimeZone());
}

Aggregate Of(v1::Aggregation aggregation, const std::vector<double>& values) {
  AggregateSpec spec;
  spec.aggregation = aggregation;
  Aggregate a(spec);
  for (double v : values) a.Add(v);
  return a;
}

v1::Kvi Plain(v1::Aggregation aggregation) {
  v1::Kvi kvi;
  kvi.set_value_stream("valueStreams/vs");
  kvi.set_source(v1::SOURCE_OBSERVATIONS);
  kvi.set_signal("csat");
  kvi.set_aggregation(aggregation);
  kvi.mutable_window()->mutable_rolling()->set_seconds(7 * 86400);
  return kvi;
}

v1::ValueStream Stream() {
  v1::ValueStream vs;
  vs.set_consumer("teams/business");
  vs.add_providers("teams/desk");
  vs.add_providers("teams/network");
  return vs;
}

TEST(KviWindowTest, RollingEndsAtTheInstant) {
  v1::Window w;
  w.mutable_rolling()->set_seconds(3600);
  const TimeWindow t = KviWindow(w, Utc(2026, 3, 1, 12, 30));
  EXPECT_EQ(t.start, Utc(2026, 3, 1, 11, 30));
  EXPECT_EQ(t.end, Utc(2026, 3, 1, 12, 30));
}

TEST(KviWindowTest, CalendarPeriodsToDateInTheirZone) {
  v1::Window w;
  w.set_time_zone("Europe/Berlin");
  w.set_calendar(v1::CALENDAR_PERIOD_MONTH);
  // 2026-04-01 00:00 in Berlin is 2026-03-31T22:00Z (summer time, +2).
  EXPECT_EQ(KviWindow(w, Utc(2026, 4, 10)).start, Utc(2026, 3, 31, 22));
  // Before it the March month started at 2026-02-28T23:00Z (winter, +1).
  EXPECT_EQ(KviWindow(w, Utc(2026, 3, 31, 21, 59)).start, Utc(2026, 2, 28, 23));
  w.set_calendar(v1::CALENDAR_PERIOD_QUARTER);
  EXPECT_EQ(KviWindow(w, Utc(2026, 5, 20)).start, Utc(2026, 3, 31, 22));
  w.set_calendar(v1::CALENDAR_PERIOD_YEAR);
  EXPECT_EQ(KviWindow(w, Utc(2026, 5, 20)).start, Utc(2025, 12, 31, 23));
  w.clear_time_zone();  // UTC
  EXPECT_EQ(KviWindow(w, Utc(2026, 5, 20)).start, Utc(2026, 1, 1));
}

TEST(KviValueTest, PlainAppliesMinSamplesAndTheWindowLength) {
  const TimeWindow window{Utc(2026, 3, 1), Utc(2026, 3, 8)};
  v1::Kvi kvi = Plain(v1::AGGREGATION_RATE_PER_DAY);
  const Aggregate a = Of(v1::AGGREGATION_RATE_PER_DAY, {1, 1, 1, 1, 1, 1, 1});
  v1::KviValue v = KviValueOf(kvi, window, {a}, Parties());
  EXPECT_TRUE(v.has_value());
  EXPECT_THAT(v.value(), DoubleEq(1.0));  // 7 values over 7 days
  EXPECT_EQ(v.samples(), 7);
  EXPECT_EQ(FromProtoTime(v.window_start()), window.start);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_NOT_COMEASURED);
  kvi.set_min_samples(8);
  v = KviValueOf(kvi, window, {a}, Parties());
  EXPECT_FALSE(v.has_value());  // NO_DATA, not a made-up value
  EXPECT_EQ(v.samples(), 7);
}

TEST(KviValueTest, RatioOfSumsOrCountsWithTheDenominatorsSamples) {
  v1::Kvi kvi = Plain(v1::AGGREGATION_RATIO);
  kvi.mutable_numerator()->set_aggregation(v1::AGGREGATION_SUM);
  kvi.mutable_denominator()->set_aggregation(v1::AGGREGATION_COUNT);
  const TimeWindow window{Utc(2026, 3, 1), Utc(2026, 3, 8)};
  const Aggregate num = Of(v1::AGGREGATION_SUM, {100, 50});
  const Aggregate den = Of(v1::AGGREGATION_COUNT, {1, 1, 1, 1});
  v1::KviValue v = KviValueOf(kvi, window, {num, den}, Parties());
  EXPECT_THAT(v.value(), DoubleEq(150.0 / 4));
  EXPECT_EQ(v.samples(), 4);
  // A zero denominator has no value.
  v = KviValueOf(kvi, window, {num, Of(v1::AGGREGATION_COUNT, {})}, Parties());
  EXPECT_FALSE(v.has_value());
}

TEST(KviValueTest, CoMeasurementAgreesDisputesOrTakesOneSide) {
  v1::Kvi kvi = Plain(v1::AGGREGATION_MEAN);
  kvi.mutable_co_measurement()->set_enabled(true);
  kvi.mutable_co_measurement()->set_absolute_tolerance(10);
  const v1::ValueStream vs = Stream();
  const Parties parties = PartiesOf(&vs);
  const TimeWindow window{Utc(2026, 3, 1), Utc(2026, 3, 8)};
  const Aggregate consumer = Of(v1::AGGREGATION_MEAN, {160, 166});  // 163
  const Aggregate near = Of(v1::AGGREGATION_MEAN, {155});
  const Aggregate far = Of(v1::AGGREGATION_MEAN, {80});
  const Aggregate none = Of(v1::AGGREGATION_MEAN, {});

  v1::KviValue v = KviValueOf(kvi, window, {consumer, near}, parties);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_AGREED);
  EXPECT_THAT(v.value(), DoubleEq(159));  // the mean of 163 and 155
  EXPECT_EQ(v.samples(), 3);
  EXPECT_THAT(
      v.party_values(),
      UnorderedElementsAre(Pair("teams/business", 163), Pair("teams/desk", 155),
                           Pair("teams/network", 155)));

  v = KviValueOf(kvi, window, {consumer, far}, parties);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_DISPUTED);
  EXPECT_THAT(v.value(), DoubleEq(163));  // the consumer's view

  // A relative tolerance of 60% of 163 lets 80 agree: any set tolerance
  // that is exceeded disputes, so both must hold.
  kvi.mutable_co_measurement()->set_relative_tolerance(0.6);
  v = KviValueOf(kvi, window, {consumer, far}, parties);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_DISPUTED);
  kvi.mutable_co_measurement()->set_absolute_tolerance(0);  // unset
  v = KviValueOf(kvi, window, {consumer, far}, parties);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_AGREED);

  v = KviValueOf(kvi, window, {none, far}, parties);
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_ONE_SIDED);
  EXPECT_THAT(v.value(), DoubleEq(80));
  v = KviValueOf(kvi, window, {none, none}, parties);
  EXPECT_FALSE(v.has_value());
  EXPECT_EQ(v.comeasurement(), v1::CO_MEASUREMENT_STATE_NOT_COMEASURED);
}

TEST(SelectionsOfTest, ScopesMergeAndSidesNameTheirReporters) {
  v1::Kvi ratio = Plain(v1::AGGREGATION_RATIO);
  ratio.clear_source();
  ratio.clear_signal();
  (*ratio.mutable_scope()->mutable_labels())["priority"] = "P1";
  ratio.mutable_scope()->set_service("erp");
  auto* num = ratio.mutable_numerator();
  num->set_source(v1::SOURCE_OBSERVATIONS);
  num->set_signal("cost_eur");
  num->set_aggregation(v1::AGGREGATION_SUM);
  num->mutable_scope()->set_service("crm");  // overrides the KVI's
  auto* den = ratio.mutable_denominator();
  den->set_source(v1::SOURCE_WORK_ITEMS);
  den->set_field(v1::WORK_ITEM_FIELD_RESOLVED);
  den->set_aggregation(v1::AGGREGATION_COUNT);
  const std::vector<SelectionDef> defs = SelectionsOf(ratio, nullptr);
  ASSERT_EQ(defs.size(), 2u);
  EXPECT_EQ(defs[0].service, "crm");
  EXPECT_EQ(defs[0].signal, "cost_eur");
  EXPECT_THAT(defs[0].labels, ElementsAre(Pair("priority", "P1")));
  EXPECT_EQ(defs[1].service, "erp");
  EXPECT_EQ(defs[1].field, v1::WORK_ITEM_FIELD_RESOLVED);
  EXPECT_EQ(defs[1].value_stream, "valueStreams/vs");

  v1::Kvi co = Plain(v1::AGGREGATION_MEAN);
  co.mutable_co_measurement()->set_enabled(true);
  const v1::ValueStream vs = Stream();
  const std::vector<SelectionDef> sides = SelectionsOf(co, &vs);
  ASSERT_EQ(sides.size(), 2u);
  EXPECT_THAT(sides[0].reporters, ElementsAre("teams/business"));
  EXPECT_THAT(sides[1].reporters, ElementsAre("teams/desk", "teams/network"));
  EXPECT_TRUE(sides[0].by_reporter && sides[1].by_reporter);
}

}  // namespace
}  // namespace vla::evaluator
