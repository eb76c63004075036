// Mergeable partial aggregates of the values a KVI selects, and the KVI
// aggregations of domain.md computed from them.
//
// An Aggregate summarises any multiset of values so that two aggregates
// merge into the aggregate of the union: count, sum, min, max, the counts
// needed by SHARE_AT_LEAST/AT_MOST(threshold) and NET_SCORE, and, for
// percentiles, either the exact values (while there are at most
// kExactValuesLimit of them) or a relative-error quantile sketch.
//
// Percentiles answered from the sketch are within 1% relative error of the
// exact type-7 percentile (domain.md allows this), except where the two
// values being interpolated have opposite signs: there the error is bounded
// by 0.5% of their magnitudes, not of the result; and except for values of
// one sign whose magnitudes span more than QuantileSketch::kMaxBuckets
// buckets (about 35 orders of magnitude): the smallest of those are pooled
// in the sketch's lowest bucket, which bounds memory.
//
// All values must be finite.
#ifndef VLA_SERVICES_EVALUATOR_AGGREGATE_H_
#define VLA_SERVICES_EVALUATOR_AGGREGATE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {

// What an aggregate must track, from the KVI definition.
struct AggregateSpec {
  v1::Aggregation aggregation = v1::AGGREGATION_COUNT;
  double threshold = 0;    // SHARE_AT_LEAST / SHARE_AT_MOST
  double percentile = 50;  // PERCENTILE, in (0, 100]
};

// A quantile sketch with relative accuracy kSketchAlpha on the value (a
// DDSketch: logarithmic buckets for positive and negative values, and a zero
// bucket). Mergeable; counts can be added and removed. Buckets are kept as
// flat arrays of counts over the range of bucket indices in use, so that a
// merge is one pass of additions and costs the same however many values the
// sketches hold.
class QuantileSketch {
 public:
  static constexpr double kSketchAlpha = 0.005;  // 0.5% relative error
  // Values with a magnitude below this fall in the zero bucket (value 0).
  static constexpr double kZeroThreshold = 1e-12;
  // At most this many buckets per sign (64 KiB of counts, magnitudes over a
  // ratio of about 3.6e35); beyond it the lowest magnitudes are pooled in the
  // lowest bucket kept.
  static constexpr int kMaxBuckets = 8192;
  // Adds `count` copies of `value`; a negative count removes copies added
  // before (never more than the value's bucket holds).
  void Add(double value, int64_t count = 1);
  void Merge(const QuantileSketch& other);
  int64_t count() const { return count_; }
  // The value at fractional rank `rank` in [0, count-1] (type-7 position):
  // accurate to kSketchAlpha relative error on the returned value. `rank` is
  // clamped to [0, count-1]; NaN when the sketch is empty.
  double ValueAtRank(double rank) const;

 private:
  // Counts of one sign's buckets: counts[i] is bucket `offset + i`.
  struct Store {
    int offset = 0;
    std::vector<int64_t> counts;
    // The slot of bucket `index`, growing the range to hold it (pooling the
    // lowest buckets beyond kMaxBuckets).
    int64_t& At(int index);
    void Merge(const Store& other);
    // Grows the range to [lo, hi] (hi - lo < kMaxBuckets).
    void Cover(int lo, int hi);
  };
  static int Index(double abs_value);
  static double Value(int index);
  Store positive_, negative_;
  int64_t zero_ = 0;
  int64_t count_ = 0;
};

class Aggregate {
 public:
  // With more values than this, percentiles come from the sketch.
  static constexpr int64_t kExactValuesLimit = 4096;

  explicit Aggregate(const AggregateSpec& spec) : spec_(spec) {}

  // Keeps a PERCENTILE aggregate's sketch up to date from its first value
  // (not only past kExactValuesLimit), so that merging it into a large
  // aggregate merges buckets instead of adding its values one by one: for
  // cached blocks that are merged often. Call before adding anything.
  void KeepSketch() { keep_sketch_ = true; }

  void Add(double value);
  // `other` must have been made from the same spec.
  void Merge(const Aggregate& other);

  int64_t count() const { return count_; }
  double sum() const { return sum_; }

  // The aggregation's value over everything added, given the window length
  // (for RATE_PER_DAY); nullopt with no values (COUNT and SUM of nothing are
  // 0, but the caller applies min_samples before asking).
  // RATIO (computed by the caller from two aggregates), UNSPECIFIED, and
  // RATE_PER_DAY with a window <= 0 are nullopt too.
  std::optional<double> Value(absl::Duration window) const;

 private:
  // Moves the exact values into the sketch; later values go to the sketch.
  void UseSketch();
  // Whether sketch_ holds every value added.
  bool SketchIsFull() const { return use_sketch_ || keep_sketch_; }
  // Adds the values of `other` to sketch_.
  void MergeIntoSketch(const Aggregate& other);

  AggregateSpec spec_;
  int64_t count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
  int64_t at_least_ = 0;       // values >= threshold
  int64_t at_most_ = 0;        // values <= threshold
  int64_t promoters_ = 0;      // values >= 9 (NET_SCORE)
  int64_t detractors_ = 0;     // values <= 6 (NET_SCORE)
  std::vector<double> exact_;  // PERCENTILE while count_ <= limit
  bool use_sketch_ = false;    // percentiles come from sketch_
  bool keep_sketch_ = false;   // see KeepSketch()
  QuantileSketch sketch_;      // empty unless SketchIsFull()
};

// The p-th percentile of `values` by linear interpolation between closest
// ranks (R type 7, numpy's default), computed as numpy does. `values` need
// not be sorted; must not be empty (NaN if it is). `p` is clamped to
// [0, 100].
double PercentileType7(std::vector<double> values, double p);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_AGGREGATE_H_
