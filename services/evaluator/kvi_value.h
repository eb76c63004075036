// A KVI's value (domain.md, "KVI definitions and their values"), as pure
// functions: what a KVI selects (its selections), the window it covers at an
// instant, and its value from the aggregates of its selections over a window.
// The index and its caches (selection.h) compute the aggregates; nothing
// here knows about them, so a new window (a report period) or a new way of
// measuring items is a parameter, not a copy of the formulas.
//
//   std::vector<SelectionDef> defs = SelectionsOf(kvi, &value_stream);
//   TimeWindow w = KviWindow(kvi.window(), at);
//   ... aggregates[i] = aggregate of defs[i] over w ...
//   v1::KviValue v = KviValueOf(kvi, w, aggregates, PartiesOf(kvi, &vs));
#ifndef VLA_SERVICES_EVALUATOR_KVI_VALUE_H_
#define VLA_SERVICES_EVALUATOR_KVI_VALUE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/evaluator/aggregate.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {

// How a KVI combines its selections: one (plain), numerator and denominator
// (RATIO), or the consumer's and the providers' sides (co-measured).
enum class KviMode { kPlain, kRatio, kComeasured };
KviMode ModeOf(const v1::Kvi& kvi);

// What one selection of a KVI aggregates, by name.
struct SelectionDef {
  std::string value_stream;  // the KVI's
  v1::Source source = v1::SOURCE_UNSPECIFIED;
  std::string signal;                                         // observations
  v1::WorkItemField field = v1::WORK_ITEM_FIELD_UNSPECIFIED;  // work items
  std::string service;                                        // empty: any
  std::map<std::string, std::string> labels;                  // all must match
  // Co-measurement: only the values these teams reported.
  bool by_reporter = false;
  std::vector<std::string> reporters;
  AggregateSpec spec;
};

// The selections of `kvi`, in the order KviValueOf takes their aggregates:
// plain {values}; RATIO {numerator, denominator} (each with the KVI's scope
// and its own); co-measured {consumer side, provider side} (reporters from
// `value_stream`, the KVI's; null: no reporters known yet).
std::vector<SelectionDef> SelectionsOf(const v1::Kvi& kvi,
                                       const v1::ValueStream* value_stream);

// A half-open time window [start, end).
struct TimeWindow {
  absl::Time start;
  absl::Time end;
  absl::Duration length() const { return end - start; }
};

// The whole calendar period (MONTH, QUARTER or YEAR; anything else counts
// as MONTH) of `tz` that contains `at`: [its first local midnight, the next
// period's). DST-correct: a local day is as long as the zone makes it.
TimeWindow CalendarPeriodAt(v1::CalendarPeriod period, absl::TimeZone tz,
                            absl::Time at);

// The window of a KVI at `at`: ROLLING d covers [at - d, at); CALENDAR covers
// the period to date, from the start of the month, quarter or year of `at`
// in the window's time zone (UTC if unset or unknown here). Never starts
// after `at`.
TimeWindow KviWindow(const v1::Window& window, absl::Time at);

// The parties of a co-measured KVI, named in `party_values`.
struct Parties {
  std::string consumer;
  std::vector<std::string> providers;
};
Parties PartiesOf(const v1::ValueStream* value_stream);

// The KVI's value over `window` from the aggregates of its selections over
// it (SelectionsOf order): min_samples, RATE_PER_DAY over the window's
// length, RATIO (samples = the denominator's count; a zero denominator has
// no value), co-measurement (DISPUTED past a set tolerance, with the
// consumer's value; AGREED: the mean; ONE_SIDED: that side's value).
// Sets kvi-independent fields only: the caller sets `kvi` (the name).
v1::KviValue KviValueOf(const v1::Kvi& kvi, const TimeWindow& window,
                        absl::Span<const Aggregate> aggregates,
                        const Parties& parties);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_KVI_VALUE_H_
