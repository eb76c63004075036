#include "clients/bot/transitions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace vla::bot {
namespace {

std::string StripPrefix(const std::string& name, absl::string_view prefix) {
  return std::string(absl::StripPrefix(name, prefix));
}

bool IsRed(v1::OkrStatus s) {
  return s == v1::OKR_STATUS_AT_RISK || s == v1::OKR_STATUS_OFF_TRACK ||
         s == v1::OKR_STATUS_MISSED;
}

bool IsRed(const v1::VlaStatus& s) {
  return s.state() == v1::COMPLIANCE_STATE_BREACHED ||
         s.state() == v1::COMPLIANCE_STATE_AT_RISK || s.watermelon() ||
         s.disputed();
}

// "score 0.25, expected 0.50; key results: ping-pong OFF_TRACK (progress
// 0.00)": the red key results, or all when none is red.
std::string ObjectiveDetails(const v1::ObjectiveStatus& s) {
  std::vector<std::string> krs;
  for (bool red_only : {true, false}) {
    for (const v1::KeyResultStatus& kr : s.key_results()) {
      if (red_only && !IsRed(kr.status())) continue;
      std::string text = absl::StrCat(kr.id(), " ", StatusName(kr.status()));
      if (kr.has_value()) {
        absl::StrAppendFormat(&text, " (progress %.2f)", kr.progress() + 0.0);
      }
      krs.push_back(std::move(text));
    }
    if (!krs.empty()) break;
  }
  // + 0.0 turns -0 into 0.
  std::string out =
      absl::StrFormat("score %.2f, expected %.2f", s.score() + 0.0,
                      s.expected_progress() + 0.0);
  if (!krs.empty())
    absl::StrAppend(&out, "; key results: ", absl::StrJoin(krs, ", "));
  return out;
}

std::string DisputedClauses(const v1::VlaStatus& s) {
  std::vector<std::string> kvis;
  for (const v1::ClauseStatus& c : s.clauses()) {
    if (c.state() == v1::CLAUSE_STATE_DISPUTED) kvis.push_back(c.kvi());
  }
  return kvis.empty() ? "" : absl::StrCat(" on ", absl::StrJoin(kvis, ", "));
}

}  // namespace

std::string StateName(v1::ComplianceState state) {
  return StripPrefix(v1::ComplianceState_Name(state), "COMPLIANCE_STATE_");
}

std::string StatusName(v1::OkrStatus status) {
  return StripPrefix(v1::OkrStatus_Name(status), "OKR_STATUS_");
}

std::vector<std::string> ObjectiveTransitions(const v1::ObjectiveStatus* old,
                                              const v1::ObjectiveStatus& now) {
  if (!IsRed(now.status())) return {};
  if (old != nullptr && old->status() == now.status()) return {};
  const std::string was =
      old == nullptr ? "unknown" : StatusName(old->status());
  return {absl::StrCat("Objective ", now.objective(), " ",
                       StatusName(now.status()), " (was ", was,
                       "): ", ObjectiveDetails(now))};
}

std::vector<std::string> VlaTransitions(const v1::VlaStatus* old,
                                        const v1::VlaStatus& now) {
  std::vector<std::string> out;
  if (now.state() == v1::COMPLIANCE_STATE_BREACHED &&
      (old == nullptr || old->state() != now.state())) {
    const std::string was =
        old == nullptr ? "unknown" : StateName(old->state());
    out.push_back(absl::StrCat("VLA ", now.vla(), " BREACHED (was ", was,
                               "): ", now.explanation()));
  }
  if (now.watermelon() && (old == nullptr || !old->watermelon())) {
    out.push_back(absl::StrFormat(
        "VLA %s is a watermelon: the SLA is met (%g) while the VLA is %s: %s",
        now.vla(), now.sla_value(), StateName(now.state()), now.explanation()));
  }
  if (now.disputed() && (old == nullptr || !old->disputed())) {
    out.push_back(absl::StrCat("VLA ", now.vla(),
                               " is disputed: co-measurement disagrees",
                               DisputedClauses(now), ": ", now.explanation()));
  }
  return out;
}

std::vector<std::string> RedList(
    const std::vector<v1::ObjectiveStatus>& objectives,
    const std::vector<v1::VlaStatus>& vlas) {
  std::vector<std::string> out;
  for (const v1::ObjectiveStatus& o : objectives) {
    if (!IsRed(o.status())) continue;
    out.push_back(absl::StrCat("Objective ", o.objective(), " ",
                               StatusName(o.status()), ": ",
                               ObjectiveDetails(o)));
  }
  for (const v1::VlaStatus& v : vlas) {
    if (!IsRed(v)) continue;
    std::string line = absl::StrCat("VLA ", v.vla(), " ", StateName(v.state()));
    if (v.watermelon()) absl::StrAppend(&line, ", watermelon");
    if (v.disputed()) absl::StrAppend(&line, ", disputed", DisputedClauses(v));
    absl::StrAppend(&line, ": ", v.explanation());
    out.push_back(std::move(line));
  }
  return out;
}

std::vector<std::string> TransitionTracker::OnObjective(
    const v1::ObjectiveStatus& status, bool report_unknown) {
  auto it = objectives_.find(status.objective());
  std::vector<std::string> out;
  if (it != objectives_.end()) {
    out = ObjectiveTransitions(&it->second, status);
    it->second = status;
  } else {
    if (report_unknown) out = ObjectiveTransitions(nullptr, status);
    objectives_.emplace(status.objective(), status);
  }
  return out;
}

std::vector<std::string> TransitionTracker::OnVla(const v1::VlaStatus& status,
                                                  bool report_unknown) {
  auto it = vlas_.find(status.vla());
  std::vector<std::string> out;
  if (it != vlas_.end()) {
    out = VlaTransitions(&it->second, status);
    it->second = status;
  } else {
    if (report_unknown) out = VlaTransitions(nullptr, status);
    vlas_.emplace(status.vla(), status);
  }
  return out;
}

void TransitionTracker::RemoveVla(const std::string& name) {
  vlas_.erase(name);
}

std::vector<std::string> TransitionTracker::OnVlaSnapshot(
    const std::vector<v1::VlaStatus>& snapshot, bool report_unknown) {
  std::vector<std::string> out;
  for (const v1::VlaStatus& s : snapshot) {
    for (std::string& m : OnVla(s, report_unknown)) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace vla::bot
