// Per-period reports (period_report.h) and VLA revisions (vla_revisions.h)
// at fixed instants against hand-worked values: calendar periods in
// Europe/Berlin across DST, time in state from published evaluations, the
// state before a period, periods without data, the current period.
#include "services/evaluator/period_report.h"

#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/evaluator/vla_revisions.h"

namespace vla::evaluator {
namespace {

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm),
                         absl::UTCTimeZone());
}

absl::TimeZone Berlin() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Berlin", &tz));
  return tz;
}

TEST(CalendarPeriodsTest, MonthsQuartersYearsInBerlinAcrossDst) {
  const absl::TimeZone tz = Berlin();
  // March 2026 in Berlin: from 00:00 CET (+1) on March 1 to 00:00 CEST (+2)
  // on April 1; summer time starts on March 29, so it lasts 743 hours.
  const TimeWindow march =
      CalendarPeriodAt(v1::CALENDAR_PERIOD_MONTH, tz, Utc(2026, 3, 15));
  EXPECT_EQ(march.start, Utc(2026, 2, 28, 23));
  EXPECT_EQ(march.end, Utc(2026, 3, 31, 22));
  EXPECT_EQ(march.length(), absl::Hours(743));

  // The months that overlap [Feb 10, Apr 1 00:00Z): February, March, and
  // April (which starts in Berlin at 22:00Z on March 31).
  std::vector<TimeWindow> months = CalendarPeriods(
      v1::CALENDAR_PERIOD_MONTH, tz, Utc(2026, 2, 10), Utc(2026, 4, 1));
  ASSERT_EQ(months.size(), 3u);
  EXPECT_EQ(months[0].start, Utc(2026, 1, 31, 23));
  EXPECT_EQ(months[1].start, months[0].end);
  EXPECT_EQ(months[2].start, Utc(2026, 3, 31, 22));
  // A range ending at a period's start leaves that period out; an empty
  // range has none; the limit stops the list.
  months = CalendarPeriods(v1::CALENDAR_PERIOD_MONTH, absl::UTCTimeZone(),
                           Utc(2026, 3, 1), Utc(2026, 4, 1));
  ASSERT_EQ(months.size(), 1u);
  EXPECT_EQ(months[0].end, Utc(2026, 4, 1));
  EXPECT_TRUE(CalendarPeriods(v1::CALENDAR_PERIOD_MONTH, tz, Utc(2026, 4, 1),
                              Utc(2026, 4, 1))
                  .empty());
  EXPECT_EQ(CalendarPeriods(v1::CALENDAR_PERIOD_MONTH, tz, Utc(2000, 1, 1),
                            Utc(2026, 1, 1), 5)
                .size(),
            5u);

  // Q1 2026 in Berlin: [2025-12-31T23:00Z, 2026-03-31T22:00Z), then Q2.
  const std::vector<TimeWindow> quarters = CalendarPeriods(
      v1::CALENDAR_PERIOD_QUARTER, tz, Utc(2026, 2, 1), Utc(2026, 5, 1));
  ASSERT_EQ(quarters.size(), 2u);
  EXPECT_EQ(quarters[0].start, Utc(2025, 12, 31, 23));
  EXPECT_EQ(quarters[0].end, Utc(2026, 3, 31, 22));
  EXPECT_EQ(quarters[1].end, Utc(2026, 6, 30, 22));
  const TimeWindow year =
      CalendarPeriodAt(v1::CALENDAR_PERIOD_YEAR, tz, Utc(2026, 7, 1));
  EXPECT_EQ(year.start, Utc(2025, 12, 31, 23));
  EXPECT_EQ(year.end, Utc(2026, 12, 31, 23));

  // Six months back from mid-March (the report's default range) start in
  // October; in Berlin October 1 is 22:00Z the day before (summer time).
  EXPECT_EQ(PeriodsBefore(v1::CALENDAR_PERIOD_MONTH, absl::UTCTimeZone(),
                          Utc(2026, 3, 15), 5),
            Utc(2025, 10, 1));
  EXPECT_EQ(PeriodsBefore(v1::CALENDAR_PERIOD_MONTH, tz, Utc(2026, 3, 15), 5),
            Utc(2025, 9, 30, 22));
  EXPECT_EQ(PeriodsBefore(v1::CALENDAR_PERIOD_QUARTER, absl::UTCTimeZone(),
                          Utc(2026, 3, 15), 0),
            Utc(2026, 1, 1));
}

// The published states of the worked example: BREACHED since February 20,
// then MET on March 5 at noon, AT_RISK (a watermelon) on March 15, BREACHED
// (a watermelon, disputed) on March 25.
std::vector<PublishedState> Published() {
  return {
      {Utc(2026, 2, 20), v1::COMPLIANCE_STATE_BREACHED, false, false},
      {Utc(2026, 3, 5, 12), v1::COMPLIANCE_STATE_MET, false, false},
      {Utc(2026, 3, 15, 12), v1::COMPLIANCE_STATE_AT_RISK, true, false},
      {Utc(2026, 3, 25, 12), v1::COMPLIANCE_STATE_BREACHED, true, true},
  };
}

// Evaluates every window as a status that records it.
struct Recorder {
  std::vector<TimeWindow> windows;
  PeriodEvaluator Evaluator() {
    return [this](const TimeWindow& w) -> absl::StatusOr<v1::VlaStatus> {
      windows.push_back(w);
      v1::VlaStatus s;
      s.set_state(v1::COMPLIANCE_STATE_AT_RISK);
      *s.mutable_evaluate_time() = ToProtoTime(w.end);
      return s;
    };
  }
};

// The shares of MET, AT_RISK, BREACHED, NO_DATA.
std::vector<double> Shares(const v1::PeriodReport& r) {
  std::vector<double> out;
  const v1::ComplianceState order[] = {
      v1::COMPLIANCE_STATE_MET, v1::COMPLIANCE_STATE_AT_RISK,
      v1::COMPLIANCE_STATE_BREACHED, v1::COMPLIANCE_STATE_NO_DATA};
  EXPECT_EQ(r.time_in_state_size(), 4);
  for (int i = 0; i < r.time_in_state_size() && i < 4; ++i) {
    EXPECT_EQ(r.time_in_state(i).state(), order[i]);
    out.push_back(r.time_in_state(i).fraction());
  }
  double sum = 0;
  for (double f : out) sum += f;
  EXPECT_NEAR(sum, 1, 1e-12);
  return out;
}

TEST(PeriodReportsTest, AMonthWithKnownEvaluationsInUtcAndInBerlin) {
  const std::vector<PublishedState> published = Published();
  const absl::Time now = Utc(2026, 4, 10);
  Recorder recorder;
  // UTC: March is 744 h. BREACHED from the 1st (the state published before
  // it) to the 5th 12:00 (108 h) and from the 25th 12:00 to the end
  // (156 h); MET 240 h; AT_RISK 240 h.
  const std::vector<TimeWindow> utc = {CalendarPeriodAt(
      v1::CALENDAR_PERIOD_MONTH, absl::UTCTimeZone(), Utc(2026, 3, 10))};
  absl::StatusOr<std::vector<v1::PeriodReport>> reports =
      PeriodReports(utc, now, published, recorder.Evaluator());
  ASSERT_TRUE(reports.ok()) << reports.status();
  ASSERT_EQ(reports->size(), 1u);
  const v1::PeriodReport& r = (*reports)[0];
  EXPECT_EQ(FromProtoTime(r.period_start()), Utc(2026, 3, 1));
  EXPECT_EQ(FromProtoTime(r.period_end()), Utc(2026, 4, 1));
  EXPECT_TRUE(r.complete());
  EXPECT_THAT(Shares(r), ::testing::ElementsAre(
                             ::testing::DoubleNear(240.0 / 744, 1e-12),
                             ::testing::DoubleNear(240.0 / 744, 1e-12),
                             ::testing::DoubleNear(264.0 / 744, 1e-12), 0));
  EXPECT_NEAR(r.watermelon_fraction(), (240.0 + 156) / 744, 1e-12);
  EXPECT_NEAR(r.disputed_fraction(), 156.0 / 744, 1e-12);
  EXPECT_EQ(r.evaluations(), 3);
  // The status is the evaluator's, over the whole period.
  ASSERT_EQ(recorder.windows.size(), 1u);
  EXPECT_EQ(recorder.windows[0].start, Utc(2026, 3, 1));
  EXPECT_EQ(recorder.windows[0].end, Utc(2026, 4, 1));
  EXPECT_EQ(r.status().state(), v1::COMPLIANCE_STATE_AT_RISK);

  // Berlin: March is 743 h, [Feb 28 23:00Z, Mar 31 22:00Z). BREACHED 109 h
  // before March 5 12:00Z and 154 h after March 25 12:00Z.
  const std::vector<TimeWindow> berlin = {
      CalendarPeriodAt(v1::CALENDAR_PERIOD_MONTH, Berlin(), Utc(2026, 3, 10))};
  reports = PeriodReports(berlin, now, published, recorder.Evaluator());
  ASSERT_TRUE(reports.ok()) << reports.status();
  const v1::PeriodReport& b = (*reports)[0];
  EXPECT_THAT(Shares(b), ::testing::ElementsAre(
                             ::testing::DoubleNear(240.0 / 743, 1e-12),
                             ::testing::DoubleNear(240.0 / 743, 1e-12),
                             ::testing::DoubleNear(263.0 / 743, 1e-12), 0));
  EXPECT_NEAR(b.watermelon_fraction(), (240.0 + 154) / 743, 1e-12);
  EXPECT_NEAR(b.disputed_fraction(), 154.0 / 743, 1e-12);
  EXPECT_EQ(recorder.windows.back().start, Utc(2026, 2, 28, 23));
  EXPECT_EQ(recorder.windows.back().end, Utc(2026, 3, 31, 22));
}

TEST(PeriodReportsTest, NoDataBeforeTheFirstEvaluationAndTheCurrentPeriod) {
  const std::vector<PublishedState> published = Published();
  const absl::Time now = Utc(2026, 4, 10, 12);
  Recorder recorder;
  // January (nothing published yet), February (NO_DATA until the 20th,
  // then BREACHED), March, and April to date.
  const std::vector<TimeWindow> periods =
      CalendarPeriods(v1::CALENDAR_PERIOD_MONTH, absl::UTCTimeZone(),
                      Utc(2026, 1, 15), Utc(2026, 12, 1));
  ASSERT_EQ(periods.size(), 11u);  // January to November
  const std::vector<TimeWindow> begun(periods.begin(), periods.begin() + 4);
  absl::StatusOr<std::vector<v1::PeriodReport>> reports =
      PeriodReports(begun, now, published, recorder.Evaluator());
  ASSERT_TRUE(reports.ok()) << reports.status();
  ASSERT_EQ(reports->size(), 4u);

  const v1::PeriodReport& jan = (*reports)[0];
  EXPECT_THAT(Shares(jan), ::testing::ElementsAre(0, 0, 0, 1));
  EXPECT_EQ(jan.evaluations(), 0);
  EXPECT_EQ(jan.watermelon_fraction(), 0);

  // February: 19 of 28 days NO_DATA, 9 BREACHED; one evaluation.
  const v1::PeriodReport& feb = (*reports)[1];
  EXPECT_THAT(Shares(feb), ::testing::ElementsAre(
                               0, 0, ::testing::DoubleNear(9.0 / 28, 1e-12),
                               ::testing::DoubleNear(19.0 / 28, 1e-12)));
  EXPECT_EQ(feb.evaluations(), 1);

  // April to date: not complete, evaluated over [Apr 1, now), still
  // BREACHED and a disputed watermelon since March 25.
  const v1::PeriodReport& apr = (*reports)[3];
  EXPECT_FALSE(apr.complete());
  EXPECT_TRUE((*reports)[2].complete());
  EXPECT_EQ(FromProtoTime(apr.period_end()), Utc(2026, 5, 1));
  EXPECT_EQ(recorder.windows[3].start, Utc(2026, 4, 1));
  EXPECT_EQ(recorder.windows[3].end, now);
  EXPECT_THAT(Shares(apr), ::testing::ElementsAre(0, 0, 1, 0));
  EXPECT_EQ(apr.watermelon_fraction(), 1);
  EXPECT_EQ(apr.disputed_fraction(), 1);
  EXPECT_EQ(apr.evaluations(), 0);
}

TEST(PeriodReportsTest, EvaluationsOnThePeriodsEdgesAndErrors) {
  // Published exactly at a period's start: it counts in that period, and
  // the state before holds for no time.
  const std::vector<PublishedState> published = {
      {Utc(2026, 2, 1), v1::COMPLIANCE_STATE_BREACHED, false, false},
      {Utc(2026, 3, 1), v1::COMPLIANCE_STATE_MET, false, false},
  };
  Recorder recorder;
  const std::vector<TimeWindow> periods =
      CalendarPeriods(v1::CALENDAR_PERIOD_MONTH, absl::UTCTimeZone(),
                      Utc(2026, 2, 1), Utc(2026, 4, 1));
  absl::StatusOr<std::vector<v1::PeriodReport>> reports =
      PeriodReports(periods, Utc(2026, 5, 1), published, recorder.Evaluator());
  ASSERT_TRUE(reports.ok());
  EXPECT_THAT(Shares((*reports)[0]), ::testing::ElementsAre(0, 0, 1, 0));
  EXPECT_EQ((*reports)[0].evaluations(), 1);
  EXPECT_THAT(Shares((*reports)[1]), ::testing::ElementsAre(1, 0, 0, 0));
  EXPECT_EQ((*reports)[1].evaluations(), 1);

  // The evaluator's first error is the answer.
  reports =
      PeriodReports(periods, Utc(2026, 5, 1), published,
                    [](const TimeWindow&) -> absl::StatusOr<v1::VlaStatus> {
                      return absl::NotFoundError("vlas/x not found");
                    });
  EXPECT_EQ(reports.status().code(), absl::StatusCode::kNotFound);
}

v1::Vla Revision(int64_t revision, absl::Time committed, double target) {
  v1::Vla v;
  v.set_name("vlas/x");
  v.set_revision(revision);
  *v.mutable_update_time() = ToProtoTime(committed);
  v.add_clauses()->set_target(target);
  return v;
}

TEST(VlaRevisionsTest, TheRevisionInForceAtAnInstant) {
  VlaRevisions revisions;
  EXPECT_EQ(revisions.At("vlas/x", Utc(2026, 3, 1)), nullptr);
  EXPECT_FALSE(revisions.Knows("vlas/x"));
  // Added out of order and twice (a replayed feed): kept once each.
  revisions.Add(20, Revision(2, Utc(2026, 3, 20), 5));
  revisions.Add(7, Revision(1, Utc(2026, 2, 10), 4));
  revisions.Add(20, Revision(2, Utc(2026, 3, 20), 99));
  EXPECT_TRUE(revisions.Knows("vlas/x"));
  EXPECT_EQ(revisions.At("vlas/x", Utc(2026, 4, 1))->revision(), 2);
  EXPECT_EQ(revisions.At("vlas/x", Utc(2026, 4, 1))->clauses(0).target(), 5);
  // Committed at the instant itself: not yet in force.
  EXPECT_EQ(revisions.At("vlas/x", Utc(2026, 3, 20))->revision(), 1);
  EXPECT_EQ(revisions.At("vlas/x", Utc(2026, 3, 1))->revision(), 1);
  // Before the agreement existed: its first terms.
  EXPECT_EQ(revisions.At("vlas/x", Utc(2025, 1, 1))->revision(), 1);
  EXPECT_EQ(revisions.At("vlas/y", Utc(2026, 4, 1)), nullptr);
}

}  // namespace
}  // namespace vla::evaluator
