#include "common/validation.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "common/status_util.h"

namespace vla {
namespace {

using v1::Kvi;
using v1::Objective;
using v1::Team;
using v1::ValueStream;
using v1::Vla;

constexpr size_t kMaxDisplayName = 200;
constexpr size_t kMaxDescription = 4000;
constexpr size_t kMaxShortText = 200;
constexpr size_t kMaxUnit = 32;
constexpr size_t kMaxKeyResultDescription = 1000;
constexpr int kMaxLabels = 16;
constexpr size_t kMaxLabelKey = 64;
constexpr size_t kMaxLabelValue = 256;
constexpr int kMaxListItems = 100;
constexpr int kMaxClauses = 64;
constexpr int kMaxKeyResults = 32;
constexpr int kMaxMinSamples = 1000000;
constexpr absl::Duration kMaxWindow = absl::Hours(24 * 3660);

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// OK, or Invalid(field, why) when `bad`.
absl::Status Require(bool ok, absl::string_view field, absl::string_view why) {
  return ok ? absl::OkStatus() : Invalid(field, why);
}

std::string Sub(absl::string_view prefix, absl::string_view field) {
  return absl::StrCat(prefix, ".", field);
}

std::string At(absl::string_view field, int index) {
  return absl::StrCat(field, "[", index, "]");
}

// --- Rules on one value ------------------------------------------------------

absl::Status CheckLength(absl::string_view field, const std::string& value,
                         size_t max) {
  return Require(value.size() <= max, field,
                 absl::StrCat("longer than ", max, " characters"));
}

absl::Status CheckFinite(absl::string_view field, double value) {
  return Require(std::isfinite(value), field, "must be a finite number");
}

absl::Status CheckWeight(absl::string_view field, double weight) {
  return Require(std::isfinite(weight) && weight >= 0, field,
                 "must be a finite number >= 0 (0 means 1)");
}

absl::Status CheckCount(absl::string_view field, int size, int min, int max) {
  VLA_RETURN_IF_ERROR(
      Require(size >= min, field, absl::StrCat("at least ", min, " required")));
  return Require(size <= max, field, absl::StrCat("at most ", max, " allowed"));
}

absl::Status CheckEnum(absl::string_view field, int value,
                       bool (*is_valid)(int), bool required) {
  VLA_RETURN_IF_ERROR(
      Require(is_valid(value), field, absl::StrCat("unknown value ", value)));
  return Require(!required || value != 0, field, "required");
}

absl::Status CheckTime(absl::string_view field,
                       const google::protobuf::Timestamp& t) {
  return Require(IsValidProtoTime(t), field, "invalid timestamp");
}

// display_name and description, which every resource has.
absl::Status CheckCommon(absl::string_view prefix,
                         const std::string& display_name,
                         const std::string& description) {
  VLA_RETURN_IF_ERROR(
      CheckLength(Sub(prefix, "display_name"), display_name, kMaxDisplayName));
  return CheckLength(Sub(prefix, "description"), description, kMaxDescription);
}

// --- References
// ----------------------------------------------------------------

// A required reference to a resource of `collection`.
absl::Status CheckRef(absl::string_view field, const std::string& name,
                      absl::string_view collection,
                      std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(
      Require(!name.empty(), field,
              absl::StrCat("required (a name like ", collection, "/my-id)")));
  VLA_RETURN_IF_ERROR(ParseName(field, name, collection).status());
  refs->push_back({std::string(field), name});
  return absl::OkStatus();
}

// Names of `collection`, at least `min`, no duplicates.
absl::Status CheckRefList(
    absl::string_view field,
    const google::protobuf::RepeatedPtrField<std::string>& names,
    absl::string_view collection, int min, std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(CheckCount(field, names.size(), min, kMaxListItems));
  std::set<std::string> seen;
  for (int i = 0; i < names.size(); ++i) {
    VLA_RETURN_IF_ERROR(CheckRef(At(field, i), names[i], collection, refs));
    VLA_RETURN_IF_ERROR(Require(seen.insert(names[i]).second, At(field, i),
                                absl::StrCat(names[i], " is listed twice")));
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

// --- Value streams
// -------------------------------------------------------------

absl::Status CheckStage(absl::string_view field, const v1::Stage& stage,
                        std::set<std::string>* names,
                        std::vector<Reference>* refs) {
  const std::string name = Sub(field, "name");
  VLA_RETURN_IF_ERROR(Require(!stage.name().empty(), name, "required"));
  VLA_RETURN_IF_ERROR(CheckLength(name, stage.name(), kMaxShortText));
  VLA_RETURN_IF_ERROR(
      Require(names->insert(stage.name()).second, name,
              absl::StrCat("stage \"", stage.name(), "\" is listed twice")));
  if (stage.team().empty()) return absl::OkStatus();
  return CheckRef(Sub(field, "team"), stage.team(), "teams", refs);
}

absl::Status CheckStages(absl::string_view field, const ValueStream& vs,
                         std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(CheckCount(field, vs.stages_size(), 0, kMaxListItems));
  std::set<std::string> names;
  for (int i = 0; i < vs.stages_size(); ++i) {
    VLA_RETURN_IF_ERROR(CheckStage(At(field, i), vs.stages(i), &names, refs));
  }
  return absl::OkStatus();
}

absl::Status CheckServices(absl::string_view field, const ValueStream& vs) {
  VLA_RETURN_IF_ERROR(CheckCount(field, vs.services_size(), 0, kMaxListItems));
  for (int i = 0; i < vs.services_size(); ++i) {
    const std::string f = At(field, i);
    VLA_RETURN_IF_ERROR(
        Require(!vs.services(i).empty(), f, "empty service id"));
    VLA_RETURN_IF_ERROR(CheckLength(f, vs.services(i), kMaxShortText));
  }
  return absl::OkStatus();
}

// --- KVIs
// ------------------------------------------------------------------------

absl::Status CheckScope(absl::string_view field, const v1::Scope& scope) {
  VLA_RETURN_IF_ERROR(
      CheckLength(Sub(field, "service"), scope.service(), kMaxShortText));
  VLA_RETURN_IF_ERROR(Require(scope.labels_size() <= kMaxLabels,
                              Sub(field, "labels"),
                              absl::StrCat("at most ", kMaxLabels, " labels")));
  for (const auto& [key, value] : scope.labels()) {
    const std::string f = absl::StrCat(field, ".labels[\"", key, "\"]");
    VLA_RETURN_IF_ERROR(
        Require(!key.empty(), Sub(field, "labels"), "empty label key"));
    VLA_RETURN_IF_ERROR(CheckLength(f, key, kMaxLabelKey));
    VLA_RETURN_IF_ERROR(CheckLength(f, value, kMaxLabelValue));
  }
  return absl::OkStatus();
}

// The source/signal/field triple of a KVI or a RATIO selection.
absl::Status CheckSource(absl::string_view prefix, v1::Source source,
                         const std::string& signal, v1::WorkItemField field) {
  const std::string source_field = Sub(prefix, "source");
  const std::string signal_field = Sub(prefix, "signal");
  const std::string field_field = Sub(prefix, "field");
  VLA_RETURN_IF_ERROR(
      CheckEnum(source_field, source, v1::Source_IsValid, true));
  VLA_RETURN_IF_ERROR(
      CheckEnum(field_field, field, v1::WorkItemField_IsValid, false));
  if (source == v1::SOURCE_OBSERVATIONS) {
    VLA_RETURN_IF_ERROR(Require(field == v1::WORK_ITEM_FIELD_UNSPECIFIED,
                                field_field, "only for source WORK_ITEMS"));
    VLA_RETURN_IF_ERROR(Require(!signal.empty(), signal_field,
                                "required for source OBSERVATIONS"));
    return CheckLength(signal_field, signal, kMaxShortText);
  }
  VLA_RETURN_IF_ERROR(
      Require(signal.empty(), signal_field, "only for source OBSERVATIONS"));
  return Require(field != v1::WORK_ITEM_FIELD_UNSPECIFIED, field_field,
                 "required for source WORK_ITEMS");
}

absl::Status CheckSelection(absl::string_view prefix,
                            const v1::Selection& sel) {
  VLA_RETURN_IF_ERROR(
      CheckSource(prefix, sel.source(), sel.signal(), sel.field()));
  VLA_RETURN_IF_ERROR(CheckScope(Sub(prefix, "scope"), sel.scope()));
  return Require(sel.aggregation() == v1::AGGREGATION_COUNT ||
                     sel.aggregation() == v1::AGGREGATION_SUM,
                 Sub(prefix, "aggregation"), "must be COUNT or SUM");
}

// What a KVI aggregates: a RATIO's numerator and denominator, or its own
// source.
absl::Status CheckKviSource(absl::string_view prefix, const Kvi& kvi) {
  if (kvi.aggregation() != v1::AGGREGATION_RATIO) {
    VLA_RETURN_IF_ERROR(
        CheckSource(prefix, kvi.source(), kvi.signal(), kvi.field()));
    return Require(!kvi.has_numerator() && !kvi.has_denominator(),
                   Sub(prefix, "numerator"), "only for aggregation RATIO");
  }
  VLA_RETURN_IF_ERROR(
      Require(kvi.source() == v1::SOURCE_UNSPECIFIED && kvi.signal().empty() &&
                  kvi.field() == v1::WORK_ITEM_FIELD_UNSPECIFIED,
              Sub(prefix, "source"),
              "a RATIO KVI leaves source, signal and field unset; its "
              "numerator and denominator carry their own"));
  VLA_RETURN_IF_ERROR(Require(kvi.has_numerator(), Sub(prefix, "numerator"),
                              "required for RATIO"));
  VLA_RETURN_IF_ERROR(Require(kvi.has_denominator(), Sub(prefix, "denominator"),
                              "required for RATIO"));
  VLA_RETURN_IF_ERROR(
      CheckSelection(Sub(prefix, "numerator"), kvi.numerator()));
  return CheckSelection(Sub(prefix, "denominator"), kvi.denominator());
}

absl::Status CheckPercentile(absl::string_view field, const Kvi& kvi) {
  if (kvi.aggregation() != v1::AGGREGATION_PERCENTILE) {
    return Require(kvi.percentile() == 0, field,
                   "only for aggregation PERCENTILE");
  }
  const double p = kvi.percentile();
  return Require(std::isfinite(p) && p > 0 && p <= 100, field,
                 "must be in (0, 100]");
}

absl::Status CheckRollingWindow(absl::string_view prefix, const v1::Window& w) {
  const std::string f = Sub(prefix, "rolling");
  VLA_RETURN_IF_ERROR(
      Require(IsValidProtoDuration(w.rolling()), f, "invalid duration"));
  const absl::Duration d = FromProtoDuration(w.rolling());
  VLA_RETURN_IF_ERROR(Require(d > absl::ZeroDuration(), f, "must be positive"));
  VLA_RETURN_IF_ERROR(Require(d <= kMaxWindow, f, "longer than 3660 days"));
  return Require(w.time_zone().empty(), Sub(prefix, "time_zone"),
                 "only for calendar windows");
}

absl::Status CheckTimeZone(absl::string_view field, const std::string& zone) {
  absl::TimeZone tz;
  return Require(zone.empty() || absl::LoadTimeZone(zone, &tz), field,
                 absl::StrCat("unknown IANA time zone \"", zone, "\""));
}

absl::Status CheckWindow(absl::string_view prefix, const Kvi& kvi) {
  VLA_RETURN_IF_ERROR(Require(kvi.has_window(), prefix, "required"));
  const v1::Window& w = kvi.window();
  switch (w.kind_case()) {
    case v1::Window::kRolling:
      return CheckRollingWindow(prefix, w);
    case v1::Window::kCalendar:
      VLA_RETURN_IF_ERROR(CheckEnum(Sub(prefix, "calendar"), w.calendar(),
                                    v1::CalendarPeriod_IsValid, true));
      return CheckTimeZone(Sub(prefix, "time_zone"), w.time_zone());
    case v1::Window::KIND_NOT_SET:
      break;
  }
  return Invalid(prefix, "empty: set rolling or calendar");
}

absl::Status CheckCoMeasurement(absl::string_view prefix, const Kvi& kvi) {
  const v1::CoMeasurement& cm = kvi.co_measurement();
  const std::string f = Sub(prefix, "co_measurement");
  for (auto [name, tol] :
       {std::pair{"absolute_tolerance", cm.absolute_tolerance()},
        std::pair{"relative_tolerance", cm.relative_tolerance()}}) {
    VLA_RETURN_IF_ERROR(Require(std::isfinite(tol) && tol >= 0, Sub(f, name),
                                "must be a finite number >= 0 (0 = unset)"));
  }
  return Require(!cm.enabled() || kvi.source() == v1::SOURCE_OBSERVATIONS,
                 Sub(f, "enabled"),
                 "co-measurement needs source OBSERVATIONS (each side "
                 "reports its own observations)");
}

// --- VLAs
// ------------------------------------------------------------------------

absl::Status CheckClause(absl::string_view field, const v1::Clause& c,
                         std::set<std::string>* kvis,
                         std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(CheckRef(Sub(field, "kvi"), c.kvi(), "kvis", refs));
  VLA_RETURN_IF_ERROR(
      Require(kvis->insert(c.kvi()).second, Sub(field, "kvi"),
              absl::StrCat(c.kvi(), " has another clause already")));
  VLA_RETURN_IF_ERROR(CheckFinite(Sub(field, "target"), c.target()));
  VLA_RETURN_IF_ERROR(CheckFinite(Sub(field, "warning"), c.warning()));
  VLA_RETURN_IF_ERROR(CheckWeight(Sub(field, "weight"), c.weight()));
  if (!c.has_baseline()) return absl::OkStatus();
  VLA_RETURN_IF_ERROR(CheckFinite(Sub(field, "baseline"), c.baseline()));
  return Require(c.baseline() != c.target(), Sub(field, "baseline"),
                 "must differ from target");
}

absl::Status CheckClauses(absl::string_view field, const Vla& vla,
                          std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(CheckCount(field, vla.clauses_size(), 1, kMaxClauses));
  std::set<std::string> kvis;
  for (int i = 0; i < vla.clauses_size(); ++i) {
    VLA_RETURN_IF_ERROR(CheckClause(At(field, i), vla.clauses(i), &kvis, refs));
  }
  return absl::OkStatus();
}

absl::Status CheckScores(absl::string_view prefix, const Vla& vla) {
  for (auto [name, score] : {std::pair{"pass_score", vla.pass_score()},
                             std::pair{"warning_score", vla.warning_score()}}) {
    VLA_RETURN_IF_ERROR(
        Require(std::isfinite(score) && score >= 0 && score <= 100,
                Sub(prefix, name), "must be in [0, 100] (0 = default)"));
  }
  const double pass = vla.pass_score() == 0 ? 90 : vla.pass_score();
  const double warning = vla.warning_score() == 0 ? 75 : vla.warning_score();
  return Require(warning <= pass, Sub(prefix, "warning_score"),
                 absl::StrCat("effective warning_score ", warning,
                              " is above effective pass_score ", pass));
}

absl::Status CheckLinkedSla(absl::string_view prefix, const Vla& vla,
                            std::vector<Reference>* refs) {
  if (!vla.has_sla()) return absl::OkStatus();
  VLA_RETURN_IF_ERROR(
      CheckRef(Sub(prefix, "sla.kvi"), vla.sla().kvi(), "kvis", refs));
  return CheckFinite(Sub(prefix, "sla.target"), vla.sla().target());
}

// --- Objectives
// --------------------------------------------------------------------

absl::Status CheckPeriod(absl::string_view prefix, const Objective& o) {
  const std::string start = Sub(prefix, "period_start");
  const std::string end = Sub(prefix, "period_end");
  VLA_RETURN_IF_ERROR(Require(o.has_period_start(), start, "required"));
  VLA_RETURN_IF_ERROR(Require(o.has_period_end(), end, "required"));
  VLA_RETURN_IF_ERROR(CheckTime(start, o.period_start()));
  VLA_RETURN_IF_ERROR(CheckTime(end, o.period_end()));
  return Require(
      FromProtoTime(o.period_end()) > FromProtoTime(o.period_start()), end,
      "must be after period_start");
}

absl::Status CheckKeyResult(absl::string_view field, const v1::KeyResult& kr,
                            std::set<std::string>* ids,
                            std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(ValidateId(Sub(field, "id"), kr.id()));
  VLA_RETURN_IF_ERROR(Require(ids->insert(kr.id()).second, Sub(field, "id"),
                              absl::StrCat("\"", kr.id(), "\" is used twice")));
  VLA_RETURN_IF_ERROR(CheckLength(Sub(field, "description"), kr.description(),
                                  kMaxKeyResultDescription));
  if (!kr.kvi().empty()) {
    VLA_RETURN_IF_ERROR(CheckRef(Sub(field, "kvi"), kr.kvi(), "kvis", refs));
  }
  VLA_RETURN_IF_ERROR(CheckFinite(Sub(field, "start_value"), kr.start_value()));
  VLA_RETURN_IF_ERROR(
      CheckFinite(Sub(field, "target_value"), kr.target_value()));
  VLA_RETURN_IF_ERROR(Require(kr.start_value() != kr.target_value(),
                              Sub(field, "target_value"),
                              "must differ from start_value"));
  return CheckWeight(Sub(field, "weight"), kr.weight());
}

absl::Status CheckKeyResults(absl::string_view field, const Objective& o,
                             std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(
      CheckCount(field, o.key_results_size(), 1, kMaxKeyResults));
  std::set<std::string> ids;
  for (int i = 0; i < o.key_results_size(); ++i) {
    VLA_RETURN_IF_ERROR(
        CheckKeyResult(At(field, i), o.key_results(i), &ids, refs));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTeam(const Team& team, absl::string_view prefix,
                          std::vector<Reference>*) {
  VLA_RETURN_IF_ERROR(
      CheckCommon(prefix, team.display_name(), team.description()));
  return CheckEnum(Sub(prefix, "kind"), team.kind(), v1::TeamKind_IsValid,
                   true);
}

absl::Status ValidateValueStream(const ValueStream& vs,
                                 absl::string_view prefix,
                                 std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(CheckCommon(prefix, vs.display_name(), vs.description()));
  VLA_RETURN_IF_ERROR(
      CheckValueOwner(Sub(prefix, "value_owner"), vs.value_owner(), refs));
  VLA_RETURN_IF_ERROR(
      CheckRef(Sub(prefix, "consumer"), vs.consumer(), "teams", refs));
  VLA_RETURN_IF_ERROR(
      CheckRefList(Sub(prefix, "providers"), vs.providers(), "teams", 1, refs));
  VLA_RETURN_IF_ERROR(CheckStages(Sub(prefix, "stages"), vs, refs));
  return CheckServices(Sub(prefix, "services"), vs);
}

absl::Status ValidateKvi(const Kvi& kvi, absl::string_view prefix,
                         std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(
      CheckCommon(prefix, kvi.display_name(), kvi.description()));
  VLA_RETURN_IF_ERROR(CheckRef(Sub(prefix, "value_stream"), kvi.value_stream(),
                               "valueStreams", refs));
  VLA_RETURN_IF_ERROR(CheckEnum(Sub(prefix, "aggregation"), kvi.aggregation(),
                                v1::Aggregation_IsValid, true));
  VLA_RETURN_IF_ERROR(CheckKviSource(prefix, kvi));
  VLA_RETURN_IF_ERROR(CheckScope(Sub(prefix, "scope"), kvi.scope()));
  VLA_RETURN_IF_ERROR(CheckPercentile(Sub(prefix, "percentile"), kvi));
  VLA_RETURN_IF_ERROR(CheckFinite(Sub(prefix, "threshold"), kvi.threshold()));
  VLA_RETURN_IF_ERROR(CheckWindow(Sub(prefix, "window"), kvi));
  VLA_RETURN_IF_ERROR(CheckLength(Sub(prefix, "unit"), kvi.unit(), kMaxUnit));
  VLA_RETURN_IF_ERROR(CheckEnum(Sub(prefix, "direction"), kvi.direction(),
                                v1::Direction_IsValid, true));
  VLA_RETURN_IF_ERROR(CheckEnum(Sub(prefix, "dimension"), kvi.dimension(),
                                v1::Dimension_IsValid, false));
  VLA_RETURN_IF_ERROR(Require(
      kvi.min_samples() >= 0 && kvi.min_samples() <= kMaxMinSamples,
      Sub(prefix, "min_samples"), "must be in [0, 1000000] (0 means 1)"));
  return CheckCoMeasurement(prefix, kvi);
}

absl::Status ValidateVla(const Vla& vla, absl::string_view prefix,
                         std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(
      CheckCommon(prefix, vla.display_name(), vla.description()));
  VLA_RETURN_IF_ERROR(CheckRef(Sub(prefix, "value_stream"), vla.value_stream(),
                               "valueStreams", refs));
  VLA_RETURN_IF_ERROR(
      CheckValueOwner(Sub(prefix, "value_owner"), vla.value_owner(), refs));
  VLA_RETURN_IF_ERROR(
      CheckRef(Sub(prefix, "consumer"), vla.consumer(), "teams", refs));
  VLA_RETURN_IF_ERROR(CheckRefList(Sub(prefix, "providers"), vla.providers(),
                                   "teams", 1, refs));
  VLA_RETURN_IF_ERROR(CheckClauses(Sub(prefix, "clauses"), vla, refs));
  VLA_RETURN_IF_ERROR(CheckScores(prefix, vla));
  VLA_RETURN_IF_ERROR(CheckLinkedSla(prefix, vla, refs));
  VLA_RETURN_IF_ERROR(
      CheckEnum(Sub(prefix, "state"), vla.state(), v1::VlaState_IsValid, true));
  if (!vla.has_effective_time()) return absl::OkStatus();
  return CheckTime(Sub(prefix, "effective_time"), vla.effective_time());
}

absl::Status ValidateVlaClausesAgainstKvis(const Vla& vla,
                                           absl::string_view prefix,
                                           const std::vector<Kvi>& kvis) {
  const int n = std::min(vla.clauses_size(), static_cast<int>(kvis.size()));
  for (int i = 0; i < n; ++i) {
    const v1::Clause& c = vla.clauses(i);
    const bool higher = kvis[i].direction() == v1::DIRECTION_HIGHER_IS_BETTER;
    const bool good_side =
        higher ? c.warning() > c.target() : c.warning() < c.target();
    VLA_RETURN_IF_ERROR(Require(
        !good_side, Sub(At(Sub(prefix, "clauses"), i), "warning"),
        absl::StrCat("warning ", c.warning(), " is on the good side of target ",
                     c.target(), " for ", c.kvi(), " (",
                     higher ? "HIGHER_IS_BETTER: warning must be <= target"
                            : "LOWER_IS_BETTER: warning must be >= target",
                     ")")));
  }
  return absl::OkStatus();
}

absl::Status ValidateObjective(const Objective& o, absl::string_view prefix,
                               std::vector<Reference>* refs) {
  VLA_RETURN_IF_ERROR(CheckCommon(prefix, o.display_name(), o.description()));
  VLA_RETURN_IF_ERROR(
      CheckRefList(Sub(prefix, "owners"), o.owners(), "teams", 1, refs));
  VLA_RETURN_IF_ERROR(CheckRef(Sub(prefix, "lead"), o.lead(), "teams", refs));
  VLA_RETURN_IF_ERROR(
      Require(std::find(o.owners().begin(), o.owners().end(), o.lead()) !=
                  o.owners().end(),
              Sub(prefix, "lead"),
              absl::StrCat(o.lead(), " must be one of the owners")));
  VLA_RETURN_IF_ERROR(CheckPeriod(prefix, o));
  VLA_RETURN_IF_ERROR(CheckEnum(Sub(prefix, "kind"), o.kind(),
                                v1::ObjectiveKind_IsValid, true));
  VLA_RETURN_IF_ERROR(
      CheckRefList(Sub(prefix, "vlas"), o.vlas(), "vlas", 0, refs));
  return CheckKeyResults(Sub(prefix, "key_results"), o, refs);
}

}  // namespace vla
