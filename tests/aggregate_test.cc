// The KVI aggregations of domain.md on hand-worked data, and the accuracy of
// the percentile sketch against exact type-7 percentiles.
#include "services/evaluator/aggregate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {
namespace {

using ::testing::DoubleEq;
using ::testing::DoubleNear;
using ::testing::Optional;

const absl::Duration kWeek = absl::Hours(7 * 24);

Aggregate Make(v1::Aggregation aggregation, double threshold = 0,
               double percentile = 50) {
  return Aggregate(AggregateSpec{aggregation, threshold, percentile});
}

Aggregate Of(v1::Aggregation aggregation, const std::vector<double>& values,
             double threshold = 0, double percentile = 50) {
  Aggregate aggregate = Make(aggregation, threshold, percentile);
  for (double value : values) aggregate.Add(value);
  return aggregate;
}

std::optional<double> PercentileOf(const std::vector<double>& values,
                                   double p) {
  return Of(v1::AGGREGATION_PERCENTILE, values, 0, p).Value(kWeek);
}

// Asserts |actual - expected| <= 1% of |expected|.
void ExpectWithinOnePercent(double actual, double expected) {
  EXPECT_LE(std::fabs(actual - expected), 0.01 * std::fabs(expected))
      << "actual " << actual << " expected " << expected;
}

const std::vector<double> kOneToTen = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

TEST(AggregateTest, EveryAggregationOfNothingHasNoValue) {
  for (v1::Aggregation aggregation :
       {v1::AGGREGATION_COUNT, v1::AGGREGATION_SUM, v1::AGGREGATION_MIN,
        v1::AGGREGATION_MAX, v1::AGGREGATION_MEAN, v1::AGGREGATION_PERCENTILE,
        v1::AGGREGATION_RATE_PER_DAY, v1::AGGREGATION_SHARE_AT_LEAST,
        v1::AGGREGATION_SHARE_AT_MOST, v1::AGGREGATION_NET_SCORE,
        v1::AGGREGATION_RATIO}) {
    EXPECT_EQ(Make(aggregation).Value(kWeek), std::nullopt)
        << v1::Aggregation_Name(aggregation);
  }
}

TEST(AggregateTest, CountAndSum) {
  // 1 + 2 + ... + 10 = 55.
  EXPECT_THAT(Of(v1::AGGREGATION_COUNT, kOneToTen).Value(kWeek),
              Optional(DoubleEq(10)));
  EXPECT_THAT(Of(v1::AGGREGATION_SUM, kOneToTen).Value(kWeek),
              Optional(DoubleEq(55)));
  Aggregate sum = Of(v1::AGGREGATION_SUM, {-2.5, 4, 0.5});
  EXPECT_EQ(sum.count(), 3);
  EXPECT_DOUBLE_EQ(sum.sum(), 2);
}

TEST(AggregateTest, MinMaxMean) {
  // {-3, 2, -7.5, 4}: min -7.5, max 4, mean (-3 + 2 - 7.5 + 4) / 4 = -1.125.
  const std::vector<double> values = {-3, 2, -7.5, 4};
  EXPECT_THAT(Of(v1::AGGREGATION_MIN, values).Value(kWeek),
              Optional(DoubleEq(-7.5)));
  EXPECT_THAT(Of(v1::AGGREGATION_MAX, values).Value(kWeek),
              Optional(DoubleEq(4)));
  EXPECT_THAT(Of(v1::AGGREGATION_MEAN, values).Value(kWeek),
              Optional(DoubleEq(-1.125)));
  // MEAN of a 0/1 field is a rate: 2 reopened items out of 8 = 0.25.
  EXPECT_THAT(Of(v1::AGGREGATION_MEAN, {0, 1, 0, 0, 1, 0, 0, 0}).Value(kWeek),
              Optional(DoubleEq(0.25)));
  // One value is its own min, max and mean.
  EXPECT_THAT(Of(v1::AGGREGATION_MIN, {42}).Value(kWeek),
              Optional(DoubleEq(42)));
  EXPECT_THAT(Of(v1::AGGREGATION_MAX, {42}).Value(kWeek),
              Optional(DoubleEq(42)));
}

TEST(AggregateTest, PercentileType7OfOneToTen) {
  // h = (n - 1) * p / 100 = 9 * p / 100 (0-based rank), x[h] interpolated:
  // p90: h = 8.1 -> 9 + 0.1 * (10 - 9) = 9.1
  // p50: h = 4.5 -> 5 + 0.5 * (6 - 5) = 5.5
  // p25: h = 2.25 -> 3 + 0.25 * (4 - 3) = 3.25
  // p99: h = 8.91 -> 9 + 0.91 * (10 - 9) = 9.91
  EXPECT_THAT(PercentileOf(kOneToTen, 90), Optional(DoubleEq(9.1)));
  EXPECT_THAT(PercentileOf(kOneToTen, 50), Optional(DoubleEq(5.5)));
  EXPECT_THAT(PercentileOf(kOneToTen, 25), Optional(DoubleEq(3.25)));
  EXPECT_THAT(PercentileOf(kOneToTen, 99), Optional(DoubleEq(9.91)));
  EXPECT_THAT(PercentileOf(kOneToTen, 100), Optional(DoubleEq(10)));
}

TEST(AggregateTest, PercentileMatchesNumpyReferenceValues) {
  // np.percentile([15, 20, 35, 40, 50], 40) == 29.0: h = 1.6,
  // 20 + 0.6 * (35 - 20) = 29.
  const std::vector<double> values = {50, 15, 40, 20, 35};  // unsorted
  EXPECT_THAT(PercentileOf(values, 40), Optional(DoubleEq(29)));
  // np.percentile([15, 20, 35, 40, 50], 90) == 46.0: h = 3.6,
  // 40 + 0.6 * (50 - 40) = 46.
  EXPECT_THAT(PercentileOf(values, 90), Optional(DoubleEq(46)));
  // p100 is the max; a small p is near the min: p0.0001 has h = 4e-6,
  // 15 + 4e-6 * 5 = 15.00002.
  EXPECT_THAT(PercentileOf(values, 100), Optional(DoubleEq(50)));
  EXPECT_THAT(PercentileOf(values, 0.0001),
              Optional(DoubleNear(15.00002, 1e-9)));
  // numpy's documentation: np.percentile([[10, 7, 4], [3, 2, 1]], 50) == 3.5.
  EXPECT_THAT(PercentileOf({10, 7, 4, 3, 2, 1}, 50), Optional(DoubleEq(3.5)));
  // One value is every percentile.
  EXPECT_THAT(PercentileOf({7}, 1), Optional(DoubleEq(7)));
  EXPECT_THAT(PercentileOf({7}, 100), Optional(DoubleEq(7)));
}

TEST(AggregateTest, PercentileType7Function) {
  EXPECT_DOUBLE_EQ(PercentileType7({50, 15, 40, 20, 35}, 40), 29);
  EXPECT_DOUBLE_EQ(PercentileType7({3, 1, 2}, 0), 1);
  EXPECT_DOUBLE_EQ(PercentileType7({3, 1, 2}, 100), 3);
  // Out-of-range p is clamped.
  EXPECT_DOUBLE_EQ(PercentileType7({3, 1, 2}, 150), 3);
  // Repeated values: {1, 1, 1, 5}, p50: h = 1.5 -> 1 + 0.5 * 0 = 1.
  EXPECT_DOUBLE_EQ(PercentileType7({1, 5, 1, 1}, 50), 1);
  // p75: h = 2.25 -> 1 + 0.25 * (5 - 1) = 2.
  EXPECT_DOUBLE_EQ(PercentileType7({1, 5, 1, 1}, 75), 2);
  EXPECT_TRUE(std::isnan(PercentileType7({}, 50)));
}

TEST(AggregateTest, RatePerDay) {
  // 21 values over a 7-day window: 3 a day; over 12 hours: 42 a day.
  const std::vector<double> values(21, 1.0);
  EXPECT_THAT(Of(v1::AGGREGATION_RATE_PER_DAY, values).Value(kWeek),
              Optional(DoubleEq(3)));
  EXPECT_THAT(Of(v1::AGGREGATION_RATE_PER_DAY, values).Value(absl::Hours(12)),
              Optional(DoubleEq(42)));
  EXPECT_EQ(
      Of(v1::AGGREGATION_RATE_PER_DAY, values).Value(absl::ZeroDuration()),
      std::nullopt);
}

TEST(AggregateTest, ShareAtLeastIsCsat) {
  // CSAT on 1..5: {5, 4, 3, 5, 2, 4, 1, 5, 4, 3}; >= 4 are the six values
  // 5, 4, 5, 4, 5, 4: 6 / 10 = 0.6.
  const std::vector<double> csat = {5, 4, 3, 5, 2, 4, 1, 5, 4, 3};
  EXPECT_THAT(Of(v1::AGGREGATION_SHARE_AT_LEAST, csat, 4).Value(kWeek),
              Optional(DoubleEq(0.6)));
  // <= 2: the values 2 and 1: 0.2. The threshold itself counts on both sides.
  EXPECT_THAT(Of(v1::AGGREGATION_SHARE_AT_MOST, csat, 2).Value(kWeek),
              Optional(DoubleEq(0.2)));
  // <= 4: everything but the three 5s: 0.7.
  EXPECT_THAT(Of(v1::AGGREGATION_SHARE_AT_MOST, csat, 4).Value(kWeek),
              Optional(DoubleEq(0.7)));
}

TEST(AggregateTest, NetScore) {
  // 0..10 responses: promoters (>= 9) 10, 9, 9, 10, 9 = 5; passives 8, 7, 8;
  // detractors (<= 6) 6, 3 = 2. 100 * (5/10 - 2/10) = 30.
  const std::vector<double> responses = {10, 9, 9, 10, 9, 8, 7, 6, 3, 8};
  EXPECT_THAT(Of(v1::AGGREGATION_NET_SCORE, responses).Value(kWeek),
              Optional(DoubleEq(30)));
  EXPECT_THAT(Of(v1::AGGREGATION_NET_SCORE, {0, 6, 2}).Value(kWeek),
              Optional(DoubleEq(-100)));
  EXPECT_THAT(Of(v1::AGGREGATION_NET_SCORE, {9, 10}).Value(kWeek),
              Optional(DoubleEq(100)));
  // Only passives: 0.
  EXPECT_THAT(Of(v1::AGGREGATION_NET_SCORE, {7, 8}).Value(kWeek),
              Optional(DoubleEq(0)));
}

TEST(AggregateTest, RatioIsComputedByTheCaller) {
  EXPECT_EQ(Of(v1::AGGREGATION_RATIO, {1, 2}).Value(kWeek), std::nullopt);
}

TEST(AggregateTest, MergeEqualsAddingEverythingToOne) {
  const std::vector<double> left = {10, 9, 3.5, -1, 7};
  const std::vector<double> right = {6, 4, 4, 8.25};
  std::vector<double> all = left;
  all.insert(all.end(), right.begin(), right.end());
  for (v1::Aggregation aggregation :
       {v1::AGGREGATION_COUNT, v1::AGGREGATION_SUM, v1::AGGREGATION_MIN,
        v1::AGGREGATION_MAX, v1::AGGREGATION_MEAN, v1::AGGREGATION_PERCENTILE,
        v1::AGGREGATION_RATE_PER_DAY, v1::AGGREGATION_SHARE_AT_LEAST,
        v1::AGGREGATION_SHARE_AT_MOST, v1::AGGREGATION_NET_SCORE}) {
    SCOPED_TRACE(v1::Aggregation_Name(aggregation));
    const std::optional<double> expected =
        Of(aggregation, all, 4, 90).Value(kWeek);
    ASSERT_TRUE(expected.has_value());

    Aggregate merged = Of(aggregation, left, 4, 90);
    merged.Merge(Of(aggregation, right, 4, 90));
    EXPECT_THAT(merged.Value(kWeek), Optional(DoubleEq(*expected)));
    EXPECT_EQ(merged.count(), 9);

    // Merging into or from an empty aggregate changes nothing.
    Aggregate from_empty = Make(aggregation, 4, 90);
    from_empty.Merge(Of(aggregation, all, 4, 90));
    from_empty.Merge(Make(aggregation, 4, 90));
    EXPECT_THAT(from_empty.Value(kWeek), Optional(DoubleEq(*expected)));
  }
  // The values themselves: p90 of the 9 values sorted
  // {-1, 3.5, 4, 4, 6, 7, 8.25, 9, 10}: h = 7.2 -> 9 + 0.2 * 1 = 9.2.
  Aggregate p90 = Of(v1::AGGREGATION_PERCENTILE, left, 0, 90);
  p90.Merge(Of(v1::AGGREGATION_PERCENTILE, right, 0, 90));
  EXPECT_THAT(p90.Value(kWeek), Optional(DoubleEq(9.2)));
}

TEST(AggregateTest, PercentileIsExactUpToTheLimitThenFromTheSketch) {
  // 1..4096: p50 has h = 2047.5 -> 2048.5, exactly.
  Aggregate p50 = Make(v1::AGGREGATION_PERCENTILE, 0, 50);
  std::vector<double> values;
  for (int64_t i = 1; i <= Aggregate::kExactValuesLimit; ++i) {
    values.push_back(static_cast<double>(i));
    p50.Add(static_cast<double>(i));
  }
  EXPECT_THAT(p50.Value(kWeek), Optional(DoubleEq(2048.5)));
  // One more value (4097): the sketch answers; p50 = 2049 within 1%.
  values.push_back(4097);
  p50.Add(4097);
  ASSERT_TRUE(p50.Value(kWeek).has_value());
  ExpectWithinOnePercent(*p50.Value(kWeek), PercentileType7(values, 50));
  EXPECT_EQ(p50.count(), 4097);
  // The sketch never answers beyond the exact extremes.
  Aggregate p100 = Make(v1::AGGREGATION_PERCENTILE, 0, 100);
  for (double value : values) p100.Add(value);
  EXPECT_THAT(p100.Value(kWeek), Optional(DoubleEq(4097)));
}

TEST(AggregateTest, MergingPastTheLimitUsesTheSketch) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> lognormal(3, 1);
  Aggregate left = Make(v1::AGGREGATION_PERCENTILE, 0, 90);
  Aggregate right = Make(v1::AGGREGATION_PERCENTILE, 0, 90);
  std::vector<double> left_values, all;
  for (int i = 0; i < 3000; ++i) {
    const double a = lognormal(random);
    const double b = lognormal(random);
    left.Add(a);
    right.Add(b);
    left_values.push_back(a);
    all.push_back(a);
    all.push_back(b);
  }
  // Each side alone is exact.
  EXPECT_THAT(left.Value(kWeek),
              Optional(DoubleEq(PercentileType7(left_values, 90))));
  left.Merge(right);
  EXPECT_EQ(left.count(), 6000);
  ASSERT_TRUE(left.Value(kWeek).has_value());
  ExpectWithinOnePercent(*left.Value(kWeek), PercentileType7(all, 90));
  // Merging a sketch-backed aggregate into an exact one works too.
  Aggregate small = Of(v1::AGGREGATION_PERCENTILE, {1, 2, 3}, 0, 90);
  small.Merge(left);
  all.insert(all.end(), {1, 2, 3});
  ExpectWithinOnePercent(*small.Value(kWeek), PercentileType7(all, 90));
}

TEST(AggregateTest, KeptSketchesMergeLikeAddingEveryValue) {
  // Blocks that keep their sketch from the first value (KeepSketch) and
  // blocks that keep only exact values merge, in any mix and order, into the
  // same percentile as one aggregate of every value, exact or not.
  std::mt19937_64 random(11);
  std::lognormal_distribution<double> lognormal(2, 1);
  std::vector<std::vector<double>> parts;
  for (int size : {10, 3000, 1, 2000, 500, 0, 4096}) {
    std::vector<double>& part = parts.emplace_back();
    for (int i = 0; i < size; ++i) part.push_back(lognormal(random));
  }
  for (int keep_mask = 0; keep_mask < 4; ++keep_mask) {
    SCOPED_TRACE(keep_mask);
    Aggregate merged = Make(v1::AGGREGATION_PERCENTILE, 0, 75);
    if (keep_mask & 1) merged.KeepSketch();
    Aggregate one = Make(v1::AGGREGATION_PERCENTILE, 0, 75);
    std::vector<double> all;
    for (size_t p = 0; p < parts.size(); ++p) {
      Aggregate part = Make(v1::AGGREGATION_PERCENTILE, 0, 75);
      if ((keep_mask & 2) ? p % 2 == 0 : p % 2 == 1) part.KeepSketch();
      for (double value : parts[p]) {
        part.Add(value);
        one.Add(value);
        all.push_back(value);
      }
      merged.Merge(part);
      ASSERT_EQ(merged.count(), static_cast<int64_t>(all.size()));
      ASSERT_TRUE(merged.Value(kWeek).has_value());
      EXPECT_DOUBLE_EQ(*merged.Value(kWeek), *one.Value(kWeek));
      if (all.size() <= static_cast<size_t>(Aggregate::kExactValuesLimit)) {
        EXPECT_DOUBLE_EQ(*merged.Value(kWeek), PercentileType7(all, 75));
      } else {
        ExpectWithinOnePercent(*merged.Value(kWeek), PercentileType7(all, 75));
      }
    }
  }
}

// 100,000 values of three shapes: the sketch's type-7 percentiles are within
// 1% of the exact ones.
std::vector<double> Sample(int shape) {
  std::mt19937_64 random(42 + shape);
  std::lognormal_distribution<double> lognormal(0, 1.5);
  std::uniform_real_distribution<double> uniform(0, 1000);
  std::bernoulli_distribution negative(0.3);
  std::vector<double> values;
  for (int i = 0; i < 100000; ++i) {
    switch (shape) {
      case 0:
        values.push_back(lognormal(random));
        break;
      case 1:
        values.push_back(uniform(random));
        break;
      default:  // mixed signs: 30% negative
        values.push_back((negative(random) ? -1 : 1) * lognormal(random) * 100);
        break;
    }
  }
  return values;
}

TEST(QuantileSketchTest, WithinOnePercentOfExactPercentiles) {
  for (int shape = 0; shape < 3; ++shape) {
    SCOPED_TRACE(shape);
    const std::vector<double> values = Sample(shape);
    QuantileSketch sketch;
    for (double value : values) sketch.Add(value);
    ASSERT_EQ(sketch.count(), 100000);
    for (double p : {50.0, 90.0, 95.0, 99.0, 10.0, 1.0}) {
      SCOPED_TRACE(p);
      const double exact = PercentileType7(values, p);
      ExpectWithinOnePercent(sketch.ValueAtRank(99999 * (p / 100)), exact);
      Aggregate aggregate = Make(v1::AGGREGATION_PERCENTILE, 0, p);
      for (double value : values) aggregate.Add(value);
      ExpectWithinOnePercent(*aggregate.Value(kWeek), exact);
    }
  }
}

TEST(QuantileSketchTest, MergeEqualsAddingEverythingToOne) {
  const std::vector<double> values = Sample(2);
  QuantileSketch one, left, right;
  for (size_t i = 0; i < values.size(); ++i) {
    one.Add(values[i]);
    (i % 3 == 0 ? left : right).Add(values[i]);
  }
  left.Merge(right);
  ASSERT_EQ(left.count(), one.count());
  for (double rank : {0.0, 1.5, 5000.25, 50000.0, 99998.7, 99999.0}) {
    EXPECT_DOUBLE_EQ(left.ValueAtRank(rank), one.ValueAtRank(rank));
  }
}

TEST(QuantileSketchTest, SmallSketchesInterpolateBetweenRanks) {
  QuantileSketch sketch;
  EXPECT_TRUE(std::isnan(sketch.ValueAtRank(0)));
  // Ordered: -100, 0, 0, 100, 200.
  for (double value : {200.0, 0.0, -100.0, 100.0, 1e-13}) sketch.Add(value);
  EXPECT_NEAR(sketch.ValueAtRank(0), -100, 0.5);
  EXPECT_EQ(sketch.ValueAtRank(1), 0);
  EXPECT_EQ(sketch.ValueAtRank(2), 0);
  EXPECT_NEAR(sketch.ValueAtRank(3), 100, 0.5);
  EXPECT_NEAR(sketch.ValueAtRank(4), 200, 1);
  // Rank 3.5: halfway between 100 and 200 (each within 0.5%).
  EXPECT_NEAR(sketch.ValueAtRank(3.5), 150, 0.75);
  // Ranks beyond the ends are clamped.
  EXPECT_DOUBLE_EQ(sketch.ValueAtRank(10), sketch.ValueAtRank(4));
  EXPECT_DOUBLE_EQ(sketch.ValueAtRank(-1), sketch.ValueAtRank(0));
}

TEST(QuantileSketchTest, AddingInAnyOrderGivesTheSameSketch) {
  // Buckets grow downwards as well as upwards.
  std::vector<double> values = Sample(2);
  std::sort(values.begin(), values.end());
  QuantileSketch ascending, descending;
  for (double value : values) ascending.Add(value);
  for (auto it = values.rbegin(); it != values.rend(); ++it) {
    descending.Add(*it);
  }
  for (double rank : {0.0, 10.0, 29999.5, 50000.0, 99999.0}) {
    EXPECT_DOUBLE_EQ(ascending.ValueAtRank(rank), descending.ValueAtRank(rank));
  }
}

TEST(QuantileSketchTest, PoolsMagnitudesBeyondTheBucketLimit) {
  // 1 and 1e200 are 46,000 buckets apart, more than kMaxBuckets: the 1s are
  // pooled in the lowest bucket kept, 8191 buckets (a factor of about 3.6e35)
  // below 1e200's, in whatever order the values come.
  QuantileSketch high_first, low_first, merged;
  high_first.Add(1e200);
  high_first.Add(1, 3);
  low_first.Add(1, 3);
  low_first.Add(1e200);
  QuantileSketch low, high;
  low.Add(1, 3);
  high.Add(1e200);
  merged.Merge(low);
  merged.Merge(high);
  for (const QuantileSketch* sketch : {&high_first, &low_first, &merged}) {
    EXPECT_EQ(sketch->count(), 4);
    EXPECT_NEAR(sketch->ValueAtRank(3), 1e200, 0.005 * 1e200);
    const double pooled = sketch->ValueAtRank(0);
    EXPECT_GT(pooled, 1e200 / 1e36);
    EXPECT_LT(pooled, 1e200 / 1e35);
    EXPECT_EQ(sketch->ValueAtRank(2), pooled);
  }
  // Values within the limit keep their accuracy: 1 and 1e30.
  QuantileSketch near;
  near.Add(1e30);
  near.Add(1);
  EXPECT_NEAR(near.ValueAtRank(0), 1, 0.005);
}

TEST(QuantileSketchTest, NegativeCountsRemoveValues) {
  QuantileSketch sketch;
  sketch.Add(10, 3);
  sketch.Add(1000);
  sketch.Add(0, 2);
  EXPECT_EQ(sketch.count(), 6);
  sketch.Add(1000, -1);
  sketch.Add(0, -5);  // removes only the two there are
  EXPECT_EQ(sketch.count(), 3);
  EXPECT_NEAR(sketch.ValueAtRank(2), 10, 0.05);
}

}  // namespace
}  // namespace vla::evaluator
