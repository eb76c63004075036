// The value stream map of a window from data (domain.md, "Flow"), as a
// mergeable aggregate of resolved work items, so that the engine answers a
// window from cached blocks (range_cache.h) like a KVI: per team the items
// it held and its active and waiting custody time; per seam (from team, to
// team) the handoffs and the wait after them; ping-pong items; the stream's
// flow efficiency (sum active / sum lead); resolved items.
#ifndef VLA_SERVICES_EVALUATOR_FLOW_H_
#define VLA_SERVICES_EVALUATOR_FLOW_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "services/evaluator/work_item.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

class FlowAggregate {
 public:
  // Adds a resolved item that counts (not cancelled).
  void Add(const DerivedItem& item);
  void Merge(const FlowAggregate& other);

  // The map, teams sorted by name and seams by (from, to) names;
  // `name(id)` turns an interned team into its name. Sets the aggregate's
  // fields only (not value_stream or the window).
  v1::ValueStreamFlow ToProto(
      const std::function<const std::string&(int32_t)>& name) const;

 private:
  struct TeamAcc {
    int64_t items = 0;
    double active_seconds = 0;
    double wait_seconds = 0;
  };
  struct SeamAcc {
    int64_t handoffs = 0;
    double wait_seconds = 0;
  };
  int64_t resolved_ = 0;
  int64_t ping_pong_ = 0;
  double sum_active_ = 0;
  double sum_lead_ = 0;
  absl::flat_hash_map<int32_t, TeamAcc> teams_;
  absl::flat_hash_map<std::pair<int32_t, int32_t>, SeamAcc> seams_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_FLOW_H_
