// Joint OKR scoring (domain.md, "Joint OKRs"): key result progress and
// status, objective score, colour and status, at an injected instant. Pure
// functions of the objective, the KVI values and the check-ins.
//
// Semantics where domain.md leaves room:
// - A key result without a value (NO_DATA) is left out of the score and the
//   weights of the others renormalise, as VLA clauses do; with no value at
//   all the score is 0 (and the colour RED).
// - A weight of 0 means 1; so does a negative or non-finite weight (which
//   validation rejects anyway).
// - A value that is not finite counts as no value.
// - The score, progress and colour are computed from whatever values the
//   caller supplies, also before the period; only the statuses say
//   NOT_STARTED there.
// - Derived fractions are compared with the thresholds (progress >= 1,
//   e - p against 0.165 and 0.33, score against 0.7 and 0.4) with a slack of
//   kThresholdSlack, so that a value equal to a threshold in decimal
//   arithmetic reaches it despite binary rounding. Confidence is an input
//   and is compared with 0.5 exactly.
// - Confidence is only used for manual key results (empty `kvi`).
#ifndef VLA_SERVICES_OKR_SCORING_H_
#define VLA_SERVICES_OKR_SCORING_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vla/v1/okr_status.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::okr {

// Rounding slack of threshold comparisons on derived fractions (see above).
inline constexpr double kThresholdSlack = 1e-9;

// What is known about one key result's current value.
struct KeyResultInput {
  // The KVI value, or the latest check-in's value; absent: no data.
  std::optional<double> value;
  // Manual key results: the latest check-in's confidence, in [0, 1].
  std::optional<double> confidence;
};

// `input(kr)` gives the current value of a key result as of the grading
// instant (for a KVI-bound KR: the KVI's value at that instant; for a manual
// KR: the latest check-in recorded at or before it). `at` is the evaluation
// time; after the period the objective is graded as of period_end, which
// the caller reflects in `input`.
//
// Key result status, with t = GradingTime(objective, at) and
// e = ExpectedProgress(objective, t):
//   t < period_start: NOT_STARTED (with or without a value);
//   no value: NO_DATA;
//   p >= 1: ACHIEVED;
//   t == period_end (that is, at >= period_end): MISSED;
//   e - p < 0.165: ON_TRACK; e - p < 0.33: AT_RISK; else OFF_TRACK;
//   then a manual KR with a confidence below 0.5 turns ON_TRACK into
//   AT_RISK (and touches no other status).
// The objective's status is the weakest KR status (StatusRank); with no key
// results it is NOT_STARTED before the period and NO_DATA otherwise.
// `evaluate_time` is GradingTime(objective, at), not `at`.
v1::ObjectiveStatus ScoreObjective(
    const v1::Objective& objective,
    const std::function<KeyResultInput(const v1::KeyResult&)>& input,
    absl::Time at);

// The instant an objective is graded at when asked at `at`: `at` during the
// period (and before it), period_end after it: min(at, period_end).
absl::Time GradingTime(const v1::Objective& objective, absl::Time at);

// clamp((current - start) / (target - start), 0, 1). A NaN current gives 0;
// a degenerate key result (target == start) gives 1 when current == target
// and 0 otherwise.
double Progress(const v1::KeyResult& kr, double current);

// Elapsed fraction of [period_start, period_end) at `at`, clamped to [0, 1]:
// 0 at period_start, 1 at and after period_end. For a degenerate period
// (period_end <= period_start): 1 at or after period_end, else 0.
double ExpectedProgress(const v1::Objective& objective, absl::Time at);

// GREEN >= 0.7, YELLOW >= 0.4, RED below (with kThresholdSlack; NaN is RED).
v1::Color ColorOf(double score);

// Order used for "weakest": MISSED < OFF_TRACK < AT_RISK < NO_DATA <
// NOT_STARTED < ON_TRACK < ACHIEVED, ranked 0..6. UNSPECIFIED and unknown
// values rank -1 (weaker than every real status).
int StatusRank(v1::OkrStatus status);

}  // namespace vla::okr

#endif  // VLA_SERVICES_OKR_SCORING_H_
