#include "services/evaluator/period_report.h"

#include <algorithm>
#include <array>

#include "common/proto_time.h"
#include "common/status_util.h"

namespace vla::evaluator {
namespace {

// The states of time_in_state, in their order.
constexpr std::array<v1::ComplianceState, 4> kStates = {
    v1::COMPLIANCE_STATE_MET, v1::COMPLIANCE_STATE_AT_RISK,
    v1::COMPLIANCE_STATE_BREACHED, v1::COMPLIANCE_STATE_NO_DATA};

size_t StateIndex(v1::ComplianceState state) {
  for (size_t i = 0; i < kStates.size(); ++i) {
    if (kStates[i] == state) return i;
  }
  return kStates.size() - 1;  // unset counts as NO_DATA
}

// How long each published state (and flag) held within one window.
struct TimeInState {
  std::array<absl::Duration, kStates.size()> states = {};
  absl::Duration watermelon, disputed;

  void Hold(const PublishedState& s, absl::Duration d) {
    states[StateIndex(s.state)] += d;
    if (s.watermelon) watermelon += d;
    if (s.disputed) disputed += d;
  }
};

}  // namespace

std::vector<TimeWindow> CalendarPeriods(v1::CalendarPeriod period,
                                        absl::TimeZone tz, absl::Time from,
                                        absl::Time to, size_t limit) {
  std::vector<TimeWindow> out;
  if (from >= to) return out;
  for (TimeWindow w = CalendarPeriodAt(period, tz, from);
       w.start < to && out.size() < limit;
       w = CalendarPeriodAt(period, tz, w.end)) {
    out.push_back(w);
  }
  return out;
}

absl::Time PeriodsBefore(v1::CalendarPeriod period, absl::TimeZone tz,
                         absl::Time at, int count) {
  absl::Time start = CalendarPeriodAt(period, tz, at).start;
  for (int i = 0; i < count; ++i) {
    start = CalendarPeriodAt(period, tz, start - absl::Nanoseconds(1)).start;
  }
  return start;
}

absl::StatusOr<std::vector<v1::PeriodReport>> PeriodReports(
    absl::Span<const TimeWindow> periods, absl::Time now,
    absl::Span<const PublishedState> published,
    const PeriodEvaluator& evaluate) {
  std::vector<v1::PeriodReport> out;
  out.reserve(periods.size());
  for (const TimeWindow& period : periods) {
    const TimeWindow window{period.start, std::min(period.end, now)};
    v1::PeriodReport& report = out.emplace_back();
    *report.mutable_period_start() = ToProtoTime(period.start);
    *report.mutable_period_end() = ToProtoTime(period.end);
    report.set_complete(period.end <= now);
    VLA_ASSIGN_OR_RETURN(*report.mutable_status(), evaluate(window));

    // The state in force at the window's start, then each change in it.
    auto next = std::lower_bound(
        published.begin(), published.end(), window.start,
        [](const PublishedState& s, absl::Time t) { return s.time < t; });
    PublishedState current;  // NO_DATA: nothing published before
    if (next != published.begin()) current = *(next - 1);
    TimeInState held;
    absl::Time since = window.start;
    int64_t count = 0;
    for (; next != published.end() && next->time < window.end; ++next) {
      held.Hold(current, next->time - since);
      current = *next;
      since = next->time;
      ++count;
    }
    held.Hold(current, window.end - since);
    report.set_evaluations(count);

    const absl::Duration length = window.length();
    auto fraction = [&](absl::Duration d) {
      return length > absl::ZeroDuration() ? absl::FDivDuration(d, length)
                                           : 0.0;
    };
    for (size_t i = 0; i < kStates.size(); ++i) {
      v1::StateShare* share = report.add_time_in_state();
      share->set_state(kStates[i]);
      share->set_fraction(fraction(held.states[i]));
    }
    report.set_watermelon_fraction(fraction(held.watermelon));
    report.set_disputed_fraction(fraction(held.disputed));
  }
  return out;
}

}  // namespace vla::evaluator
