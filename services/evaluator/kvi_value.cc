#include "services/evaluator/kvi_value.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/time/civil_time.h"
#include "common/proto_time.h"

namespace vla::evaluator {
namespace {

SelectionDef MakeDef(const v1::Kvi& kvi, v1::Source source,
                     const std::string& signal, v1::WorkItemField field,
                     const v1::Scope* extra_scope, AggregateSpec spec) {
  SelectionDef def;
  def.value_stream = kvi.value_stream();
  def.source = source;
  if (source == v1::SOURCE_OBSERVATIONS) def.signal = signal;
  def.field = field;
  def.spec = spec;
  for (const v1::Scope* scope : {&kvi.scope(), extra_scope}) {
    if (scope == nullptr) continue;
    if (!scope->service().empty()) def.service = scope->service();
    for (const auto& [k, v] : scope->labels()) def.labels[k] = v;
  }
  return def;
}

// The total a RATIO side contributes: its SUM, or its COUNT.
double SideTotal(const v1::Selection& side, const Aggregate& a) {
  return side.aggregation() == v1::AGGREGATION_SUM
             ? a.sum()
             : static_cast<double>(a.count());
}

// The value of a plain aggregate with at least `min_samples` values.
std::optional<double> PlainValue(const Aggregate& a, int64_t min_samples,
                                 absl::Duration length) {
  if (a.count() < min_samples) return std::nullopt;
  return a.Value(length);
}

bool Disputed(const v1::CoMeasurement& cm, double consumer, double provider) {
  const double diff = std::fabs(consumer - provider);
  return (cm.absolute_tolerance() > 0 && diff > cm.absolute_tolerance()) ||
         (cm.relative_tolerance() > 0 &&
          diff > cm.relative_tolerance() * std::fabs(consumer));
}

}  // namespace

KviMode ModeOf(const v1::Kvi& kvi) {
  if (kvi.aggregation() == v1::AGGREGATION_RATIO) return KviMode::kRatio;
  if (kvi.co_measurement().enabled()) return KviMode::kComeasured;
  return KviMode::kPlain;
}

std::vector<SelectionDef> SelectionsOf(const v1::Kvi& kvi,
                                       const v1::ValueStream* value_stream) {
  std::vector<SelectionDef> defs;
  switch (ModeOf(kvi)) {
    case KviMode::kRatio:
      for (const v1::Selection* side : {&kvi.numerator(), &kvi.denominator()}) {
        AggregateSpec spec;
        spec.aggregation = side->aggregation();
        defs.push_back(MakeDef(kvi, side->source(), side->signal(),
                               side->field(), &side->scope(), spec));
      }
      return defs;
    case KviMode::kPlain:
    case KviMode::kComeasured:
      break;
  }
  AggregateSpec spec;
  spec.aggregation = kvi.aggregation();
  spec.threshold = kvi.threshold();
  spec.percentile = kvi.percentile();
  defs.push_back(
      MakeDef(kvi, kvi.source(), kvi.signal(), kvi.field(), nullptr, spec));
  if (ModeOf(kvi) == KviMode::kPlain) return defs;
  defs.push_back(defs.front());
  const Parties parties = PartiesOf(value_stream);
  for (SelectionDef& side : defs) side.by_reporter = true;
  if (value_stream != nullptr) defs[0].reporters = {parties.consumer};
  defs[1].reporters = parties.providers;
  return defs;
}

TimeWindow CalendarPeriodAt(v1::CalendarPeriod period, absl::TimeZone tz,
                            absl::Time at) {
  const absl::CivilSecond now = absl::ToCivilSecond(at, tz);
  absl::CivilMonth start;
  int months = 1;
  switch (period) {
    case v1::CALENDAR_PERIOD_QUARTER:
      start = absl::CivilMonth(now.year(), (now.month() - 1) / 3 * 3 + 1);
      months = 3;
      break;
    case v1::CALENDAR_PERIOD_YEAR:
      start = absl::CivilMonth(now.year(), 1);
      months = 12;
      break;
    default:
      start = absl::CivilMonth(now);
      break;
  }
  return {absl::FromCivil(start, tz), absl::FromCivil(start + months, tz)};
}

TimeWindow KviWindow(const v1::Window& w, absl::Time at) {
  if (w.has_rolling()) {
    return {std::min(at, at - FromProtoDuration(w.rolling())), at};
  }
  absl::TimeZone tz = absl::UTCTimeZone();
  // Validation refused unknown zones; a zone missing from this machine's
  // tzdata falls back to UTC.
  if (!w.time_zone().empty() && !absl::LoadTimeZone(w.time_zone(), &tz)) {
    tz = absl::UTCTimeZone();
  }
  return {std::min(at, CalendarPeriodAt(w.calendar(), tz, at).start), at};
}

Parties PartiesOf(const v1::ValueStream* value_stream) {
  Parties parties;
  if (value_stream == nullptr) return parties;
  parties.consumer = value_stream->consumer();
  parties.providers.assign(value_stream->providers().begin(),
                           value_stream->providers().end());
  return parties;
}

v1::KviValue KviValueOf(const v1::Kvi& kvi, const TimeWindow& window,
                        absl::Span<const Aggregate> aggregates,
                        const Parties& parties) {
  v1::KviValue out;
  *out.mutable_window_start() = ToProtoTime(window.start);
  *out.mutable_window_end() = ToProtoTime(window.end);
  out.set_comeasurement(v1::CO_MEASUREMENT_STATE_NOT_COMEASURED);
  const int64_t min_samples = std::max(1, kvi.min_samples());
  const absl::Duration length = window.length();
  switch (ModeOf(kvi)) {
    case KviMode::kPlain: {
      const Aggregate& a = aggregates[0];
      out.set_samples(a.count());
      if (auto v = PlainValue(a, min_samples, length)) {
        out.set_has_value(true);
        out.set_value(*v);
      }
      return out;
    }
    case KviMode::kRatio: {
      const Aggregate& num = aggregates[0];
      const Aggregate& den = aggregates[1];
      const double n = SideTotal(kvi.numerator(), num);
      const double d = SideTotal(kvi.denominator(), den);
      out.set_samples(den.count());
      if (den.count() >= min_samples && d != 0) {
        out.set_has_value(true);
        out.set_value(n / d);
      }
      return out;
    }
    case KviMode::kComeasured:
      break;
  }
  const std::optional<double> consumer =
      PlainValue(aggregates[0], min_samples, length);
  const std::optional<double> provider =
      PlainValue(aggregates[1], min_samples, length);
  out.set_samples(aggregates[0].count() + aggregates[1].count());
  auto& party_values = *out.mutable_party_values();
  if (consumer) party_values[parties.consumer] = *consumer;
  if (provider) {
    // The provider side is one value; every provider is listed with it.
    for (const std::string& p : parties.providers) party_values[p] = *provider;
  }
  if (consumer && provider) {
    out.set_has_value(true);
    if (Disputed(kvi.co_measurement(), *consumer, *provider)) {
      out.set_comeasurement(v1::CO_MEASUREMENT_STATE_DISPUTED);
      out.set_value(*consumer);  // the consumer's view
    } else {
      out.set_comeasurement(v1::CO_MEASUREMENT_STATE_AGREED);
      out.set_value((*consumer + *provider) / 2);
    }
  } else if (consumer || provider) {
    out.set_comeasurement(v1::CO_MEASUREMENT_STATE_ONE_SIDED);
    out.set_has_value(true);
    out.set_value(consumer ? *consumer : *provider);
  }
  return out;
}

}  // namespace vla::evaluator
