// How a work item is derived from its events. These rules extend domain.md
// ("Derived work item fields"); where they are more precise, they are the
// contract.
//
//  1. Events are sorted by time, stably: events with equal times keep their
//     arrival order.
//  2. created = the time of the earliest CREATED. Without any CREATED the item
//     is not resolved and has no derived fields (only `cancelled` and
//     `reopened` are set).
//  3. cancelled = the item has a CANCELLED event, anywhere. A cancelled item
//     counts in no KVI, but its other fields are still derived.
//  4. resolved = there is a RESOLVED and no REOPENED after the last RESOLVED.
//     resolved_time_us = the time of the last RESOLVED. Events after the last
//     RESOLVED (e.g. CLOSED) change no field except `cancelled` and
//     `reopened`. An item that is not resolved has no derived fields (only
//     `cancelled` and `reopened` are set).
//  5. lead_time = last RESOLVED - created, in seconds. Events before created
//     (earlier in the sorted order) are ignored for times, and times are
//     clipped to [created, last RESOLVED]; a last RESOLVED before created
//     (clock skew) gives a lead time of 0.
//  6. Wait periods: walking the events after created up to the last
//     RESOLVED, the item is active at creation;
//     - a WAITING starts a wait that lasts until the next ACTIVE (ASSIGNED,
//       REOPENED and further WAITINGs do not end it);
//     - a RESOLVED that is not the last starts a wait that lasts until the
//       next REOPENED (an ACTIVE does not end it; after the REOPENED the item
//       is active again);
//     - a RESOLVED while in a WAITING wait ends that wait at the RESOLVED's
//       time and starts its own wait there, so the wait continues unbroken
//       until the next REOPENED;
//     - the last RESOLVED ends any wait.
//     wait_time = the total length of the wait periods; active_time =
//     lead_time - wait_time; flow_efficiency = active_time / lead_time, unset
//     when lead_time is 0.
//  7. handoffs = the number of ASSIGNED events, up to the last RESOLVED,
//     whose team differs from the current holder's; the first ASSIGNED sets
//     the first holder and is not a handoff; an ASSIGNED to the current
//     holder is not a handoff. An ASSIGNED without a team (team < 0) is
//     ignored. ASSIGNED events before created count (their holding time is
//     clipped to start at created).
//  8. ping_pong = some handoff moves the item to a team that held it before.
//  9. reopened = the item has a REOPENED event, anywhere. sla_met and the
//     first-contact flag come from the last RESOLVED;
//     first_contact_resolution = first contact && !reopened && handoffs == 0.
// 10. Custody: a team holds the item from its ASSIGNED until the next
//     ASSIGNED to a different team, or until the last RESOLVED; time before
//     the first ASSIGNED belongs to no team. Each holding interval splits
//     into wait_seconds (its overlap with the wait periods of rule 6) and
//     active_seconds (the rest). One Custody per team that held the item,
//     even for 0 seconds; a team that holds it twice accumulates. Ordered by
//     the first time each team held the item.
// 11. handoffs_detail: one Handoff per handoff (rule 7), in time order, with
//     from_team, to_team and wait_seconds = the wait time (rule 6 periods)
//     that falls in the receiving team's holding interval before the first
//     ACTIVE event in that interval (all of the interval's wait time if it
//     has no ACTIVE event). So a handoff while the item is active waits 0
//     unless the receiving team's custody starts with a WAITING before any
//     ACTIVE; a handoff while the item waits counts the wait until work
//     resumes.
#include "services/evaluator/work_item.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {
namespace {

constexpr double kMicrosPerSecond = 1e6;
constexpr size_t kNone = static_cast<size_t>(-1);

double Seconds(int64_t micros) {
  return static_cast<double>(micros) / kMicrosPerSecond;
}

// A half-open time interval [begin_us, end_us).
struct Period {
  int64_t begin_us = 0;
  int64_t end_us = 0;
};

// Total overlap of [begin_us, end_us) with `periods`, in microseconds.
int64_t OverlapUs(const std::vector<Period>& periods, int64_t begin_us,
                  int64_t end_us) {
  int64_t total = 0;
  for (const Period& p : periods) {
    total += std::max<int64_t>(
        0, std::min(end_us, p.end_us) - std::max(begin_us, p.begin_us));
  }
  return total;
}

// The wait periods of rule 6 over events[created + 1, last_resolved),
// ending at end_us (the last RESOLVED's clipped time).
std::vector<Period> WaitPeriods(const std::vector<ItemEvent>& events,
                                size_t created, size_t last_resolved,
                                int64_t end_us) {
  enum class Pause { kNone, kWaiting, kResolved };
  std::vector<Period> periods;
  Pause pause = Pause::kNone;
  int64_t since_us = 0;
  for (size_t i = created + 1; i < last_resolved; ++i) {
    const int64_t t = events[i].time_us;
    switch (events[i].kind()) {
      case v1::EVENT_KIND_WAITING:
        if (pause == Pause::kNone) {
          pause = Pause::kWaiting;
          since_us = t;
        }
        break;
      case v1::EVENT_KIND_ACTIVE:
        if (pause == Pause::kWaiting) {
          periods.push_back({since_us, t});
          pause = Pause::kNone;
        }
        break;
      case v1::EVENT_KIND_RESOLVED:
        // From active, a new wait starts; from WAITING, the wait goes on
        // unbroken but now lasts until the next REOPENED.
        if (pause == Pause::kNone) since_us = t;
        pause = Pause::kResolved;
        break;
      case v1::EVENT_KIND_REOPENED:
        if (pause == Pause::kResolved) {
          periods.push_back({since_us, t});
          pause = Pause::kNone;
        }
        break;
      default:
        break;
    }
  }
  if (pause != Pause::kNone) periods.push_back({since_us, end_us});
  return periods;
}

// A team's uninterrupted custody: from the ASSIGNED at events[assigned] to
// the event at events[end] (the next change of team or the last RESOLVED).
struct Hold {
  int32_t team = -1;
  size_t assigned = 0;
  size_t end = 0;
  int64_t begin_us = 0;
  int64_t end_us = 0;
};

}  // namespace

DerivedItem DeriveItem(absl::Span<const ItemEvent> arrived) {
  std::vector<ItemEvent> events(arrived.begin(), arrived.end());
  std::stable_sort(events.begin(), events.end(),
                   [](const ItemEvent& a, const ItemEvent& b) {
                     return a.time_us < b.time_us;
                   });
  DerivedItem item;
  size_t created = kNone;
  size_t last_resolved = kNone;
  size_t last_reopened = kNone;
  for (size_t i = 0; i < events.size(); ++i) {
    switch (events[i].kind()) {
      case v1::EVENT_KIND_CREATED:
        if (created == kNone) created = i;
        break;
      case v1::EVENT_KIND_RESOLVED:
        last_resolved = i;
        break;
      case v1::EVENT_KIND_REOPENED:
        last_reopened = i;
        item.reopened = true;
        break;
      case v1::EVENT_KIND_CANCELLED:
        item.cancelled = true;
        break;
      default:
        break;
    }
  }
  if (created == kNone || last_resolved == kNone) return item;
  if (last_reopened != kNone && last_reopened > last_resolved) return item;

  const ItemEvent& resolution = events[last_resolved];
  item.resolved = true;
  item.resolved_time_us = resolution.time_us;
  item.sla_met = resolution.sla_met;
  const int64_t begin_us = events[created].time_us;
  const int64_t end_us = std::max(begin_us, resolution.time_us);
  const auto clip = [&](int64_t t) { return std::clamp(t, begin_us, end_us); };

  item.lead_time = Seconds(end_us - begin_us);
  const std::vector<Period> waits =
      WaitPeriods(events, created, last_resolved, end_us);
  item.wait_time = Seconds(OverlapUs(waits, begin_us, end_us));
  item.active_time = item.lead_time - item.wait_time;
  if (end_us > begin_us) {
    item.flow_efficiency = item.active_time / item.lead_time;
  }

  std::vector<Hold> holds;
  for (size_t i = 0; i < last_resolved; ++i) {
    const ItemEvent& e = events[i];
    if (e.kind() != v1::EVENT_KIND_ASSIGNED || e.team < 0) continue;
    if (!holds.empty() && holds.back().team == e.team) continue;
    if (!holds.empty()) {
      holds.back().end = i;
      holds.back().end_us = clip(e.time_us);
      ++item.handoffs;
      item.ping_pong |=
          std::any_of(holds.begin(), holds.end(),
                      [&](const Hold& h) { return h.team == e.team; });
    }
    holds.push_back({e.team, i, last_resolved, clip(e.time_us), end_us});
  }
  item.first_contact_resolution =
      resolution.first_contact && !item.reopened && item.handoffs == 0;

  for (size_t k = 0; k < holds.size(); ++k) {
    const Hold& hold = holds[k];
    const int64_t wait_us = OverlapUs(waits, hold.begin_us, hold.end_us);
    auto custody =
        std::find_if(item.custody.begin(), item.custody.end(),
                     [&](const Custody& c) { return c.team == hold.team; });
    if (custody == item.custody.end()) {
      custody = item.custody.insert(item.custody.end(), Custody{hold.team});
    }
    custody->wait_seconds += Seconds(wait_us);
    custody->active_seconds += Seconds(hold.end_us - hold.begin_us - wait_us);
    if (k == 0) continue;

    // Events before created are ignored for times, so is an ACTIVE there.
    int64_t resumed_us = hold.end_us;
    for (size_t i = std::max(hold.assigned, created) + 1; i < hold.end; ++i) {
      if (events[i].kind() == v1::EVENT_KIND_ACTIVE) {
        resumed_us = clip(events[i].time_us);
        break;
      }
    }
    item.handoffs_detail.push_back(
        {holds[k - 1].team, hold.team,
         Seconds(OverlapUs(waits, hold.begin_us, resumed_us))});
  }
  return item;
}

ItemFacts FactsOf(const DerivedItem& item) {
  ItemFacts f;
  f.resolved_time_us = item.resolved_time_us;
  f.lead_time = item.lead_time;
  f.wait_time = item.wait_time;
  f.handoffs = static_cast<uint16_t>(std::min(item.handoffs, 0xffff));
  f.resolved = item.resolved;
  f.cancelled = item.cancelled;
  f.ping_pong = item.ping_pong;
  f.reopened = item.reopened;
  f.sla_met = item.sla_met;
  f.first_contact_resolution = item.first_contact_resolution;
  f.has_flow_efficiency = item.flow_efficiency.has_value();
  return f;
}

std::optional<double> FieldValue(const ItemFacts& item,
                                 v1::WorkItemField field) {
  if (!item.counts()) return std::nullopt;
  switch (field) {
    case v1::WORK_ITEM_FIELD_LEAD_TIME:
      return item.lead_time;
    case v1::WORK_ITEM_FIELD_WAIT_TIME:
      return item.wait_time;
    case v1::WORK_ITEM_FIELD_ACTIVE_TIME:
      return item.lead_time - item.wait_time;
    case v1::WORK_ITEM_FIELD_FLOW_EFFICIENCY:
      if (!item.has_flow_efficiency) return std::nullopt;
      return (item.lead_time - item.wait_time) / item.lead_time;
    case v1::WORK_ITEM_FIELD_HANDOFFS:
      return item.handoffs;
    case v1::WORK_ITEM_FIELD_PING_PONG:
      return item.ping_pong ? 1 : 0;
    case v1::WORK_ITEM_FIELD_REOPENED:
      return item.reopened ? 1 : 0;
    case v1::WORK_ITEM_FIELD_SLA_MET:
      return item.sla_met ? 1 : 0;
    case v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION:
      return item.first_contact_resolution ? 1 : 0;
    case v1::WORK_ITEM_FIELD_RESOLVED:
      return 1;
    default:
      return std::nullopt;
  }
}

}  // namespace vla::evaluator
