#include "services/vmdb/validation.h"

#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/proto_time.h"

namespace vla::vmdb {
namespace {

using v1::Kvi;
using v1::Objective;
using v1::Team;
using v1::ValueStream;
using v1::Vla;

constexpr size_t kMaxDisplayName = 200;
constexpr size_t kMaxDescription = 4000;
constexpr size_t kMaxShortText = 200;
constexpr int kMaxLabels = 16;
constexpr size_t kMaxLabelKey = 64;
constexpr size_t kMaxLabelValue = 256;
constexpr int kMaxListItems = 100;
constexpr int kMaxClauses = 64;
constexpr int kMaxKeyResults = 32;
constexpr absl::Duration kMaxWindow = absl::Hours(24 * 3660);

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

std::string Sub(absl::string_view prefix, absl::string_view field) {
  return absl::StrCat(prefix, ".", field);
}

std::string At(absl::string_view field, int index) {
  return absl::StrCat(field, "[", index, "]");
}

absl::Status CheckLength(absl::string_view field, const std::string& value,
                         size_t max) {
  if (value.size() > max) {
    return Invalid(field, absl::StrCat("longer than ", max, " characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckFinite(absl::string_view field, double value) {
  if (!std::isfinite(value)) return Invalid(field, "must be a finite number");
  return absl::OkStatus();
}

absl::Status CheckWeight(absl::string_view field, double weight) {
  if (!std::isfinite(weight) || weight < 0) {
    return Invalid(field, "must be a finite number >= 0 (0 means 1)");
  }
  return absl::OkStatus();
}

absl::Status CheckCommon(absl::string_view prefix,
                         const std::string& display_name,
                         const std::string& description) {
  if (auto s = CheckLength(Sub(prefix, "display_name"), display_name,
                           kMaxDisplayName);
      !s.ok()) {
    return s;
  }
  return CheckLength(Sub(prefix, "description"), description, kMaxDescription);
}

// A required reference to a resource of `collection`.
absl::Status CheckRef(absl::string_view field, const std::string& name,
                      absl::string_view collection,
                      std::vector<Reference>* refs) {
  if (name.empty()) {
    return Invalid(
        field, absl::StrCat("required (a name like ", collection, "/my-id)"));
  }
  auto id = ParseName(field, name, collection);
  if (!id.ok()) return id.status();
  refs->push_back({std::string(field), name});
  return absl::OkStatus();
}

// Names of `collection`, at least `min`, no duplicates.
absl::Status CheckRefList(
    absl::string_view field,
    const google::protobuf::RepeatedPtrField<std::string>& names,
    absl::string_view collection, int min, std::vector<Reference>* refs) {
  if (names.size() < min) {
    return Invalid(field, absl::StrCat("at least ", min, " required"));
  }
  if (names.size() > kMaxListItems) {
    return Invalid(field, absl::StrCat("at most ", kMaxListItems, " allowed"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < names.size(); ++i) {
    if (auto s = CheckRef(At(field, i), names[i], collection, refs); !s.ok()) {
      return s;
    }
    if (!seen.insert(names[i]).second) {
      return Invalid(At(field, i), absl::StrCat(names[i], " is listed twice"));
    }
  }
  return absl::OkStatus();
}

// A value owner is a person (free text) or a team (`teams/...`, must exist).
absl::Status CheckValueOwner(absl::string_view field, const std::string& owner,
                             std::vector<Reference>* refs) {
  if (absl::StartsWith(owner, "teams/")) {
    return CheckRef(field, owner, "teams", refs);
  }
  return CheckLength(field, owner, kMaxShortText);
}

template <typename Enum>
absl::Status CheckEnum(absl::string_view field, int value,
                       bool (*is_valid)(int), bool required) {
  if (!is_valid(value)) {
    return Invalid(field, absl::StrCat("unknown value ", value));
  }
  if (required && value == 0) return Invalid(field, "required");
  return absl::OkStatus();
}

absl::Status CheckScope(absl::string_view field, const v1::Scope& scope) {
  if (auto s =
          CheckLength(Sub(field, "service"), scope.service(), kMaxShortText);
      !s.ok()) {
    return s;
  }
  if (scope.labels_size() > kMaxLabels) {
    return Invalid(Sub(field, "labels"),
                   absl::StrCat("at most ", kMaxLabels, " labels"));
  }
  for (const auto& [key, value] : scope.labels()) {
    const std::string f = absl::StrCat(field, ".labels[\"", key, "\"]");
    if (key.empty()) return Invalid(Sub(field, "labels"), "empty label key");
    if (auto s = CheckLength(f, key, kMaxLabelKey); !s.ok()) return s;
    if (auto s = CheckLength(f, value, kMaxLabelValue); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckSignal(absl::string_view field, const std::string& signal) {
  if (signal.empty()) return Invalid(field, "required for source OBSERVATIONS");
  return CheckLength(field, signal, kMaxShortText);
}

// The source/signal/field triple of a KVI or a RATIO selection.
absl::Status CheckSource(absl::string_view prefix, v1::Source source,
                         const std::string& signal, v1::WorkItemField field) {
  if (auto s = CheckEnum<v1::Source>(Sub(prefix, "source"), source,
                                     v1::Source_IsValid, true);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckEnum<v1::WorkItemField>(Sub(prefix, "field"), field,
                                            v1::WorkItemField_IsValid, false);
      !s.ok()) {
    return s;
  }
  if (source == v1::SOURCE_OBSERVATIONS) {
    if (field != v1::WORK_ITEM_FIELD_UNSPECIFIED) {
      return Invalid(Sub(prefix, "field"), "only for source WORK_ITEMS");
    }
    return CheckSignal(Sub(prefix, "signal"), signal);
  }
  if (!signal.empty()) {
    return Invalid(Sub(prefix, "signal"), "only for source OBSERVATIONS");
  }
  if (field == v1::WORK_ITEM_FIELD_UNSPECIFIED) {
    return Invalid(Sub(prefix, "field"), "required for source WORK_ITEMS");
  }
  return absl::OkStatus();
}

absl::Status CheckSelection(absl::string_view prefix,
                            const v1::Selection& sel) {
  if (auto s = CheckSource(prefix, sel.source(), sel.signal(), sel.field());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckScope(Sub(prefix, "scope"), sel.scope()); !s.ok()) return s;
  if (sel.aggregation() != v1::AGGREGATION_COUNT &&
      sel.aggregation() != v1::AGGREGATION_SUM) {
    return Invalid(Sub(prefix, "aggregation"), "must be COUNT or SUM");
  }
  return absl::OkStatus();
}

absl::Status CheckWindow(absl::string_view prefix, const Kvi& kvi) {
  if (!kvi.has_window()) return Invalid(prefix, "required");
  const v1::Window& w = kvi.window();
  switch (w.kind_case()) {
    case v1::Window::kRolling: {
      const std::string f = Sub(prefix, "rolling");
      if (!IsValidProtoDuration(w.rolling()))
        return Invalid(f, "invalid duration");
      const absl::Duration d = FromProtoDuration(w.rolling());
      if (d <= absl::ZeroDuration()) return Invalid(f, "must be positive");
      if (d > kMaxWindow) return Invalid(f, "longer than 3660 days");
      if (!w.time_zone().empty()) {
        return Invalid(Sub(prefix, "time_zone"), "only for calendar windows");
      }
      return absl::OkStatus();
    }
    case v1::Window::kCalendar: {
      if (auto s = CheckEnum<v1::CalendarPeriod>(
              Sub(prefix, "calendar"), w.calendar(), v1::CalendarPeriod_IsValid,
              true);
          !s.ok()) {
        return s;
      }
      absl::TimeZone tz;
      if (!w.time_zone().empty() && !absl::LoadTimeZone(w.time_zone(), &tz)) {
        return Invalid(
            Sub(prefix, "time_zone"),
            absl::StrCat("unknown IANA time zone \"", w.time_zone(), "\""));
      }
      return absl::OkStatus();
    }
    case v1::Window::KIND_NOT_SET:
      break;
  }
  return Invalid(prefix, "empty: set rolling or calendar");
}

absl::Status CheckTime(absl::string_view field,
                       const google::protobuf::Timestamp& t) {
  if (!IsValidProtoTime(t)) return Invalid(field, "invalid timestamp");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTeam(const Team& team, absl::string_view prefix,
                          std::vector<Reference>*) {
  if (auto s = CheckCommon(prefix, team.display_name(), team.description());
      !s.ok()) {
    return s;
  }
  return CheckEnum<v1::TeamKind>(Sub(prefix, "kind"), team.kind(),
                                 v1::TeamKind_IsValid, true);
}

absl::Status ValidateValueStream(const ValueStream& vs,
                                 absl::string_view prefix,
                                 std::vector<Reference>* refs) {
  if (auto s = CheckCommon(prefix, vs.display_name(), vs.description());
      !s.ok()) {
    return s;
  }
  if (auto s =
          CheckValueOwner(Sub(prefix, "value_owner"), vs.value_owner(), refs);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRef(Sub(prefix, "consumer"), vs.consumer(), "teams", refs);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRefList(Sub(prefix, "providers"), vs.providers(), "teams",
                            1, refs);
      !s.ok()) {
    return s;
  }
  if (vs.stages_size() > kMaxListItems) {
    return Invalid(Sub(prefix, "stages"),
                   absl::StrCat("at most ", kMaxListItems, " allowed"));
  }
  std::set<std::string> stage_names;
  for (int i = 0; i < vs.stages_size(); ++i) {
    const std::string f = At(Sub(prefix, "stages"), i);
    const v1::Stage& stage = vs.stages(i);
    if (stage.name().empty()) return Invalid(Sub(f, "name"), "required");
    if (auto s = CheckLength(Sub(f, "name"), stage.name(), kMaxShortText);
        !s.ok()) {
      return s;
    }
    if (!stage_names.insert(stage.name()).second) {
      return Invalid(Sub(f, "name"), absl::StrCat("stage \"", stage.name(),
                                                  "\" is listed twice"));
    }
    if (!stage.team().empty()) {
      if (auto s = CheckRef(Sub(f, "team"), stage.team(), "teams", refs);
          !s.ok()) {
        return s;
      }
    }
  }
  if (vs.services_size() > kMaxListItems) {
    return Invalid(Sub(prefix, "services"),
                   absl::StrCat("at most ", kMaxListItems, " allowed"));
  }
  for (int i = 0; i < vs.services_size(); ++i) {
    const std::string f = At(Sub(prefix, "services"), i);
    if (vs.services(i).empty()) return Invalid(f, "empty service id");
    if (auto s = CheckLength(f, vs.services(i), kMaxShortText); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateKvi(const Kvi& kvi, absl::string_view prefix,
                         std::vector<Reference>* refs) {
  if (auto s = CheckCommon(prefix, kvi.display_name(), kvi.description());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRef(Sub(prefix, "value_stream"), kvi.value_stream(),
                        "valueStreams", refs);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckEnum<v1::Aggregation>(Sub(prefix, "aggregation"),
                                          kvi.aggregation(),
                                          v1::Aggregation_IsValid, true);
      !s.ok()) {
    return s;
  }
  const bool ratio = kvi.aggregation() == v1::AGGREGATION_RATIO;
  if (ratio) {
    if (kvi.source() != v1::SOURCE_UNSPECIFIED || !kvi.signal().empty() ||
        kvi.field() != v1::WORK_ITEM_FIELD_UNSPECIFIED) {
      return Invalid(Sub(prefix, "source"),
                     "a RATIO KVI leaves source, signal and field unset; its "
                     "numerator and denominator carry their own");
    }
    if (!kvi.has_numerator())
      return Invalid(Sub(prefix, "numerator"), "required for RATIO");
    if (!kvi.has_denominator()) {
      return Invalid(Sub(prefix, "denominator"), "required for RATIO");
    }
    if (auto s = CheckSelection(Sub(prefix, "numerator"), kvi.numerator());
        !s.ok()) {
      return s;
    }
    if (auto s = CheckSelection(Sub(prefix, "denominator"), kvi.denominator());
        !s.ok()) {
      return s;
    }
  } else {
    if (auto s = CheckSource(prefix, kvi.source(), kvi.signal(), kvi.field());
        !s.ok()) {
      return s;
    }
    if (kvi.has_numerator() || kvi.has_denominator()) {
      return Invalid(Sub(prefix, "numerator"), "only for aggregation RATIO");
    }
  }
  if (auto s = CheckScope(Sub(prefix, "scope"), kvi.scope()); !s.ok()) return s;
  if (kvi.aggregation() == v1::AGGREGATION_PERCENTILE) {
    if (!std::isfinite(kvi.percentile()) || kvi.percentile() <= 0 ||
        kvi.percentile() > 100) {
      return Invalid(Sub(prefix, "percentile"), "must be in (0, 100]");
    }
  } else if (kvi.percentile() != 0) {
    return Invalid(Sub(prefix, "percentile"),
                   "only for aggregation PERCENTILE");
  }
  if (auto s = CheckFinite(Sub(prefix, "threshold"), kvi.threshold());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckWindow(Sub(prefix, "window"), kvi); !s.ok()) return s;
  if (auto s = CheckLength(Sub(prefix, "unit"), kvi.unit(), 32); !s.ok())
    return s;
  if (auto s =
          CheckEnum<v1::Direction>(Sub(prefix, "direction"), kvi.direction(),
                                   v1::Direction_IsValid, true);
      !s.ok()) {
    return s;
  }
  if (auto s =
          CheckEnum<v1::Dimension>(Sub(prefix, "dimension"), kvi.dimension(),
                                   v1::Dimension_IsValid, false);
      !s.ok()) {
    return s;
  }
  if (kvi.min_samples() < 0 || kvi.min_samples() > 1000000) {
    return Invalid(Sub(prefix, "min_samples"),
                   "must be in [0, 1000000] (0 means 1)");
  }
  const v1::CoMeasurement& cm = kvi.co_measurement();
  const std::string cmf = Sub(prefix, "co_measurement");
  for (auto [name, tol] :
       {std::pair{"absolute_tolerance", cm.absolute_tolerance()},
        std::pair{"relative_tolerance", cm.relative_tolerance()}}) {
    if (!std::isfinite(tol) || tol < 0) {
      return Invalid(Sub(cmf, name),
                     "must be a finite number >= 0 (0 = unset)");
    }
  }
  if (cm.enabled() && kvi.source() != v1::SOURCE_OBSERVATIONS) {
    return Invalid(
        Sub(cmf, "enabled"),
        "co-measurement needs source OBSERVATIONS (each side reports "
        "its own observations)");
  }
  return absl::OkStatus();
}

absl::Status ValidateVla(const Vla& vla, absl::string_view prefix,
                         std::vector<Reference>* refs) {
  if (auto s = CheckCommon(prefix, vla.display_name(), vla.description());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRef(Sub(prefix, "value_stream"), vla.value_stream(),
                        "valueStreams", refs);
      !s.ok()) {
    return s;
  }
  if (auto s =
          CheckValueOwner(Sub(prefix, "value_owner"), vla.value_owner(), refs);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRef(Sub(prefix, "consumer"), vla.consumer(), "teams", refs);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRefList(Sub(prefix, "providers"), vla.providers(), "teams",
                            1, refs);
      !s.ok()) {
    return s;
  }
  const std::string cf = Sub(prefix, "clauses");
  if (vla.clauses_size() < 1) return Invalid(cf, "at least 1 required");
  if (vla.clauses_size() > kMaxClauses) {
    return Invalid(cf, absl::StrCat("at most ", kMaxClauses, " allowed"));
  }
  std::set<std::string> kvis;
  for (int i = 0; i < vla.clauses_size(); ++i) {
    const v1::Clause& c = vla.clauses(i);
    const std::string f = At(cf, i);
    if (auto s = CheckRef(Sub(f, "kvi"), c.kvi(), "kvis", refs); !s.ok())
      return s;
    if (!kvis.insert(c.kvi()).second) {
      return Invalid(Sub(f, "kvi"),
                     absl::StrCat(c.kvi(), " has another clause already"));
    }
    if (auto s = CheckFinite(Sub(f, "target"), c.target()); !s.ok()) return s;
    if (auto s = CheckFinite(Sub(f, "warning"), c.warning()); !s.ok()) return s;
    if (auto s = CheckWeight(Sub(f, "weight"), c.weight()); !s.ok()) return s;
    if (c.has_baseline()) {
      if (auto s = CheckFinite(Sub(f, "baseline"), c.baseline()); !s.ok()) {
        return s;
      }
      if (c.baseline() == c.target()) {
        return Invalid(Sub(f, "baseline"), "must differ from target");
      }
    }
  }
  for (auto [name, score] : {std::pair{"pass_score", vla.pass_score()},
                             std::pair{"warning_score", vla.warning_score()}}) {
    if (!std::isfinite(score) || score < 0 || score > 100) {
      return Invalid(Sub(prefix, name), "must be in [0, 100] (0 = default)");
    }
  }
  const double pass = vla.pass_score() == 0 ? 90 : vla.pass_score();
  const double warning = vla.warning_score() == 0 ? 75 : vla.warning_score();
  if (warning > pass) {
    return Invalid(Sub(prefix, "warning_score"),
                   absl::StrCat("effective warning_score ", warning,
                                " is above effective pass_score ", pass));
  }
  if (vla.has_sla()) {
    if (auto s =
            CheckRef(Sub(prefix, "sla.kvi"), vla.sla().kvi(), "kvis", refs);
        !s.ok()) {
      return s;
    }
    if (auto s = CheckFinite(Sub(prefix, "sla.target"), vla.sla().target());
        !s.ok()) {
      return s;
    }
  }
  if (auto s = CheckEnum<v1::VlaState>(Sub(prefix, "state"), vla.state(),
                                       v1::VlaState_IsValid, true);
      !s.ok()) {
    return s;
  }
  if (vla.has_effective_time()) {
    return CheckTime(Sub(prefix, "effective_time"), vla.effective_time());
  }
  return absl::OkStatus();
}

absl::Status ValidateVlaClausesAgainstKvis(const Vla& vla,
                                           absl::string_view prefix,
                                           const std::vector<Kvi>& kvis) {
  for (int i = 0; i < vla.clauses_size() && i < static_cast<int>(kvis.size());
       ++i) {
    const v1::Clause& c = vla.clauses(i);
    const bool higher = kvis[i].direction() == v1::DIRECTION_HIGHER_IS_BETTER;
    if (higher ? c.warning() > c.target() : c.warning() < c.target()) {
      return Invalid(
          Sub(At(Sub(prefix, "clauses"), i), "warning"),
          absl::StrCat("warning ", c.warning(),
                       " is on the good side of target ", c.target(), " for ",
                       c.kvi(), " (",
                       higher ? "HIGHER_IS_BETTER: warning must be <= target"
                              : "LOWER_IS_BETTER: warning must be >= target",
                       ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateObjective(const Objective& o, absl::string_view prefix,
                               std::vector<Reference>* refs) {
  if (auto s = CheckCommon(prefix, o.display_name(), o.description());
      !s.ok()) {
    return s;
  }
  if (auto s =
          CheckRefList(Sub(prefix, "owners"), o.owners(), "teams", 1, refs);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRef(Sub(prefix, "lead"), o.lead(), "teams", refs);
      !s.ok()) {
    return s;
  }
  if (std::find(o.owners().begin(), o.owners().end(), o.lead()) ==
      o.owners().end()) {
    return Invalid(Sub(prefix, "lead"),
                   absl::StrCat(o.lead(), " must be one of the owners"));
  }
  if (!o.has_period_start())
    return Invalid(Sub(prefix, "period_start"), "required");
  if (!o.has_period_end())
    return Invalid(Sub(prefix, "period_end"), "required");
  if (auto s = CheckTime(Sub(prefix, "period_start"), o.period_start());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckTime(Sub(prefix, "period_end"), o.period_end()); !s.ok()) {
    return s;
  }
  if (FromProtoTime(o.period_end()) <= FromProtoTime(o.period_start())) {
    return Invalid(Sub(prefix, "period_end"), "must be after period_start");
  }
  if (auto s = CheckEnum<v1::ObjectiveKind>(Sub(prefix, "kind"), o.kind(),
                                            v1::ObjectiveKind_IsValid, true);
      !s.ok()) {
    return s;
  }
  if (auto s = CheckRefList(Sub(prefix, "vlas"), o.vlas(), "vlas", 0, refs);
      !s.ok()) {
    return s;
  }
  const std::string kf = Sub(prefix, "key_results");
  if (o.key_results_size() < 1) return Invalid(kf, "at least 1 required");
  if (o.key_results_size() > kMaxKeyResults) {
    return Invalid(kf, absl::StrCat("at most ", kMaxKeyResults, " allowed"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < o.key_results_size(); ++i) {
    const v1::KeyResult& kr = o.key_results(i);
    const std::string f = At(kf, i);
    if (auto s = ValidateId(Sub(f, "id"), kr.id()); !s.ok()) return s;
    if (!ids.insert(kr.id()).second) {
      return Invalid(Sub(f, "id"),
                     absl::StrCat("\"", kr.id(), "\" is used twice"));
    }
    if (auto s = CheckLength(Sub(f, "description"), kr.description(), 1000);
        !s.ok()) {
      return s;
    }
    if (!kr.kvi().empty()) {
      if (auto s = CheckRef(Sub(f, "kvi"), kr.kvi(), "kvis", refs); !s.ok()) {
        return s;
      }
    }
    if (auto s = CheckFinite(Sub(f, "start_value"), kr.start_value());
        !s.ok()) {
      return s;
    }
    if (auto s = CheckFinite(Sub(f, "target_value"), kr.target_value());
        !s.ok()) {
      return s;
    }
    if (kr.start_value() == kr.target_value()) {
      return Invalid(Sub(f, "target_value"), "must differ from start_value");
    }
    if (auto s = CheckWeight(Sub(f, "weight"), kr.weight()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vla::vmdb
