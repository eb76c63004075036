// RangeCache<Agg>: the aggregate of one selection's values over any window
// [from, to), answered from cached, mergeable aggregates so that the cost
// depends on the window's length in blocks, not on the records stored.
//
// A window splits into (blocks.h): a run of whole days, whole hours, whole
// 5-minute buckets, whole minutes, and the partial minutes at its two ends.
// Day and hour aggregates are cached per block, and per aligned group of
// 2^k blocks (built from two groups of 2^(k-1)), so that a run of n days or
// hours costs O(log n) merges, not n (a series of a 30-day window at 1,000
// unrelated instants merges about 8 day groups per point instead of 30); a
// 5-minute bucket is scanned from the index (it holds a few dozen values).
// On top of them three spans
// are cached, each the merge of the last window asked for rounded inwards:
// to whole days, to whole buckets, and to whole minutes. A window sliding
// within a minute reuses the minute span and scans only its partial minutes;
// the spans are rebuilt once per minute (bucket, day) the window moves.
//
// Spans come in two slots (SpanSlot): the evaluation passes' windows in one,
// every other window (a report's periods, a series' points) in the other,
// so that a report or a series never evicts the spans the next pass reuses.
// Blocks are shared: they are valid for any window.
//
// Validity: everything cached remembers the index sequence it was computed
// at, and is reused while no block it covers has changed since
// (BlockVersions of the source).
//
//   RangeCache<Aggregate> cache;
//   Aggregate a = cache.Range(*versions, index.seq(), from, to,
//       [&](bool block) { return block ? KeepingSketch(spec) : Aggregate(spec);
//       },
//       [&](int64_t a, int64_t b, Aggregate* out) { ...add raw values in [a,
//       b)... });
//
// Agg: copyable, with Merge(const Agg&). Not thread-safe (the engine's lock).
#ifndef VLA_SERVICES_EVALUATOR_RANGE_CACHE_H_
#define VLA_SERVICES_EVALUATOR_RANGE_CACHE_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "services/evaluator/blocks.h"

namespace vla::evaluator {

// Which cached spans a query reuses and replaces: kLive for the windows the
// evaluation passes ask for again and again (ending at now), kHistory for
// any other window (report periods, series points).
enum class SpanSlot { kLive = 0, kHistory = 1 };

template <typename Agg>
class RangeCache {
 public:
  // The aggregate over [from, to). `make(bool block)` makes an empty
  // aggregate (block: for a cached day or hour block); `scan(a, b, out)`
  // adds the raw values with time in [a, b) to *out.
  // `slot`: whose spans to reuse and replace.
  template <typename Make, typename Scan>
  Agg Range(const BlockVersions& versions, uint64_t seq, int64_t from,
            int64_t to, Make make, Scan scan, SpanSlot slot = SpanSlot::kLive) {
    Query<Make, Scan> q{*this,           spans_[static_cast<int>(slot)],
                        versions,        seq,
                        std::move(make), std::move(scan)};
    return q.Range(from, to);
  }

  // Forgets everything (the selection's definition changed).
  void Clear() { *this = RangeCache(); }

 private:
  struct Cached {
    uint64_t seq = 0;
    Agg agg;
  };
  // The merge of [from, to), computed at `computed_at`.
  struct Span {
    int64_t from = 0, to = 0;
    uint64_t computed_at = 0;
    std::optional<Agg> agg;
  };

  // The spans of one slot.
  struct Spans {
    Span day, bucket, minute;
  };

  template <typename Make, typename Scan>
  struct Query {
    RangeCache& cache;
    Spans& spans;
    const BlockVersions& versions;
    uint64_t seq;
    Make make;
    Scan scan;

    // The aggregate of day or hour block `start`; null when it never had
    // data.
    const Agg* Block(int level, int64_t start) {
      const uint64_t modified = versions.Get(level, start);
      if (modified == 0) return nullptr;
      auto& blocks = cache.blocks_[level];
      auto it = blocks.find(start);
      if (it != blocks.end() && it->second.seq >= modified) {
        return &it->second.agg;
      }
      Agg agg = make(true);
      if (level == 0) {
        for (int64_t t = start; t < start + kBlockUs[0]; t += kBlockUs[1]) {
          if (const Agg* hour = Block(1, t)) agg.Merge(*hour);
        }
      } else {
        scan(start, start + kBlockUs[level], &agg);
      }
      Cached& slot = blocks.insert_or_assign(start, Cached{seq, std::move(agg)})
                         .first->second;
      return &slot.agg;
    }

    // The aggregate of the 2^k blocks of `level` from `start` (aligned: the
    // block index is a multiple of 2^k; k = 0 is one block); null when none
    // of them ever had data.
    const Agg* Group(int level, int k, int64_t start) {
      if (k == 0) return Block(level, start);
      const int64_t end = start + (kBlockUs[level] << k);
      auto& groups = cache.groups_[level];
      auto it = groups.find(GroupKey{k, start});
      if (it != groups.end() && it->second.seq >= versions.latest()) {
        return &it->second.agg;
      }
      const uint64_t modified = versions.Modified(level, start, end);
      if (modified == 0) return nullptr;
      if (it != groups.end() && it->second.seq >= modified) {
        return &it->second.agg;
      }
      // Each half is merged before the next lookup: building one may move
      // the other (the map rehashes).
      Agg agg = make(true);
      for (const int64_t half : {start, start + (kBlockUs[level] << (k - 1))}) {
        if (const Agg* g = Group(level, k - 1, half)) agg.Merge(*g);
      }
      return &groups
                  .insert_or_assign(GroupKey{k, start},
                                    Cached{seq, std::move(agg)})
                  .first->second.agg;
    }

    // Merges the whole blocks of `level` (day or hour) in [from, to) into
    // *agg: the largest aligned groups that fit, left to right.
    void MergeRun(int level, int64_t from, int64_t to, Agg* agg) {
      const int64_t unit = kBlockUs[level];
      for (int64_t t = from; t < to;) {
        const int64_t index = t / unit;  // t is a multiple of unit
        int k = 0;
        while (k < kMaxGroupLog && index % (int64_t{2} << k) == 0 &&
               t + (unit << (k + 1)) <= to) {
          ++k;
        }
        if (const Agg* g = Group(level, k, t)) agg->Merge(*g);
        t += unit << k;
      }
    }

    // `span` holds [from, to) and was computed after every change in it;
    // `modified()` gives the last change of [from, to).
    template <typename Modified>
    bool IsValid(const Span& span, int64_t from, int64_t to,
                 Modified modified) const {
      return span.agg.has_value() && span.from == from && span.to == to &&
             (span.computed_at >= versions.latest() ||
              span.computed_at >= modified());
    }

    const Agg& Set(Span& span, int64_t from, int64_t to, Agg agg) {
      span.from = from;
      span.to = to;
      span.computed_at = seq;
      span.agg = std::move(agg);
      return *span.agg;
    }

    // Whole days [from, to).
    const Agg& Days(int64_t from, int64_t to) {
      Span& span = spans.day;
      if (IsValid(span, from, to,
                  [&] { return versions.Modified(0, from, to); })) {
        return *span.agg;
      }
      Agg agg = make(false);
      MergeRun(0, from, to, &agg);
      return Set(span, from, to, std::move(agg));
    }

    // Whole buckets [from, to): days, hours, buckets.
    const Agg& Buckets(int64_t from, int64_t to) {
      Span& span = spans.bucket;
      const auto modified = [&] {
        uint64_t m = 0;
        ForEachRun(from, to, [&](int level, int64_t start, int64_t end) {
          m = std::max(m, versions.Modified(level, start, end));
        });
        return m;
      };
      if (IsValid(span, from, to, modified)) return *span.agg;
      Agg agg = make(false);
      ForEachRun(from, to, [&](int level, int64_t start, int64_t end) {
        if (level == 0) {
          agg.Merge(Days(start, end));
        } else if (level == kBucketLevel) {
          for (int64_t b = start; b < end; b += kBucketUs) {
            if (versions.Get(level, b) != 0) scan(b, b + kBucketUs, &agg);
          }
        } else {
          MergeRun(level, start, end, &agg);
        }
      });
      return Set(span, from, to, std::move(agg));
    }

    // Whole minutes [from, to): the buckets inside and the minutes at the
    // two ends.
    const Agg& Minutes(int64_t from, int64_t to) {
      Span& span = spans.minute;
      const auto modified = [&] {
        return versions.Modified(kBucketLevel, FloorTo(from, kBucketUs),
                                 CeilTo(to, kBucketUs));
      };
      if (IsValid(span, from, to, modified)) return *span.agg;
      const int64_t inner_from = CeilTo(from, kBucketUs);
      const int64_t inner_to = FloorTo(to, kBucketUs);
      Agg agg = make(false);
      if (inner_from >= inner_to) {
        scan(from, to, &agg);
      } else {
        agg = Buckets(inner_from, inner_to);
        scan(from, inner_from, &agg);
        scan(inner_to, to, &agg);
      }
      return Set(span, from, to, std::move(agg));
    }

    Agg Range(int64_t from, int64_t to) {
      const int64_t inner_from = CeilTo(from, kMinuteUs);
      const int64_t inner_to = FloorTo(to, kMinuteUs);
      if (inner_from >= inner_to) {
        Agg out = make(false);
        scan(from, to, &out);
        return out;
      }
      Agg out = Minutes(inner_from, inner_to);
      scan(from, inner_from, &out);
      scan(inner_to, to, &out);
      return out;
    }
  };

  // Groups of 2^k blocks for k in [1, kMaxGroupLog]: up to 64 days, or 64
  // hours.
  static constexpr int kMaxGroupLog = 6;
  struct GroupKey {
    int k;
    int64_t start;
    bool operator==(const GroupKey& o) const {
      return k == o.k && start == o.start;
    }
    template <typename H>
    friend H AbslHashValue(H h, const GroupKey& g) {
      return H::combine(std::move(h), g.k, g.start);
    }
  };

  absl::flat_hash_map<int64_t, Cached> blocks_[kBucketLevel];   // day, hour
  absl::flat_hash_map<GroupKey, Cached> groups_[kBucketLevel];  // day, hour
  Spans spans_[2];                                              // by SpanSlot
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_RANGE_CACHE_H_
