#include "services/okr/scoring.h"

#include <algorithm>
#include <cmath>

#include "common/proto_time.h"

namespace vla::okr {
namespace {

constexpr double kAtRiskGap = 0.165;
constexpr double kOffTrackGap = 0.33;
constexpr double kGreenScore = 0.7;
constexpr double kYellowScore = 0.4;
constexpr double kLowConfidence = 0.5;

// x >= threshold, allowing kThresholdSlack of rounding error.
bool Reaches(double x, double threshold) {
  return x >= threshold - kThresholdSlack;
}

// A weight of 0 (or an invalid one) counts as 1.
double EffectiveWeight(const v1::KeyResult& kr) {
  const double w = kr.weight();
  return std::isfinite(w) && w > 0 ? w : 1.0;
}

// The status of one key result with a value, from its progress `p`, the
// expected progress `e` and whether the grading instant is at or after the
// period's end.
v1::OkrStatus StatusWithValue(double p, double e, bool period_over) {
  if (Reaches(p, 1)) return v1::OKR_STATUS_ACHIEVED;
  if (period_over) return v1::OKR_STATUS_MISSED;
  const double gap = e - p;
  if (!Reaches(gap, kAtRiskGap)) return v1::OKR_STATUS_ON_TRACK;
  if (!Reaches(gap, kOffTrackGap)) return v1::OKR_STATUS_AT_RISK;
  return v1::OKR_STATUS_OFF_TRACK;
}

}  // namespace

absl::Time GradingTime(const v1::Objective& objective, absl::Time at) {
  return std::min(at, FromProtoTime(objective.period_end()));
}

double Progress(const v1::KeyResult& kr, double current) {
  const double start = kr.start_value();
  const double target = kr.target_value();
  if (target == start) return current == target ? 1.0 : 0.0;
  const double ratio = (current - start) / (target - start);
  if (std::isnan(ratio)) return 0.0;
  return std::clamp(ratio, 0.0, 1.0);
}

double ExpectedProgress(const v1::Objective& objective, absl::Time at) {
  const absl::Time start = FromProtoTime(objective.period_start());
  const absl::Time end = FromProtoTime(objective.period_end());
  if (at >= end) return 1.0;
  if (at <= start) return 0.0;
  return std::clamp(absl::FDivDuration(at - start, end - start), 0.0, 1.0);
}

v1::Color ColorOf(double score) {
  if (Reaches(score, kGreenScore)) return v1::COLOR_GREEN;
  if (Reaches(score, kYellowScore)) return v1::COLOR_YELLOW;
  return v1::COLOR_RED;
}

int StatusRank(v1::OkrStatus status) {
  switch (status) {
    case v1::OKR_STATUS_MISSED:
      return 0;
    case v1::OKR_STATUS_OFF_TRACK:
      return 1;
    case v1::OKR_STATUS_AT_RISK:
      return 2;
    case v1::OKR_STATUS_NO_DATA:
      return 3;
    case v1::OKR_STATUS_NOT_STARTED:
      return 4;
    case v1::OKR_STATUS_ON_TRACK:
      return 5;
    case v1::OKR_STATUS_ACHIEVED:
      return 6;
    default:
      return -1;
  }
}

v1::ObjectiveStatus ScoreObjective(
    const v1::Objective& objective,
    const std::function<KeyResultInput(const v1::KeyResult&)>& input,
    absl::Time at) {
  const absl::Time t = GradingTime(objective, at);
  const bool not_started = t < FromProtoTime(objective.period_start());
  const bool period_over = t >= FromProtoTime(objective.period_end());
  const double e = ExpectedProgress(objective, t);

  v1::ObjectiveStatus status;
  status.set_objective(objective.name());
  status.mutable_owners()->CopyFrom(objective.owners());
  status.set_expected_progress(e);
  *status.mutable_evaluate_time() = ToProtoTime(t);

  double weighted = 0, total_weight = 0;
  v1::OkrStatus weakest =
      not_started ? v1::OKR_STATUS_NOT_STARTED : v1::OKR_STATUS_NO_DATA;
  bool first = true;
  for (const v1::KeyResult& kr : objective.key_results()) {
    const KeyResultInput in = input(kr);
    const bool manual = kr.kvi().empty();
    const bool has_value = in.value.has_value() && std::isfinite(*in.value);

    v1::KeyResultStatus* ks = status.add_key_results();
    ks->set_id(kr.id());
    ks->set_has_value(has_value);
    if (manual && in.confidence.has_value()) {
      ks->set_confidence(*in.confidence);
    }

    v1::OkrStatus kr_status;
    if (has_value) {
      const double p = Progress(kr, *in.value);
      ks->set_current_value(*in.value);
      ks->set_progress(p);
      const double w = EffectiveWeight(kr);
      weighted += w * p;
      total_weight += w;
      kr_status = StatusWithValue(p, e, period_over);
      if (kr_status == v1::OKR_STATUS_ON_TRACK && manual &&
          in.confidence.has_value() && *in.confidence < kLowConfidence) {
        kr_status = v1::OKR_STATUS_AT_RISK;
      }
    } else {
      kr_status = v1::OKR_STATUS_NO_DATA;
    }
    if (not_started) kr_status = v1::OKR_STATUS_NOT_STARTED;
    ks->set_status(kr_status);

    if (first || StatusRank(kr_status) < StatusRank(weakest)) {
      weakest = kr_status;
    }
    first = false;
  }

  // NO_DATA key results are left out and the other weights renormalise; with
  // no value at all the score is 0.
  const double score = total_weight > 0 ? weighted / total_weight : 0.0;
  status.set_score(score);
  status.set_color(ColorOf(score));
  status.set_status(weakest);
  return status;
}

}  // namespace vla::okr
