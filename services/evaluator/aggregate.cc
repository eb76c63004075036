#include "services/evaluator/aggregate.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// DDSketch bucket ratio: bucket i holds magnitudes in (gamma^(i-1), gamma^i].
constexpr double kGamma =
    (1 + QuantileSketch::kSketchAlpha) / (1 - QuantileSketch::kSketchAlpha);

double LogGamma() {
  static const double log_gamma = std::log(kGamma);
  return log_gamma;
}

// NET_SCORE on a 0..10 scale: promoters score >= 9, detractors <= 6.
constexpr double kPromoterMin = 9;
constexpr double kDetractorMax = 6;

// a + t * (b - a) for t in [0, 1], computed as numpy's percentile does
// (from the nearer end, so t = 1 gives exactly b).
double Lerp(double a, double b, double t) {
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// The type-7 position of percentile p among n values: (n - 1) * p / 100,
// with p clamped to [0, 100].
double Type7Rank(int64_t n, double p) {
  return static_cast<double>(n - 1) * (std::clamp(p, 0.0, 100.0) / 100);
}

}  // namespace

int QuantileSketch::Index(double abs_value) {
  return static_cast<int>(std::ceil(std::log(abs_value) / LogGamma()));
}

double QuantileSketch::Value(int index) {
  // 2 * gamma^i / (gamma + 1), in log space so that gamma^i cannot overflow.
  return std::exp(index * LogGamma() + std::log(2 / (kGamma + 1)));
}

void QuantileSketch::Store::Cover(int lo, int hi) {
  if (counts.empty()) {
    lo = std::max(lo, hi - kMaxBuckets + 1);
    offset = lo;
    counts.assign(static_cast<size_t>(hi - lo + 1), 0);
    return;
  }
  const int old_lo = offset;
  const int old_hi = offset + static_cast<int>(counts.size()) - 1;
  hi = std::max(hi, old_hi);
  lo = std::max(std::min(lo, old_lo), hi - kMaxBuckets + 1);
  if (lo == old_lo) {
    counts.resize(static_cast<size_t>(hi - lo + 1), 0);
    return;
  }
  // Growing downwards, or pooling the lowest buckets past kMaxBuckets.
  std::vector<int64_t> grown(static_cast<size_t>(hi - lo + 1), 0);
  for (size_t i = 0; i < counts.size(); ++i) {
    grown[std::max(old_lo + static_cast<int>(i), lo) - lo] += counts[i];
  }
  counts.swap(grown);
  offset = lo;
}

int64_t& QuantileSketch::Store::At(int index) {
  Cover(index, index);
  return counts[std::max(index, offset) - offset];
}

void QuantileSketch::Store::Merge(const Store& other) {
  if (other.counts.empty()) return;
  const int other_size = static_cast<int>(other.counts.size());
  Cover(other.offset, other.offset + other_size - 1);
  // other's bucket offset + i is ours at shift + i; below 0 it is pooled.
  const int shift = other.offset - offset;
  int i = 0;
  for (; i < other_size && shift + i < 0; ++i) counts[0] += other.counts[i];
  int64_t* to = counts.data() + (shift + i);
  const int64_t* from = other.counts.data() + i;
  for (int j = 0; j < other_size - i; ++j) to[j] += from[j];
}

void QuantileSketch::Add(double value, int64_t count) {
  if (count == 0) return;
  const double abs_value = std::fabs(value);
  int64_t& slot =
      abs_value < kZeroThreshold
          ? zero_
          : (value > 0 ? positive_ : negative_).At(Index(abs_value));
  const int64_t delta = std::max(count, -slot);
  slot += delta;
  count_ += delta;
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  positive_.Merge(other.positive_);
  negative_.Merge(other.negative_);
  zero_ += other.zero_;
  count_ += other.count_;
}

double QuantileSketch::ValueAtRank(double rank) const {
  if (count_ == 0 || std::isnan(rank)) return kNaN;
  rank = std::clamp(rank, 0.0, static_cast<double>(count_ - 1));
  const int64_t lo = static_cast<int64_t>(std::floor(rank));
  const int64_t hi = std::min(lo + 1, count_ - 1);
  // The representative value of the bucket holding the k-th smallest value
  // (0-based): negative buckets by decreasing magnitude, zero, positive
  // buckets by increasing magnitude.
  const auto value_at = [this](int64_t k) {
    int64_t seen = 0;
    const std::vector<int64_t>& negative = negative_.counts;
    for (size_t i = negative.size(); i-- > 0;) {
      seen += negative[i];
      if (k < seen) return -Value(negative_.offset + static_cast<int>(i));
    }
    seen += zero_;
    if (k < seen) return 0.0;
    const std::vector<int64_t>& positive = positive_.counts;
    for (size_t i = 0; i < positive.size(); ++i) {
      seen += positive[i];
      if (k < seen) return Value(positive_.offset + static_cast<int>(i));
    }
    return kNaN;  // not reached: k < count_
  };
  const double lo_value = value_at(lo);
  const double t = rank - static_cast<double>(lo);
  if (t == 0 || hi == lo) return lo_value;
  return Lerp(lo_value, value_at(hi), t);
}

void Aggregate::Add(double value) {
  if (count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  ++count_;
  sum_ += value;
  if (value >= spec_.threshold) ++at_least_;
  if (value <= spec_.threshold) ++at_most_;
  if (value >= kPromoterMin) ++promoters_;
  if (value <= kDetractorMax) ++detractors_;
  if (spec_.aggregation != v1::AGGREGATION_PERCENTILE) return;
  if (SketchIsFull()) sketch_.Add(value);
  if (use_sketch_) return;
  exact_.push_back(value);
  if (static_cast<int64_t>(exact_.size()) > kExactValuesLimit) UseSketch();
}

void Aggregate::Merge(const Aggregate& other) {
  if (other.count_ == 0) return;
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
  at_least_ += other.at_least_;
  at_most_ += other.at_most_;
  promoters_ += other.promoters_;
  detractors_ += other.detractors_;
  if (spec_.aggregation != v1::AGGREGATION_PERCENTILE) return;
  if (!use_sketch_ && !other.use_sketch_ &&
      static_cast<int64_t>(exact_.size() + other.exact_.size()) <=
          kExactValuesLimit) {
    if (keep_sketch_) MergeIntoSketch(other);
    exact_.insert(exact_.end(), other.exact_.begin(), other.exact_.end());
    return;
  }
  UseSketch();
  MergeIntoSketch(other);
}

void Aggregate::MergeIntoSketch(const Aggregate& other) {
  if (other.SketchIsFull()) {
    sketch_.Merge(other.sketch_);
  } else {
    for (double value : other.exact_) sketch_.Add(value);
  }
}

void Aggregate::UseSketch() {
  if (use_sketch_) return;
  if (!keep_sketch_) {
    for (double value : exact_) sketch_.Add(value);
  }
  std::vector<double>().swap(exact_);
  use_sketch_ = true;
}

std::optional<double> Aggregate::Value(absl::Duration window) const {
  if (count_ == 0) return std::nullopt;
  const double n = static_cast<double>(count_);
  switch (spec_.aggregation) {
    case v1::AGGREGATION_COUNT:
      return n;
    case v1::AGGREGATION_SUM:
      return sum_;
    case v1::AGGREGATION_MIN:
      return min_;
    case v1::AGGREGATION_MAX:
      return max_;
    case v1::AGGREGATION_MEAN:
      return sum_ / n;
    case v1::AGGREGATION_PERCENTILE: {
      if (!use_sketch_) return PercentileType7(exact_, spec_.percentile);
      // The extreme ranks are known exactly, and the sketch's relative error
      // must not step past them.
      const double rank = Type7Rank(count_, spec_.percentile);
      if (rank <= 0) return min_;
      if (rank >= n - 1) return max_;
      return std::clamp(sketch_.ValueAtRank(rank), min_, max_);
    }
    case v1::AGGREGATION_RATE_PER_DAY:
      if (window <= absl::ZeroDuration()) return std::nullopt;
      return n / absl::FDivDuration(window, absl::Hours(24));
    case v1::AGGREGATION_SHARE_AT_LEAST:
      return static_cast<double>(at_least_) / n;
    case v1::AGGREGATION_SHARE_AT_MOST:
      return static_cast<double>(at_most_) / n;
    case v1::AGGREGATION_NET_SCORE:
      return 100 * static_cast<double>(promoters_ - detractors_) / n;
    default:  // RATIO, UNSPECIFIED
      return std::nullopt;
  }
}

double PercentileType7(std::vector<double> values, double p) {
  if (values.empty() || std::isnan(p)) return kNaN;
  const int64_t n = static_cast<int64_t>(values.size());
  const double rank = Type7Rank(n, p);
  const int64_t lo = std::min(static_cast<int64_t>(std::floor(rank)), n - 1);
  const auto lo_it = values.begin() + lo;
  std::nth_element(values.begin(), lo_it, values.end());
  if (lo + 1 == n) return *lo_it;
  // Everything after lo_it is >= *lo_it; the smallest of it is rank lo + 1.
  const double hi_value = *std::min_element(std::next(lo_it), values.end());
  return Lerp(*lo_it, hi_value, rank - static_cast<double>(lo));
}

}  // namespace vla::evaluator
