// Per-period compliance reports (domain.md, "Per-period reports"), as pure
// functions: which calendar periods a time range touches, and one report per
// period from the evaluations published in it and a status evaluated over
// it. The engine evaluates (VLA revision, KVIs over the period's window) and
// the store reads the published states; nothing here knows about either.
//
//   std::vector<TimeWindow> periods = CalendarPeriods(MONTH, tz, from, to);
//   absl::StatusOr<std::vector<v1::PeriodReport>> reports = PeriodReports(
//       periods, now, published, [&](const TimeWindow& w) {
//         return engine.VlaStatusOver(vla, w);
//       });
#ifndef VLA_SERVICES_EVALUATOR_PERIOD_REPORT_H_
#define VLA_SERVICES_EVALUATOR_PERIOD_REPORT_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/evaluator/kvi_value.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

// The calendar periods (MONTH, QUARTER or YEAR of `tz`) that overlap
// [from, to), oldest first, at most `limit` of them; none when from >= to.
std::vector<TimeWindow> CalendarPeriods(v1::CalendarPeriod period,
                                        absl::TimeZone tz, absl::Time from,
                                        absl::Time to, size_t limit = 100000);

// The start of the period `count` periods before the one that holds `at`
// (count 0: the start of that one).
absl::Time PeriodsBefore(v1::CalendarPeriod period, absl::TimeZone tz,
                         absl::Time at, int count);

// A published evaluation, as far as time in state is concerned. It holds
// from `time` until the next one.
struct PublishedState {
  absl::Time time;
  v1::ComplianceState state = v1::COMPLIANCE_STATE_NO_DATA;
  bool watermelon = false;
  bool disputed = false;
};

// The status of the VLA over one period's window [start, min(end, now)).
using PeriodEvaluator =
    std::function<absl::StatusOr<v1::VlaStatus>(const TimeWindow& window)>;

// One report per period of `periods` (oldest first, each starting before
// `now`), with window [start, min(end, now)):
// - `status` from `evaluate(window)`; `complete` when end <= now;
// - `time_in_state` (MET, AT_RISK, BREACHED, NO_DATA, in that order), and
//   the watermelon and disputed fractions: time-weighted over the window,
//   each published state holding from its time until the next one, the time
//   before the first one in the window taking the last one before it (or
//   NO_DATA, not a watermelon, not disputed, if there is none); they sum
//   to 1;
// - `evaluations`: how many were published in the window.
// `published`: oldest first; it must hold the last state published before
// the first period (if any) and every one up to the last window's end
// (others are ignored). The first error of `evaluate` is returned.
absl::StatusOr<std::vector<v1::PeriodReport>> PeriodReports(
    absl::Span<const TimeWindow> periods, absl::Time now,
    absl::Span<const PublishedState> published,
    const PeriodEvaluator& evaluate);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_PERIOD_REPORT_H_
