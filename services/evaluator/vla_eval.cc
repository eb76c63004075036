#include "services/evaluator/vla_eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/format_value.h"
#include "common/names.h"
#include "common/proto_time.h"

namespace vla::evaluator {
namespace {

double ClauseScore(v1::ClauseState state) {
  switch (state) {
    case v1::CLAUSE_STATE_MET:
      return 1;
    case v1::CLAUSE_STATE_AT_RISK:
    case v1::CLAUSE_STATE_DISPUTED:
      return 0.5;
    default:
      return 0;
  }
}

bool Meets(double value, double target, v1::Direction direction) {
  return direction == v1::DIRECTION_LOWER_IS_BETTER ? value <= target
                                                    : value >= target;
}

std::string KviLabel(const KviInput& in, const std::string& name) {
  if (in.kvi != nullptr && !in.kvi->display_name().empty()) {
    return in.kvi->display_name();
  }
  return std::string(IdOf(name));
}

// The linked SLA's KVI by its display name, or "SLA <id>".
std::string SlaLabel(const KviInput& in, const std::string& name) {
  if (in.kvi != nullptr && !in.kvi->display_name().empty()) {
    return in.kvi->display_name();
  }
  return absl::StrCat("SLA ", IdOf(name));
}

}  // namespace

v1::ClauseState ClauseStateOf(const v1::Clause& clause, v1::Direction direction,
                              const v1::KviValue& value) {
  if (value.comeasurement() == v1::CO_MEASUREMENT_STATE_DISPUTED) {
    return v1::CLAUSE_STATE_DISPUTED;
  }
  if (!value.has_value()) return v1::CLAUSE_STATE_NO_DATA;
  if (Meets(value.value(), clause.target(), direction)) {
    return v1::CLAUSE_STATE_MET;
  }
  if (Meets(value.value(), clause.warning(), direction)) {
    return v1::CLAUSE_STATE_AT_RISK;
  }
  return v1::CLAUSE_STATE_BREACHED;
}

v1::VlaStatus EvaluateVla(
    const v1::Vla& vla,
    const std::function<KviInput(const std::string&)>& lookup, absl::Time at) {
  v1::VlaStatus status;
  status.set_vla(vla.name());
  status.set_vla_revision(vla.revision());
  *status.mutable_evaluate_time() = ToProtoTime(at);

  double weighted = 0, total_weight = 0;
  bool gating_breached = false;
  std::vector<std::string> problems, fine;
  for (const v1::Clause& clause : vla.clauses()) {
    const KviInput in = lookup(clause.kvi());
    const v1::Direction direction = in.kvi != nullptr
                                        ? in.kvi->direction()
                                        : v1::DIRECTION_HIGHER_IS_BETTER;
    const std::string unit = in.kvi != nullptr ? in.kvi->unit() : "";
    v1::ClauseStatus* cs = status.add_clauses();
    cs->set_kvi(clause.kvi());
    cs->set_target(clause.target());
    cs->set_warning(clause.warning());
    cs->set_has_value(in.value->has_value());
    cs->set_value(in.value->value());
    cs->set_samples(in.value->samples());
    const v1::ClauseState state = ClauseStateOf(clause, direction, *in.value);
    cs->set_state(state);
    if (clause.has_baseline() && in.value->has_value()) {
      const double a = (in.value->value() - clause.baseline()) /
                       (clause.target() - clause.baseline());
      cs->set_attainment(std::clamp(a, 0.0, 1.0));
    }
    const std::string label = KviLabel(in, clause.kvi());
    const std::string v = FormatValue(in.value->value(), unit);
    switch (state) {
      case v1::CLAUSE_STATE_MET:
        fine.push_back(absl::StrCat(label, " ", v, " meets its target ",
                                    FormatValue(clause.target(), unit)));
        break;
      case v1::CLAUSE_STATE_AT_RISK:
        problems.push_back(absl::StrCat(label, " ", v, " misses its target ",
                                        FormatValue(clause.target(), unit),
                                        " but is within the warning ",
                                        FormatValue(clause.warning(), unit)));
        break;
      case v1::CLAUSE_STATE_BREACHED:
        problems.push_back(absl::StrCat(label, " ", v,
                                        " is worse than the warning ",
                                        FormatValue(clause.warning(), unit),
                                        clause.gating() ? " (gating)" : ""));
        break;
      case v1::CLAUSE_STATE_DISPUTED: {
        std::vector<std::string> sides;
        for (const auto& [team, pv] : in.value->party_values()) {
          sides.push_back(absl::StrCat(IdOf(team), " ", FormatValue(pv, unit)));
        }
        std::sort(sides.begin(), sides.end());
        problems.push_back(absl::StrCat(label, " is disputed (",
                                        absl::StrJoin(sides, " vs "), ")"));
        break;
      }
      default:
        problems.push_back(absl::StrCat(label, " has no data"));
        break;
    }
    if (state == v1::CLAUSE_STATE_NO_DATA) continue;
    const double w = clause.weight() == 0 ? 1 : clause.weight();
    weighted += w * ClauseScore(state);
    total_weight += w;
    if (state == v1::CLAUSE_STATE_BREACHED && clause.gating()) {
      gating_breached = true;
    }
    if (state == v1::CLAUSE_STATE_DISPUTED) status.set_disputed(true);
  }

  const double pass = vla.pass_score() == 0 ? 90 : vla.pass_score();
  const double warn = vla.warning_score() == 0 ? 75 : vla.warning_score();
  if (total_weight == 0) {
    status.set_state(v1::COMPLIANCE_STATE_NO_DATA);
  } else {
    status.set_score(100 * weighted / total_weight);
    if (gating_breached) {
      status.set_state(v1::COMPLIANCE_STATE_BREACHED);
    } else if (status.score() >= pass) {
      status.set_state(v1::COMPLIANCE_STATE_MET);
    } else if (status.score() >= warn) {
      status.set_state(v1::COMPLIANCE_STATE_AT_RISK);
    } else {
      status.set_state(v1::COMPLIANCE_STATE_BREACHED);
    }
  }

  std::string sla_text;
  if (vla.has_sla() && !vla.sla().kvi().empty()) {
    const KviInput in = lookup(vla.sla().kvi());
    const std::string unit = in.kvi != nullptr ? in.kvi->unit() : "";
    const v1::Direction direction = in.kvi != nullptr
                                        ? in.kvi->direction()
                                        : v1::DIRECTION_HIGHER_IS_BETTER;
    if (in.value->has_value()) {
      status.set_sla_value(in.value->value());
      status.set_sla_met(
          Meets(in.value->value(), vla.sla().target(), direction));
      sla_text = absl::StrCat(SlaLabel(in, vla.sla().kvi()), " ",
                              FormatValue(in.value->value(), unit),
                              status.sla_met() ? " meets" : " misses", " its ",
                              FormatValue(vla.sla().target(), unit), " target");
    } else {
      sla_text = absl::StrCat(SlaLabel(in, vla.sla().kvi()), " has no data");
    }
  }
  status.set_watermelon(status.sla_met() &&
                        (status.state() == v1::COMPLIANCE_STATE_AT_RISK ||
                         status.state() == v1::COMPLIANCE_STATE_BREACHED));

  const std::string state_name(v1::ComplianceState_Name(status.state())
                                   .substr(strlen("COMPLIANCE_STATE_")));
  std::string text = state_name;
  if (status.state() != v1::COMPLIANCE_STATE_NO_DATA) {
    absl::StrAppend(&text, " (score ", OneDecimal(status.score()), ")");
  }
  if (!problems.empty()) {
    absl::StrAppend(&text, ": ", absl::StrJoin(problems, "; "));
  } else if (!fine.empty()) {
    absl::StrAppend(&text, ": ", absl::StrJoin(fine, "; "));
  }
  if (!sla_text.empty()) absl::StrAppend(&text, "; ", sla_text);
  if (status.watermelon()) absl::StrAppend(&text, ": watermelon");
  status.set_explanation(text);
  return status;
}

}  // namespace vla::evaluator
