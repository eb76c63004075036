// A work item rebuilt from its events (domain.md, "Derived work item
// fields"): events may arrive late and out of order; the item is always
// derived from all its events ordered by time.
#ifndef VLA_SERVICES_EVALUATOR_WORK_ITEM_H_
#define VLA_SERVICES_EVALUATOR_WORK_ITEM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {

// One event of an item, as kept in memory (16 bytes). Times are Unix
// microseconds. Tie-break for equal times: arrival order (a stable sort keeps
// it).
struct ItemEvent {
  int64_t time_us = 0;
  int32_t team = -1;  // interned team name (ASSIGNED), -1 if none
  bool sla_met = false;
  bool first_contact = false;

  v1::EventKind kind() const { return static_cast<v1::EventKind>(kind_); }
  void set_kind(v1::EventKind kind) { kind_ = static_cast<uint8_t>(kind); }

 private:
  uint8_t kind_ = v1::EVENT_KIND_UNSPECIFIED;
};
static_assert(sizeof(ItemEvent) == 16);

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

// The facts of a work item that KVIs aggregate (what an item keeps in
// memory of its DerivedItem; active time and flow efficiency follow from
// lead and wait time).
struct ItemFacts {
  int64_t resolved_time_us = 0;
  double lead_time = 0;  // seconds
  double wait_time = 0;  // seconds
  uint16_t handoffs = 0;
  bool resolved : 1 = false;
  bool cancelled : 1 = false;
  bool ping_pong : 1 = false;
  bool reopened : 1 = false;
  bool sla_met : 1 = false;
  bool first_contact_resolution : 1 = false;
  bool has_flow_efficiency : 1 = false;  // lead_time > 0

  // Resolved and not cancelled: counts in KVIs, under its resolution time.
  bool counts() const { return resolved && !cancelled; }
};
static_assert(sizeof(ItemFacts) == 32);

ItemFacts FactsOf(const DerivedItem& item);

// The value of `field` for an item that counts; nullopt when the field has
// no value for it (flow efficiency with lead time 0) or it does not count.
std::optional<double> FieldValue(const ItemFacts& item,
                                 v1::WorkItemField field);
inline std::optional<double> FieldValue(const DerivedItem& item,
                                        v1::WorkItemField field) {
  return FieldValue(FactsOf(item), field);
}

// Derives an item from its events (any order). An item without CREATED has
// no lead time: it is not resolved for KVI purposes.
DerivedItem DeriveItem(absl::Span<const ItemEvent> events);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_WORK_ITEM_H_
