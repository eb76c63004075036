// Joint OKR scoring (domain.md, "Joint OKRs") at fixed instants, against
// hand-worked values: progress, expected progress, grading time, colours,
// each key result status at and around its thresholds, confidence, the
// weakest-status rule, weights and NO_DATA renormalisation.
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/okr/scoring.h"
#include "vla/v1/okr_status.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::okr {
namespace {

using ::testing::DoubleEq;
using ::testing::DoubleNear;
using ::testing::ElementsAre;

const absl::Duration kDay = absl::Hours(24);
const absl::Duration kWeek = 7 * kDay;
// Monday 2026-01-05T00:00:00Z.
const absl::Time kStart = absl::FromUnixSeconds(1767571200);

struct KrSpec {
  std::string id;
  double start_value;
  double target_value;
  double weight = 0;
  bool manual = false;
};

v1::KeyResult MakeKr(const KrSpec& spec) {
  v1::KeyResult kr;
  kr.set_id(spec.id);
  kr.set_description("Key result " + spec.id);
  if (!spec.manual) kr.set_kvi("kvis/" + spec.id);
  kr.set_start_value(spec.start_value);
  kr.set_target_value(spec.target_value);
  kr.set_weight(spec.weight);
  return kr;
}

// An objective over [kStart, kStart + length) with the given key results.
v1::Objective MakeObjective(const std::vector<KrSpec>& krs,
                            absl::Duration length = 13 * kWeek) {
  v1::Objective o;
  o.set_name("objectives/back-to-work");
  o.set_display_name("People get back to work faster");
  o.add_owners("teams/service-desk");
  o.add_owners("teams/business");
  o.set_lead("teams/service-desk");
  *o.mutable_period_start() = ToProtoTime(kStart);
  *o.mutable_period_end() = ToProtoTime(kStart + length);
  o.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  for (const KrSpec& spec : krs) *o.add_key_results() = MakeKr(spec);
  return o;
}

using Inputs = std::map<std::string, KeyResultInput>;

// Scores `o` at `at`; key results missing from `inputs` have no value.
v1::ObjectiveStatus Score(const v1::Objective& o, const Inputs& inputs,
                          absl::Time at) {
  return ScoreObjective(
      o,
      [&inputs](const v1::KeyResult& kr) {
        auto it = inputs.find(kr.id());
        return it == inputs.end() ? KeyResultInput{} : it->second;
      },
      at);
}

KeyResultInput Value(double v) { return KeyResultInput{v, std::nullopt}; }
KeyResultInput CheckIn(double v, double confidence) {
  return KeyResultInput{v, confidence};
}

// The status of a single key result "kr" (0 -> 1000) with value `value`
// (absent: none), scored at `at` in a 10-day period.
v1::OkrStatus SingleStatus(std::optional<double> value, absl::Time at,
                           bool manual = false,
                           std::optional<double> confidence = std::nullopt) {
  const v1::Objective o =
      MakeObjective({{"kr", 0, 1000, 0, manual}}, 10 * kDay);
  const v1::ObjectiveStatus s =
      Score(o, {{"kr", KeyResultInput{value, confidence}}}, at);
  EXPECT_EQ(s.key_results_size(), 1);
  EXPECT_EQ(s.status(), s.key_results(0).status())
      << "one key result: the objective has its status";
  return s.key_results(0).status();
}

// ---------------------------------------------------------------------------
// Progress.

TEST(ProgressTest, DomainExampleKeyResults) {
  // Happiness +62 -> +80, now +71.
  EXPECT_THAT(Progress(MakeKr({"happiness", 62, 80}), 71), DoubleEq(0.5));
  // Ping-pong rate 14% -> 5%, now 9%: 5/9.
  EXPECT_THAT(Progress(MakeKr({"ping-pong", 14, 5}), 9), DoubleEq(5.0 / 9));
  EXPECT_THAT(Progress(MakeKr({"ping-pong", 14, 5}), 9),
              DoubleNear(0.5556, 5e-5));
  // Median lost time 210 -> 120 min, now 150: 2/3.
  EXPECT_THAT(Progress(MakeKr({"lost-time", 210, 120}), 150),
              DoubleEq(2.0 / 3));
  EXPECT_THAT(Progress(MakeKr({"lost-time", 210, 120}), 150),
              DoubleNear(0.6667, 5e-5));
}

TEST(ProgressTest, ClampsAboveOneAndBelowZeroGoingUp) {
  const v1::KeyResult kr = MakeKr({"up", 10, 20});
  EXPECT_EQ(Progress(kr, 10), 0.0);
  EXPECT_EQ(Progress(kr, 20), 1.0);
  EXPECT_EQ(Progress(kr, 35), 1.0);  // beyond the target
  EXPECT_EQ(Progress(kr, 2), 0.0);   // worse than the start
  EXPECT_THAT(Progress(kr, 12.5), DoubleEq(0.25));
}

TEST(ProgressTest, ClampsAboveOneAndBelowZeroGoingDown) {
  const v1::KeyResult kr = MakeKr({"down", 100, 60});
  EXPECT_EQ(Progress(kr, 100), 0.0);
  EXPECT_EQ(Progress(kr, 60), 1.0);
  EXPECT_EQ(Progress(kr, 40), 1.0);   // below (better than) the target
  EXPECT_EQ(Progress(kr, 130), 0.0);  // above (worse than) the start
  EXPECT_THAT(Progress(kr, 90), DoubleEq(0.25));
}

TEST(ProgressTest, NanAndDegenerateKeyResults) {
  EXPECT_EQ(
      Progress(MakeKr({"up", 0, 10}), std::numeric_limits<double>::quiet_NaN()),
      0.0);
  EXPECT_EQ(
      Progress(MakeKr({"up", 0, 10}), std::numeric_limits<double>::infinity()),
      1.0);
  // target == start (rejected by validation): reached only at the target.
  EXPECT_EQ(Progress(MakeKr({"flat", 5, 5}), 5), 1.0);
  EXPECT_EQ(Progress(MakeKr({"flat", 5, 5}), 6), 0.0);
}

// ---------------------------------------------------------------------------
// Expected progress and grading time.

TEST(ExpectedProgressTest, ElapsedFractionClamped) {
  const v1::Objective o = MakeObjective({{"kr", 0, 1}});  // 13 weeks
  EXPECT_EQ(ExpectedProgress(o, kStart - kDay), 0.0);
  EXPECT_EQ(ExpectedProgress(o, absl::InfinitePast()), 0.0);
  EXPECT_EQ(ExpectedProgress(o, kStart), 0.0);
  EXPECT_THAT(ExpectedProgress(o, kStart + 7 * kWeek), DoubleEq(7.0 / 13));
  EXPECT_THAT(ExpectedProgress(o, kStart + 7 * kWeek),
              DoubleNear(0.5385, 5e-5));
  EXPECT_THAT(ExpectedProgress(o, kStart + absl::Hours(13 * 7 * 12)),
              DoubleEq(0.5));
  EXPECT_LT(ExpectedProgress(o, kStart + 13 * kWeek - absl::Nanoseconds(1)),
            1.0);
  EXPECT_EQ(ExpectedProgress(o, kStart + 13 * kWeek), 1.0);
  EXPECT_EQ(ExpectedProgress(o, kStart + 20 * kWeek), 1.0);
  EXPECT_EQ(ExpectedProgress(o, absl::InfiniteFuture()), 1.0);
}

TEST(GradingTimeTest, AtDuringAndBeforeThePeriodEndAfterIt) {
  const v1::Objective o = MakeObjective({{"kr", 0, 1}});
  const absl::Time end = kStart + 13 * kWeek;
  EXPECT_EQ(GradingTime(o, kStart - kWeek), kStart - kWeek);
  EXPECT_EQ(GradingTime(o, kStart), kStart);
  EXPECT_EQ(GradingTime(o, kStart + 3 * kWeek), kStart + 3 * kWeek);
  EXPECT_EQ(GradingTime(o, end - absl::Nanoseconds(1)),
            end - absl::Nanoseconds(1));
  EXPECT_EQ(GradingTime(o, end), end);
  EXPECT_EQ(GradingTime(o, end + 30 * kDay), end);
  EXPECT_EQ(GradingTime(o, absl::InfiniteFuture()), end);
}

// ---------------------------------------------------------------------------
// Colours and the status order.

TEST(ColorTest, ThresholdsAreInclusive) {
  EXPECT_EQ(ColorOf(1.0), v1::COLOR_GREEN);
  EXPECT_EQ(ColorOf(0.7), v1::COLOR_GREEN);
  EXPECT_EQ(ColorOf(0.6999), v1::COLOR_YELLOW);
  EXPECT_EQ(ColorOf(0.4), v1::COLOR_YELLOW);
  EXPECT_EQ(ColorOf(0.3999), v1::COLOR_RED);
  EXPECT_EQ(ColorOf(0.0), v1::COLOR_RED);
  EXPECT_EQ(ColorOf(std::numeric_limits<double>::quiet_NaN()), v1::COLOR_RED);
}

TEST(ColorTest, RoundingBelowAThresholdStillReachesIt) {
  // Within kThresholdSlack below a threshold counts as reaching it (binary
  // rounding of a decimal 0.7 or 0.4); further below does not.
  EXPECT_EQ(ColorOf(0.7 - 1e-12), v1::COLOR_GREEN);
  EXPECT_EQ(ColorOf(0.4 - 1e-12), v1::COLOR_YELLOW);
  EXPECT_EQ(ColorOf(0.7 - 1e-6), v1::COLOR_YELLOW);
  EXPECT_EQ(ColorOf(0.4 - 1e-6), v1::COLOR_RED);
}

TEST(StatusRankTest, WeakestFirst) {
  const std::vector<v1::OkrStatus> order = {
      v1::OKR_STATUS_MISSED,      v1::OKR_STATUS_OFF_TRACK,
      v1::OKR_STATUS_AT_RISK,     v1::OKR_STATUS_NO_DATA,
      v1::OKR_STATUS_NOT_STARTED, v1::OKR_STATUS_ON_TRACK,
      v1::OKR_STATUS_ACHIEVED};
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(StatusRank(order[i]), static_cast<int>(i))
        << v1::OkrStatus_Name(order[i]);
  }
  EXPECT_EQ(StatusRank(v1::OKR_STATUS_UNSPECIFIED), -1);
}

// ---------------------------------------------------------------------------
// The domain example.

TEST(ScoreObjectiveTest, DomainExampleAtWeekSevenOfThirteen) {
  const v1::Objective o = MakeObjective(
      {{"happiness", 62, 80}, {"ping-pong", 14, 5}, {"lost-time", 210, 120}});
  const absl::Time at = kStart + 7 * kWeek;
  const v1::ObjectiveStatus s = Score(o,
                                      {{"happiness", Value(71)},
                                       {"ping-pong", Value(9)},
                                       {"lost-time", Value(150)}},
                                      at);

  EXPECT_EQ(s.objective(), "objectives/back-to-work");
  EXPECT_THAT(s.owners(), ElementsAre("teams/service-desk", "teams/business"));
  // (1/2 + 5/9 + 2/3) / 3 = 31/54.
  EXPECT_THAT(s.score(), DoubleNear(31.0 / 54, 1e-12));
  EXPECT_THAT(s.score(), DoubleNear(0.5741, 5e-5));
  EXPECT_EQ(s.color(), v1::COLOR_YELLOW);
  EXPECT_THAT(s.expected_progress(), DoubleEq(7.0 / 13));
  EXPECT_EQ(s.status(), v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(FromProtoTime(s.evaluate_time()), at);

  ASSERT_EQ(s.key_results_size(), 3);
  const v1::KeyResultStatus& happiness = s.key_results(0);
  EXPECT_EQ(happiness.id(), "happiness");
  EXPECT_TRUE(happiness.has_value());
  EXPECT_EQ(happiness.current_value(), 71);
  EXPECT_THAT(happiness.progress(), DoubleEq(0.5));
  EXPECT_EQ(happiness.status(), v1::OKR_STATUS_ON_TRACK);  // e - p = 0.0385
  EXPECT_EQ(happiness.confidence(), 0);
  const v1::KeyResultStatus& ping_pong = s.key_results(1);
  EXPECT_EQ(ping_pong.id(), "ping-pong");
  EXPECT_EQ(ping_pong.current_value(), 9);
  EXPECT_THAT(ping_pong.progress(), DoubleEq(5.0 / 9));
  EXPECT_EQ(ping_pong.status(), v1::OKR_STATUS_ON_TRACK);  // ahead
  const v1::KeyResultStatus& lost_time = s.key_results(2);
  EXPECT_EQ(lost_time.id(), "lost-time");
  EXPECT_EQ(lost_time.current_value(), 150);
  EXPECT_THAT(lost_time.progress(), DoubleEq(2.0 / 3));
  EXPECT_EQ(lost_time.status(), v1::OKR_STATUS_ON_TRACK);  // ahead
}

// ---------------------------------------------------------------------------
// Weights and NO_DATA renormalisation.

TEST(ScoreObjectiveTest, WeightsAndZeroWeightMeansOne) {
  const absl::Time at = kStart + 2 * kWeek;
  // p 1 with weight 3, p 0 with weight 1: 3/4.
  const v1::ObjectiveStatus weighted =
      Score(MakeObjective({{"a", 0, 10, 3}, {"b", 0, 10, 1}}),
            {{"a", Value(10)}, {"b", Value(0)}}, at);
  EXPECT_THAT(weighted.score(), DoubleEq(0.75));
  EXPECT_EQ(weighted.color(), v1::COLOR_GREEN);
  // Weight 0 counts as 1: 1/2.
  const v1::ObjectiveStatus zero =
      Score(MakeObjective({{"a", 0, 10, 0}, {"b", 0, 10, 1}}),
            {{"a", Value(10)}, {"b", Value(0)}}, at);
  EXPECT_THAT(zero.score(), DoubleEq(0.5));
  EXPECT_EQ(zero.color(), v1::COLOR_YELLOW);
  // Weight 0.5 and 1.5 on p 0.2 and 0.6: (0.1 + 0.9) / 2 = 0.5.
  const v1::ObjectiveStatus fractional =
      Score(MakeObjective({{"a", 0, 10, 0.5}, {"b", 0, 10, 1.5}}),
            {{"a", Value(2)}, {"b", Value(6)}}, at);
  EXPECT_THAT(fractional.score(), DoubleNear(0.5, 1e-12));
}

TEST(ScoreObjectiveTest, NoDataKeyResultsAreLeftOutAndWeightsRenormalise) {
  const v1::Objective o =
      MakeObjective({{"a", 0, 10, 1}, {"b", 0, 10, 3}, {"c", 0, 10, 1}});
  const absl::Time at = kStart + 6 * kWeek + absl::Hours(84);  // e = 0.5
  // b (weight 3) has no value: (1 * 0.8 + 1 * 0.6) / 2 = 0.7.
  const v1::ObjectiveStatus s =
      Score(o, {{"a", Value(8)}, {"c", Value(6)}}, at);
  EXPECT_THAT(s.expected_progress(), DoubleEq(0.5));
  EXPECT_THAT(s.score(), DoubleNear(0.7, 1e-12));
  EXPECT_EQ(s.color(), v1::COLOR_GREEN);
  ASSERT_EQ(s.key_results_size(), 3);
  EXPECT_EQ(s.key_results(0).status(), v1::OKR_STATUS_ON_TRACK);
  const v1::KeyResultStatus& b = s.key_results(1);
  EXPECT_EQ(b.id(), "b");
  EXPECT_FALSE(b.has_value());
  EXPECT_EQ(b.current_value(), 0);
  EXPECT_EQ(b.progress(), 0);
  EXPECT_EQ(b.status(), v1::OKR_STATUS_NO_DATA);
  EXPECT_EQ(s.key_results(2).status(), v1::OKR_STATUS_ON_TRACK);
  // NO_DATA is weaker than ON_TRACK.
  EXPECT_EQ(s.status(), v1::OKR_STATUS_NO_DATA);

  // Counting b as p = 0 would give 1.4 / 5 = 0.28: not what we do.
  EXPECT_GT(s.score(), 0.28);
}

TEST(ScoreObjectiveTest, NoValueAtAllScoresZero) {
  const v1::ObjectiveStatus s = Score(
      MakeObjective({{"a", 0, 10}, {"b", 0, 10}}), {}, kStart + 3 * kWeek);
  EXPECT_EQ(s.score(), 0);
  EXPECT_EQ(s.color(), v1::COLOR_RED);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_NO_DATA);
  for (const v1::KeyResultStatus& kr : s.key_results()) {
    EXPECT_FALSE(kr.has_value());
    EXPECT_EQ(kr.status(), v1::OKR_STATUS_NO_DATA);
  }
}

TEST(ScoreObjectiveTest, NonFiniteValuesCountAsNoValue) {
  const v1::Objective o = MakeObjective({{"a", 0, 10}, {"b", 0, 10}});
  const v1::ObjectiveStatus s =
      Score(o,
            {{"a", Value(std::numeric_limits<double>::quiet_NaN())},
             {"b", Value(std::numeric_limits<double>::infinity())}},
            kStart + kWeek);
  EXPECT_EQ(s.score(), 0);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_NO_DATA);
  for (const v1::KeyResultStatus& kr : s.key_results()) {
    EXPECT_FALSE(kr.has_value());
    EXPECT_EQ(kr.current_value(), 0);
    EXPECT_EQ(kr.status(), v1::OKR_STATUS_NO_DATA);
  }
}

TEST(ScoreObjectiveTest, ColourAtExactlyPointSevenAndPointFour) {
  const v1::Objective o = MakeObjective({{"kr", 0, 10}});
  const absl::Time at = kStart + kWeek;
  EXPECT_EQ(Score(o, {{"kr", Value(7)}}, at).color(), v1::COLOR_GREEN);
  EXPECT_EQ(Score(o, {{"kr", Value(6.999)}}, at).color(), v1::COLOR_YELLOW);
  EXPECT_EQ(Score(o, {{"kr", Value(4)}}, at).color(), v1::COLOR_YELLOW);
  EXPECT_EQ(Score(o, {{"kr", Value(3.999)}}, at).color(), v1::COLOR_RED);
  // A down-going goal 100 -> 0 at 30 and 60 is p 0.7 and 0.4 too.
  const v1::Objective down = MakeObjective({{"kr", 100, 0}});
  EXPECT_EQ(Score(down, {{"kr", Value(30)}}, at).color(), v1::COLOR_GREEN);
  EXPECT_EQ(Score(down, {{"kr", Value(60)}}, at).color(), v1::COLOR_YELLOW);
  // Equal weights on p 1 and p 0.4: 0.7.
  const v1::Objective two = MakeObjective({{"a", 0, 10}, {"b", 0, 10}});
  EXPECT_EQ(Score(two, {{"a", Value(10)}, {"b", Value(4)}}, at).color(),
            v1::COLOR_GREEN);
  // Equal weights on p 0.1 and p 0.7: 0.4.
  EXPECT_EQ(Score(two, {{"a", Value(1)}, {"b", Value(7)}}, at).color(),
            v1::COLOR_YELLOW);
}

// ---------------------------------------------------------------------------
// Key result statuses during the period (10 days, at day 5: e = 0.5).

TEST(KeyResultStatusTest, DuringThePeriodAtTheThresholds) {
  const absl::Time mid = kStart + 5 * kDay;
  struct Case {
    double value;  // of a 0 -> 1000 key result: p = value / 1000
    v1::OkrStatus want;
  };
  const std::vector<Case> cases = {
      {900, v1::OKR_STATUS_ON_TRACK},    // ahead: e - p = -0.4
      {500, v1::OKR_STATUS_ON_TRACK},    // e - p = 0
      {335.1, v1::OKR_STATUS_ON_TRACK},  // e - p = 0.1649
      {335, v1::OKR_STATUS_AT_RISK},     // e - p = 0.165 exactly
      {334.9, v1::OKR_STATUS_AT_RISK},   // e - p = 0.1651
      {170.1, v1::OKR_STATUS_AT_RISK},   // e - p = 0.3299
      {170, v1::OKR_STATUS_OFF_TRACK},   // e - p = 0.33 exactly
      {0, v1::OKR_STATUS_OFF_TRACK},     // e - p = 0.5
      {-50, v1::OKR_STATUS_OFF_TRACK},   // p clamps to 0
      {1000, v1::OKR_STATUS_ACHIEVED},   // p = 1
      {1500, v1::OKR_STATUS_ACHIEVED},   // p clamps to 1
      {999.9, v1::OKR_STATUS_ON_TRACK},  // p just below 1
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    EXPECT_EQ(SingleStatus(c.value, mid), c.want);
  }
}

TEST(KeyResultStatusTest, ThresholdsWithADownGoingGoalAndOddFractions) {
  // 13 weeks, at week 7: e = 7/13. A 13 -> 0 goal at 13 - 7 + x has
  // p = 7/13 - x/13, so e - p = x/13: 0.165 at x = 2.145, 0.33 at 4.29.
  const v1::Objective o = MakeObjective({{"kr", 13, 0}});
  const absl::Time at = kStart + 7 * kWeek;
  auto status = [&](double value) {
    return Score(o, {{"kr", Value(value)}}, at).key_results(0).status();
  };
  EXPECT_EQ(status(6 + 2.1449), v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(status(6 + 2.145), v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(status(6 + 4.2899), v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(status(6 + 4.29), v1::OKR_STATUS_OFF_TRACK);
  EXPECT_EQ(status(0), v1::OKR_STATUS_ACHIEVED);
}

TEST(KeyResultStatusTest, AchievedDuringThePeriod) {
  const v1::Objective o = MakeObjective({{"a", 0, 10}, {"b", 50, 20}});
  const v1::ObjectiveStatus s =
      Score(o, {{"a", Value(10)}, {"b", Value(15)}}, kStart + 2 * kWeek);
  EXPECT_EQ(s.key_results(0).status(), v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(s.key_results(1).status(), v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(s.score(), 1.0);
  EXPECT_EQ(s.color(), v1::COLOR_GREEN);
}

// ---------------------------------------------------------------------------
// Before, at the start of, at the end of, and after the period.

TEST(KeyResultStatusTest, NotStartedBeforeThePeriodWithOrWithoutData) {
  const v1::Objective o =
      MakeObjective({{"done", 0, 10}, {"behind", 0, 10}, {"none", 0, 10}});
  const absl::Time at = kStart - absl::Nanoseconds(1);
  const v1::ObjectiveStatus s =
      Score(o, {{"done", Value(10)}, {"behind", Value(0)}}, at);
  for (const v1::KeyResultStatus& kr : s.key_results()) {
    EXPECT_EQ(kr.status(), v1::OKR_STATUS_NOT_STARTED) << kr.id();
  }
  EXPECT_EQ(s.status(), v1::OKR_STATUS_NOT_STARTED);
  EXPECT_EQ(s.expected_progress(), 0);
  EXPECT_EQ(FromProtoTime(s.evaluate_time()), at);
  // The values are still reported and scored.
  EXPECT_TRUE(s.key_results(0).has_value());
  EXPECT_EQ(s.key_results(0).progress(), 1.0);
  EXPECT_FALSE(s.key_results(2).has_value());
  EXPECT_THAT(s.score(), DoubleEq(0.5));

  EXPECT_EQ(SingleStatus(std::nullopt, kStart - kWeek),
            v1::OKR_STATUS_NOT_STARTED);
  EXPECT_EQ(SingleStatus(1000, kStart - kWeek), v1::OKR_STATUS_NOT_STARTED);
  EXPECT_EQ(SingleStatus(1000, kStart - kWeek, /*manual=*/true, 0.1),
            v1::OKR_STATUS_NOT_STARTED);
}

TEST(KeyResultStatusTest, ExactlyAtPeriodStartThePeriodHasStarted) {
  // e = 0: no progress yet is on track.
  EXPECT_EQ(SingleStatus(0, kStart), v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(SingleStatus(std::nullopt, kStart), v1::OKR_STATUS_NO_DATA);
  EXPECT_EQ(SingleStatus(1000, kStart), v1::OKR_STATUS_ACHIEVED);
  const v1::ObjectiveStatus s =
      Score(MakeObjective({{"kr", 0, 10}}), {{"kr", Value(0)}}, kStart);
  EXPECT_EQ(s.expected_progress(), 0);
  EXPECT_EQ(FromProtoTime(s.evaluate_time()), kStart);
}

TEST(KeyResultStatusTest, JustBeforePeriodEndIsStillDuring) {
  const absl::Time just_before = kStart + 10 * kDay - absl::Nanoseconds(1);
  // e is (almost) 1: p 0.9 is behind by 0.1, on track, not missed.
  EXPECT_EQ(SingleStatus(900, just_before), v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(SingleStatus(700, just_before), v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(SingleStatus(500, just_before), v1::OKR_STATUS_OFF_TRACK);
}

TEST(KeyResultStatusTest, ExactlyAtPeriodEndThePeriodIsOver) {
  const absl::Time end = kStart + 10 * kDay;
  EXPECT_EQ(SingleStatus(999.9, end), v1::OKR_STATUS_MISSED);
  EXPECT_EQ(SingleStatus(0, end), v1::OKR_STATUS_MISSED);
  EXPECT_EQ(SingleStatus(1000, end), v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(SingleStatus(std::nullopt, end), v1::OKR_STATUS_NO_DATA);
  const v1::ObjectiveStatus s =
      Score(MakeObjective({{"kr", 0, 10}}, 10 * kDay), {{"kr", Value(9)}}, end);
  EXPECT_EQ(s.expected_progress(), 1.0);
  EXPECT_EQ(FromProtoTime(s.evaluate_time()), end);
}

TEST(KeyResultStatusTest, AfterThePeriodGradedAsOfPeriodEnd) {
  const v1::Objective o =
      MakeObjective({{"done", 0, 10}, {"short", 0, 10}}, 10 * kDay);
  const absl::Time end = kStart + 10 * kDay;
  const v1::ObjectiveStatus s =
      Score(o, {{"done", Value(12)}, {"short", Value(9.5)}}, end + 30 * kDay);
  EXPECT_EQ(s.key_results(0).status(), v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(s.key_results(1).status(), v1::OKR_STATUS_MISSED);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_MISSED);
  EXPECT_EQ(s.expected_progress(), 1.0);
  EXPECT_EQ(FromProtoTime(s.evaluate_time()), end);  // not `at`
  EXPECT_THAT(s.score(), DoubleEq(0.975));
  EXPECT_EQ(s.color(), v1::COLOR_GREEN);
}

// ---------------------------------------------------------------------------
// Confidence of manual key results.

TEST(ConfidenceTest, LowConfidenceMovesOnTrackDownToAtRisk) {
  const absl::Time mid = kStart + 5 * kDay;  // e = 0.5
  EXPECT_EQ(SingleStatus(500, mid, /*manual=*/true, 0.4),
            v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(SingleStatus(500, mid, /*manual=*/true, 0.0),
            v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(SingleStatus(500, mid, /*manual=*/true, 0.5),
            v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(SingleStatus(500, mid, /*manual=*/true, 0.9),
            v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(SingleStatus(500, mid, /*manual=*/true, std::nullopt),
            v1::OKR_STATUS_ON_TRACK);
}

TEST(ConfidenceTest, LowConfidenceTouchesNoOtherStatus) {
  const absl::Time mid = kStart + 5 * kDay;
  const absl::Time end = kStart + 10 * kDay;
  EXPECT_EQ(SingleStatus(300, mid, /*manual=*/true, 0.4),
            v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(SingleStatus(100, mid, /*manual=*/true, 0.4),
            v1::OKR_STATUS_OFF_TRACK);
  EXPECT_EQ(SingleStatus(1000, mid, /*manual=*/true, 0.4),
            v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(SingleStatus(900, end, /*manual=*/true, 0.4),
            v1::OKR_STATUS_MISSED);
  EXPECT_EQ(SingleStatus(std::nullopt, mid, /*manual=*/true, 0.4),
            v1::OKR_STATUS_NO_DATA);
}

TEST(ConfidenceTest, HighConfidenceNeverMovesAStatusUp) {
  const absl::Time mid = kStart + 5 * kDay;
  EXPECT_EQ(SingleStatus(300, mid, /*manual=*/true, 1.0),
            v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(SingleStatus(100, mid, /*manual=*/true, 1.0),
            v1::OKR_STATUS_OFF_TRACK);
}

TEST(ConfidenceTest, ReportedAndUsedForManualKeyResultsOnly) {
  const v1::Objective o =
      MakeObjective({{"manual", 0, 10, 0, true}, {"kvi", 0, 10}}, 10 * kDay);
  const v1::ObjectiveStatus s =
      Score(o, {{"manual", CheckIn(5, 0.4)}, {"kvi", CheckIn(5, 0.1)}},
            kStart + 5 * kDay);
  EXPECT_THAT(s.key_results(0).confidence(), DoubleEq(0.4));
  EXPECT_EQ(s.key_results(0).status(), v1::OKR_STATUS_AT_RISK);
  EXPECT_EQ(s.key_results(1).confidence(), 0);
  EXPECT_EQ(s.key_results(1).status(), v1::OKR_STATUS_ON_TRACK);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_AT_RISK);
}

// ---------------------------------------------------------------------------
// The objective's status is the weakest key result status.

TEST(ObjectiveStatusTest, WeakestKeyResultStatus) {
  const absl::Time mid = kStart + 5 * kDay;
  const absl::Time end = kStart + 10 * kDay;
  const v1::Objective three =
      MakeObjective({{"a", 0, 10}, {"b", 0, 10}, {"c", 0, 10}}, 10 * kDay);

  // ACHIEVED and NO_DATA: NO_DATA.
  const v1::Objective two =
      MakeObjective({{"a", 0, 10}, {"b", 0, 10}}, 10 * kDay);
  EXPECT_EQ(Score(two, {{"a", Value(10)}}, mid).status(),
            v1::OKR_STATUS_NO_DATA);
  // ON_TRACK and ACHIEVED: ON_TRACK.
  EXPECT_EQ(Score(two, {{"a", Value(10)}, {"b", Value(5)}}, mid).status(),
            v1::OKR_STATUS_ON_TRACK);
  // ON_TRACK, AT_RISK, OFF_TRACK: OFF_TRACK.
  EXPECT_EQ(
      Score(three, {{"a", Value(5)}, {"b", Value(3)}, {"c", Value(1)}}, mid)
          .status(),
      v1::OKR_STATUS_OFF_TRACK);
  // AT_RISK beats NO_DATA.
  EXPECT_EQ(Score(three, {{"a", Value(10)}, {"b", Value(3)}}, mid).status(),
            v1::OKR_STATUS_AT_RISK);
  // MISSED wins over ACHIEVED and NO_DATA after the period.
  const v1::ObjectiveStatus after =
      Score(three, {{"a", Value(10)}, {"b", Value(2)}}, end);
  EXPECT_EQ(after.key_results(0).status(), v1::OKR_STATUS_ACHIEVED);
  EXPECT_EQ(after.key_results(1).status(), v1::OKR_STATUS_MISSED);
  EXPECT_EQ(after.key_results(2).status(), v1::OKR_STATUS_NO_DATA);
  EXPECT_EQ(after.status(), v1::OKR_STATUS_MISSED);
  // Key result order does not matter.
  const v1::Objective reversed =
      MakeObjective({{"c", 0, 10}, {"b", 0, 10}, {"a", 0, 10}}, 10 * kDay);
  EXPECT_EQ(Score(reversed, {{"a", Value(10)}, {"b", Value(2)}}, end).status(),
            v1::OKR_STATUS_MISSED);
}

TEST(ObjectiveStatusTest, NoKeyResults) {
  const v1::Objective o = MakeObjective({}, 10 * kDay);
  const v1::ObjectiveStatus during = Score(o, {}, kStart + kDay);
  EXPECT_EQ(during.status(), v1::OKR_STATUS_NO_DATA);
  EXPECT_EQ(during.score(), 0);
  EXPECT_EQ(during.color(), v1::COLOR_RED);
  EXPECT_EQ(Score(o, {}, kStart - kDay).status(), v1::OKR_STATUS_NOT_STARTED);
}

}  // namespace
}  // namespace vla::okr
