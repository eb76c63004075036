// A work item rebuilt from its events (domain.md, "Derived work item
// fields"): events may arrive late and out of order; the item is always
// derived from all its events ordered by time.
#ifndef VLA_SERVICES_EVALUATOR_WORK_ITEM_H_
#define VLA_SERVICES_EVALUATOR_WORK_ITEM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {

// One event of an item, as kept in memory. Times are Unix microseconds.
struct ItemEvent {
  int64_t time_us = 0;
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  int32_t team = -1;  // interned team name (ASSIGNED), -1 if none
  bool sla_met = false;
  bool first_contact = false;
  // Tie-break for equal times: arrival order (a stable sort keeps it).
};

// Custody of an item by one team (for flow maps).
struct Custody {
  int32_t team = -1;
  double active_seconds = 0;
  double wait_seconds = 0;
};

// A handoff from one team to the next and the wait after it (seconds from
// the ASSIGNED to the next moment work was active: the wait time that
// follows the handoff before work resumed, 0 if none).
struct Handoff {
  int32_t from_team = -1;
  int32_t to_team = -1;
  double wait_seconds = 0;
};

// The derived fields of a resolved item.
struct DerivedItem {
  bool resolved = false;         // has a RESOLVED not followed by a REOPENED
  bool cancelled = false;        // has a CANCELLED: counts in no KVI
  int64_t resolved_time_us = 0;  // time of the last RESOLVED
  double lead_time = 0;          // seconds
  double wait_time = 0;          // seconds
  double active_time = 0;        // lead_time - wait_time
  std::optional<double> flow_efficiency;  // unset when lead_time is 0
  int handoffs = 0;
  bool ping_pong = false;
  bool reopened = false;
  bool sla_met = false;
  bool first_contact_resolution = false;
  std::vector<Custody> custody;  // per team that held it, in first-held order
  std::vector<Handoff> handoffs_detail;
};

// Derives an item from its events (any order). An item without CREATED has
// no lead time: it is not resolved for KVI purposes.
DerivedItem DeriveItem(std::vector<ItemEvent> events);

// The value of `field` for a resolved, not cancelled item; nullopt when the
// field has no value for it (flow efficiency with lead time 0).
std::optional<double> FieldValue(const DerivedItem& item,
                                 v1::WorkItemField field);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_WORK_ITEM_H_
