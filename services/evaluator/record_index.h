// RecordIndex: the evaluator's accepted records in memory, compact and
// bucketed by time, so that a KVI reads only the buckets of its window.
//
// - Observations live in one series per (value stream, signal), in 5-minute
//   buckets of 16-byte samples (value, time within the bucket, attributes),
//   each bucket sorted by time.
// - Work items are rebuilt from all their events (work_item.h) whenever an
//   event arrives, late or not; a resolved item that is not cancelled is
//   indexed under the bucket of its last resolution, per value stream, and
//   re-indexed when a late event moves it.
// - Strings (value streams, signals, teams, services, label keys and values)
//   are interned; a record's service, labels and reporter are one interned
//   attribute set.
// - Every source (a series, or a value stream's resolved items) records when
//   each of its blocks last changed (BlockVersions), so caches over it know
//   when they are stale.
//
// Not thread-safe: the engine's lock guards it.
#ifndef VLA_SERVICES_EVALUATOR_RECORD_INDEX_H_
#define VLA_SERVICES_EVALUATOR_RECORD_INDEX_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "services/evaluator/blocks.h"
#include "services/evaluator/work_item.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

// Strings to dense ids.
class Interner {
 public:
  int32_t Id(absl::string_view s);
  // -1 when `s` was never interned.
  int32_t Find(absl::string_view s) const;
  const std::string& Name(int32_t id) const { return names_[id]; }

 private:
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::string> names_;
};

// The service, labels and reporter of a record, as interned ids (-1: none).
struct AttrSet {
  int32_t service = -1;
  std::vector<std::pair<int32_t, int32_t>> labels;  // sorted by key
  int32_t reporter = -1;
  bool operator==(const AttrSet& o) const {
    return service == o.service && labels == o.labels && reporter == o.reporter;
  }
  template <typename H>
  friend H AbslHashValue(H h, const AttrSet& a) {
    return H::combine(std::move(h), a.service, a.labels, a.reporter);
  }
};

// An observation as stored.
struct Sample {
  double value;
  uint32_t offset_us;  // time after the start of its bucket
  int32_t attrs;
};
static_assert(sizeof(Sample) == 16);

// A work item as kept in memory.
struct Item {
  absl::InlinedVector<ItemEvent, 6> events;  // in arrival order
  ItemFacts facts;
  int32_t value_stream = -1;
  int32_t attrs = -1;  // service and labels, merged over its events
  uint32_t id_offset = 0;
  uint16_t id_size = 0;
};

// Where a selection's values come from.
struct SourceKey {
  v1::Source source = v1::SOURCE_UNSPECIFIED;
  int32_t value_stream = -1;
  int32_t signal = -1;  // observations only
};

class RecordIndex {
 public:
  RecordIndex();
  ~RecordIndex();
  RecordIndex(const RecordIndex&) = delete;
  RecordIndex& operator=(const RecordIndex&) = delete;

  Interner& strings() { return strings_; }
  const Interner& strings() const { return strings_; }
  int32_t AttrId(AttrSet attrs);
  const AttrSet& attrs(int32_t id) const { return attrs_[id]; }
  size_t attr_count() const { return attrs_.size(); }

  // Adds an accepted record (checked before: record_check.h); returns the
  // interned value stream it changed.
  int32_t AddObservation(const v1::Observation& o);
  int32_t AddEvent(const v1::WorkItemEvent& e);

  // Bumped by every change of any source: caches computed at a sequence are
  // valid until a block they cover changes after it.
  uint64_t seq() const { return seq_; }

  // The change history of a source's blocks; null when it never had data.
  const BlockVersions* Versions(const SourceKey& source) const;

  // Calls fn(attrs, value) for each value of `source` with time in
  // [from, to): observations, or items that count (`fn(item)` for items).
  template <typename ObservationFn>
  void ForEachObservation(const SourceKey& source, int64_t from, int64_t to,
                          ObservationFn fn) const;
  template <typename ItemFn>
  void ForEachItem(int32_t value_stream, int64_t from, int64_t to,
                   ItemFn fn) const;

  size_t item_count() const { return items_.size(); }
  absl::string_view ItemId(const Item& item) const {
    return absl::string_view(item_ids_).substr(item.id_offset, item.id_size);
  }

 private:
  using Bucket = std::vector<Sample>;
  struct Series {
    absl::btree_map<int64_t, Bucket> buckets;  // by bucket start
    BlockVersions versions;
  };
  struct ItemBuckets {
    absl::btree_map<int64_t, std::vector<uint32_t>> buckets;  // resolved
    BlockVersions versions;
  };
  // Items in chunks: stable addresses, no doubling of a large array.
  class ItemStore {
   public:
    Item& operator[](uint32_t i) { return chunks_[i / kChunk][i % kChunk]; }
    const Item& operator[](uint32_t i) const {
      return chunks_[i / kChunk][i % kChunk];
    }
    uint32_t Append();
    size_t size() const { return size_; }

   private:
    static constexpr size_t kChunk = 4096;
    std::vector<std::unique_ptr<Item[]>> chunks_;
    size_t size_ = 0;
  };
  // The items set: uint32 indexes hashed and compared by (value stream, id).
  struct ItemKey {
    int32_t value_stream;
    absl::string_view id;
  };
  struct ItemKeyHash {
    using is_transparent = void;
    const RecordIndex* index;
    size_t operator()(uint32_t i) const;
    size_t operator()(const ItemKey& k) const;
  };
  struct ItemKeyEq {
    using is_transparent = void;
    const RecordIndex* index;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, const ItemKey& b) const;
    bool operator()(const ItemKey& a, uint32_t b) const {
      return (*this)(b, a);
    }
  };

  static uint64_t SeriesKey(int32_t value_stream, int32_t signal) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(value_stream)) << 32) |
           static_cast<uint32_t>(signal);
  }
  ItemKey KeyOf(uint32_t i) const {
    return {items_[i].value_stream, ItemId(items_[i])};
  }
  // The index of the item, created if new.
  uint32_t FindOrAddItem(int32_t value_stream, absl::string_view id);
  // Moves `item` in its value stream's index from where `before` put it to
  // where its facts put it now.
  void Reindex(uint32_t index, const ItemFacts& before);

  Interner strings_;
  absl::flat_hash_map<AttrSet, int32_t> attr_ids_;
  std::vector<AttrSet> attrs_;
  uint64_t seq_ = 0;
  absl::flat_hash_map<uint64_t, Series> series_;
  ItemStore items_;
  std::string item_ids_;  // the items' ids, back to back
  absl::flat_hash_set<uint32_t, ItemKeyHash, ItemKeyEq> item_set_;
  absl::flat_hash_map<int32_t, ItemBuckets> item_buckets_;  // by value stream
};

// --- Implementation of the templates ---------------------------------------

template <typename ObservationFn>
void RecordIndex::ForEachObservation(const SourceKey& source, int64_t from,
                                     int64_t to, ObservationFn fn) const {
  auto sit = series_.find(SeriesKey(source.value_stream, source.signal));
  if (sit == series_.end()) return;
  const auto& buckets = sit->second.buckets;
  for (auto it = buckets.lower_bound(FloorTo(from, kBucketUs));
       it != buckets.end() && it->first < to; ++it) {
    const int64_t start = it->first;
    const Bucket& bucket = it->second;
    auto first = bucket.begin();
    auto last = bucket.end();
    const auto before = [](const Sample& s, uint32_t offset) {
      return s.offset_us < offset;
    };
    // A partial bucket: its samples are sorted by time.
    if (from > start) {
      first = std::lower_bound(first, last, static_cast<uint32_t>(from - start),
                               before);
    }
    if (to < start + kBucketUs) {
      last = std::lower_bound(first, last, static_cast<uint32_t>(to - start),
                              before);
    }
    for (auto s = first; s != last; ++s) fn(s->attrs, s->value);
  }
}

template <typename ItemFn>
void RecordIndex::ForEachItem(int32_t value_stream, int64_t from, int64_t to,
                              ItemFn fn) const {
  auto iit = item_buckets_.find(value_stream);
  if (iit == item_buckets_.end()) return;
  const auto& buckets = iit->second.buckets;
  for (auto it = buckets.lower_bound(FloorTo(from, kBucketUs));
       it != buckets.end() && it->first < to; ++it) {
    for (uint32_t index : it->second) {
      const Item& item = items_[index];
      const int64_t t = item.facts.resolved_time_us;
      if (t >= from && t < to) fn(item);
    }
  }
}

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_RECORD_INDEX_H_
