// Time blocks of the evaluator's indexes and caches. Times are Unix
// microseconds. Data is bucketed by the smallest block (5 minutes); cached
// aggregates exist per day and per hour (and per aligned power-of-two group
// of them, range_cache.h), and windows are split into the largest whole
// blocks they contain.
#ifndef VLA_SERVICES_EVALUATOR_BLOCKS_H_
#define VLA_SERVICES_EVALUATOR_BLOCKS_H_

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"

namespace vla::evaluator {

inline constexpr int64_t kMinuteUs = 60LL * 1000 * 1000;
// Block sizes, largest first: day, hour, 5 minutes (the data bucket).
inline constexpr int kLevels = 3;
inline constexpr int64_t kBlockUs[kLevels] = {24 * 60 * kMinuteUs,
                                              60 * kMinuteUs, 5 * kMinuteUs};
inline constexpr int kBucketLevel = kLevels - 1;
inline constexpr int64_t kBucketUs = kBlockUs[kBucketLevel];

// Rounds down (up) to a multiple of `unit`, also for negative times.
inline int64_t FloorTo(int64_t t, int64_t unit) {
  int64_t q = t / unit;
  if (t % unit != 0 && t < 0) --q;
  return q * unit;
}
inline int64_t CeilTo(int64_t t, int64_t unit) { return -FloorTo(-t, unit); }

// Splits [from, to), both multiples of kBucketUs, into runs of the largest
// whole blocks, left to right: visit(level, start, end) once per run of whole
// blocks of `level`: buckets up to the first whole hour, hours up to the
// first whole day, the whole days, then hours and buckets (runs that would
// be empty are not visited).
template <typename Visit>
void ForEachRun(int64_t from, int64_t to, const Visit& visit, int level = 0) {
  if (from >= to) return;
  if (level == kBucketLevel) {
    visit(level, from, to);
    return;
  }
  const int64_t a = CeilTo(from, kBlockUs[level]);
  const int64_t b = FloorTo(to, kBlockUs[level]);
  if (a >= b) {
    ForEachRun(from, to, visit, level + 1);
    return;
  }
  ForEachRun(from, a, visit, level + 1);
  visit(level, a, b);
  ForEachRun(b, to, visit, level + 1);
}

// When each block of one source (a series, or a value stream's resolved
// items) last changed, as a global modification sequence number; 0: never.
class BlockVersions {
 public:
  void Bump(int64_t t_us, uint64_t seq) {
    for (int l = 0; l < kLevels; ++l)
      level_[l][FloorTo(t_us, kBlockUs[l])] = seq;
    latest_ = seq;
  }
  uint64_t Get(int level, int64_t start) const {
    auto it = level_[level].find(start);
    return it == level_[level].end() ? 0 : it->second;
  }
  // The last change of the blocks of `level` in [from, to).
  uint64_t Modified(int level, int64_t from, int64_t to) const {
    uint64_t modified = 0;
    for (int64_t t = from; t < to; t += kBlockUs[level]) {
      modified = std::max(modified, Get(level, t));
    }
    return modified;
  }
  // The last change of any block.
  uint64_t latest() const { return latest_; }

 private:
  absl::flat_hash_map<int64_t, uint64_t> level_[kLevels];
  uint64_t latest_ = 0;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_BLOCKS_H_
