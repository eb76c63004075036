// RangeCache (range_cache.h) over a toy source: sums of values by time,
// checked against a direct sum for windows of every shape, and what it
// scans from raw data when a window slides or data changes.
#include "services/evaluator/range_cache.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace vla::evaluator {
namespace {

constexpr int64_t kHourUs = 60 * kMinuteUs;
constexpr int64_t kDayUs = 24 * kHourUs;

int64_t merges = 0;  // Sum::Merge calls, for the cost tests

struct Sum {
  int64_t count = 0;
  int64_t total = 0;
  void Merge(const Sum& o) {
    ++merges;
    count += o.count;
    total += o.total;
  }
};

// Values by time, with the block versions an index keeps.
class ToySource {
 public:
  void Add(int64_t t, int64_t value) {
    values_.emplace(t, value);
    versions_.Bump(t, ++seq_);
  }
  Sum Direct(int64_t from, int64_t to) const {
    Sum s;
    for (auto it = values_.lower_bound(from);
         it != values_.end() && it->first < to; ++it) {
      ++s.count;
      s.total += it->second;
    }
    return s;
  }
  // Through the cache; `scanned` gets the length of raw data scanned.
  Sum Cached(int64_t from, int64_t to, int64_t* scanned = nullptr) {
    return cache_.Range(
        versions_, seq_, from, to, [](bool) { return Sum(); },
        [&](int64_t a, int64_t b, Sum* out) {
          if (scanned != nullptr) *scanned += b - a;
          out->Merge(Direct(a, b));
        });
  }

 private:
  std::multimap<int64_t, int64_t> values_;
  BlockVersions versions_;
  uint64_t seq_ = 0;
  RangeCache<Sum> cache_;
};

TEST(RangeCacheTest, AgreesWithADirectSumForAnyWindow) {
  std::mt19937_64 rng(7);
  ToySource source;
  const int64_t t0 = 20000 * kDayUs;
  std::uniform_int_distribution<int64_t> when(t0, t0 + 10 * kDayUs);
  for (int i = 0; i < 5000; ++i) source.Add(when(rng), i % 97);
  for (int i = 0; i < 2000; ++i) {
    int64_t a = when(rng), b = when(rng);
    if (a > b) std::swap(a, b);
    if (i % 3 == 0) a = FloorTo(a, kHourUs);  // on block edges too
    if (i % 5 == 0) b = FloorTo(b, kMinuteUs);
    const Sum want = source.Direct(a, b);
    const Sum got = source.Cached(a, b);
    ASSERT_EQ(got.count, want.count) << a << " " << b;
    ASSERT_EQ(got.total, want.total);
    if (i % 50 == 0) source.Add(when(rng), 1000);  // late data anywhere
  }
}

TEST(RangeCacheTest, LongWindowsAgreeWhileLateDataArrives) {
  // Windows of up to 150 days over 200 days (day groups up to 64 days),
  // with late data invalidating groups of every size.
  std::mt19937_64 rng(11);
  ToySource source;
  const int64_t t0 = 20001 * kDayUs;  // not aligned to a group of 2 days
  std::uniform_int_distribution<int64_t> when(t0, t0 + 200 * kDayUs);
  std::uniform_int_distribution<int64_t> length(kHourUs, 150 * kDayUs);
  for (int i = 0; i < 20000; ++i) source.Add(when(rng), i % 89);
  for (int i = 0; i < 1500; ++i) {
    const int64_t b = when(rng);
    const int64_t a = b - length(rng);
    const Sum want = source.Direct(a, b);
    const Sum got = source.Cached(a, b);
    ASSERT_EQ(got.count, want.count) << i << ": " << a << " " << b;
    ASSERT_EQ(got.total, want.total) << i;
    if (i % 7 == 0) source.Add(when(rng), 3);
  }
}

TEST(RangeCacheTest, ASeriesOfDistantWindowsMergesLogarithmically) {
  // A 30-day window at 1,000 instants over two years (a GetKviSeries whose
  // points are 17.5 h apart): once the blocks exist, each point merges
  // O(log) aligned groups of days and hours, not its 29 days and up to 46
  // hours one by one (14 merges per point with groups, 50 without).
  ToySource source;
  const int64_t t0 = 20000 * kDayUs;
  for (int64_t t = t0; t < t0 + 760 * kDayUs; t += 53 * kMinuteUs) {
    source.Add(t, 1);
  }
  const int64_t step = 730 * kDayUs / 1000 + 17 * kMinuteUs / 3;
  const auto sweep = [&] {
    for (int i = 0; i < 1000; ++i) {
      const int64_t at = t0 + 30 * kDayUs + i * step;
      ASSERT_EQ(source.Cached(at - 30 * kDayUs, at).count,
                source.Direct(at - 30 * kDayUs, at).count);
    }
  };
  sweep();  // builds the blocks and groups
  merges = 0;
  sweep();
  EXPECT_LE(merges, 1000 * 25) << merges / 1000.0 << " merges per point";
}

TEST(RangeCacheTest, ASlidingWindowScansOnlyItsPartialMinutes) {
  ToySource source;
  const int64_t t0 = 20000 * kDayUs;
  for (int64_t t = t0; t < t0 + 31 * kDayUs; t += 7 * kMinuteUs) {
    source.Add(t, 1);
  }
  const int64_t at = t0 + 31 * kDayUs - 13 * kHourUs + 17 * kMinuteUs + 23;
  source.Cached(at - 30 * kDayUs, at);  // fills the caches
  // Slides by 1 s within the same minute: the minute span is reused; only
  // the partial minutes at both ends are scanned (under 2 minutes).
  int64_t scanned = 0;
  const Sum s =
      source.Cached(at - 30 * kDayUs + 1000000, at + 1000000, &scanned);
  EXPECT_LT(scanned, 2 * kMinuteUs);
  EXPECT_EQ(s.count,
            source.Direct(at - 30 * kDayUs + 1000000, at + 1000000).count);
  // New data inside the window invalidates what covers it, and the answer
  // follows.
  source.Add(at - 10 * kDayUs, 5);
  scanned = 0;
  const Sum after =
      source.Cached(at - 30 * kDayUs + 1000000, at + 1000000, &scanned);
  EXPECT_EQ(after.total, s.total + 5);
  // The changed hour is rescanned, and the edge buckets of the rebuilt
  // spans (under 2 hours): never the 30 days.
  EXPECT_LT(scanned, 3 * kHourUs);
}

}  // namespace
}  // namespace vla::evaluator
