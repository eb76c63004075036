// Selection: one SelectionDef (kvi_value.h) bound to the record index: its
// names interned, which attribute sets match its scope (memoised per set),
// and the cached aggregates of its values (range_cache.h).
//
//   Selection sel(def, &index);
//   Aggregate a = sel.Range(index, from_us, to_us);
//
// Not thread-safe (the engine's lock).
#ifndef VLA_SERVICES_EVALUATOR_SELECTION_H_
#define VLA_SERVICES_EVALUATOR_SELECTION_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "services/evaluator/aggregate.h"
#include "services/evaluator/kvi_value.h"
#include "services/evaluator/range_cache.h"
#include "services/evaluator/record_index.h"

namespace vla::evaluator {

class Selection {
 public:
  // Interns the names of `def` in `index`.
  Selection(const SelectionDef& def, RecordIndex* index);

  // The aggregate of the selected values with time in [from, to) (Unix
  // microseconds); `slot` says whose cached spans to use (range_cache.h).
  Aggregate Range(const RecordIndex& index, int64_t from, int64_t to,
                  SpanSlot slot = SpanSlot::kLive);

 private:
  bool Matches(const RecordIndex& index, int32_t attrs);
  // Adds the selected values with time in [from, to), from raw data.
  void Scan(const RecordIndex& index, int64_t from, int64_t to, Aggregate* out);

  SourceKey source_;
  v1::WorkItemField field_;
  int32_t service_ = -1;                             // -1: any
  std::vector<std::pair<int32_t, int32_t>> labels_;  // sorted by key
  bool by_reporter_ = false;
  absl::flat_hash_set<int32_t> reporters_;
  AggregateSpec spec_;
  std::vector<int8_t> match_;  // per attribute set: -1 unknown, 0 no, 1 yes
  RangeCache<Aggregate> cache_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_SELECTION_H_
