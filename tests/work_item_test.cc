// Derived work item fields (domain.md and the rules atop work_item.cc) on
// hand-worked items at fixed times.
#include "services/evaluator/work_item.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::Optional;

constexpr int32_t kA = 1;
constexpr int32_t kB = 2;
constexpr int32_t kC = 3;

// `hours` after the epoch, in microseconds.
int64_t H(double hours) { return static_cast<int64_t>(hours * 3600e6); }
// `hours` in seconds.
double S(double hours) { return hours * 3600; }

ItemEvent Event(double hours, v1::EventKind kind) {
  ItemEvent event;
  event.time_us = H(hours);
  event.set_kind(kind);
  return event;
}
ItemEvent Created(double hours) { return Event(hours, v1::EVENT_KIND_CREATED); }
ItemEvent Assigned(double hours, int32_t team) {
  ItemEvent event = Event(hours, v1::EVENT_KIND_ASSIGNED);
  event.team = team;
  return event;
}
ItemEvent Waiting(double hours) { return Event(hours, v1::EVENT_KIND_WAITING); }
ItemEvent Active(double hours) { return Event(hours, v1::EVENT_KIND_ACTIVE); }
ItemEvent Resolved(double hours, bool sla_met = true,
                   bool first_contact = false) {
  ItemEvent event = Event(hours, v1::EVENT_KIND_RESOLVED);
  event.sla_met = sla_met;
  event.first_contact = first_contact;
  return event;
}
ItemEvent Reopened(double hours) {
  return Event(hours, v1::EVENT_KIND_REOPENED);
}
ItemEvent Closed(double hours) { return Event(hours, v1::EVENT_KIND_CLOSED); }
ItemEvent Cancelled(double hours) {
  return Event(hours, v1::EVENT_KIND_CANCELLED);
}

MATCHER_P3(IsCustody, team, active_seconds, wait_seconds, "") {
  return arg.team == team && arg.active_seconds == active_seconds &&
         arg.wait_seconds == wait_seconds;
}
MATCHER_P3(IsHandoff, from_team, to_team, wait_seconds, "") {
  return arg.from_team == from_team && arg.to_team == to_team &&
         arg.wait_seconds == wait_seconds;
}

void ExpectSameItem(const DerivedItem& a, const DerivedItem& b) {
  EXPECT_EQ(a.resolved, b.resolved);
  EXPECT_EQ(a.cancelled, b.cancelled);
  EXPECT_EQ(a.resolved_time_us, b.resolved_time_us);
  EXPECT_EQ(a.lead_time, b.lead_time);
  EXPECT_EQ(a.wait_time, b.wait_time);
  EXPECT_EQ(a.active_time, b.active_time);
  EXPECT_EQ(a.flow_efficiency, b.flow_efficiency);
  EXPECT_EQ(a.handoffs, b.handoffs);
  EXPECT_EQ(a.ping_pong, b.ping_pong);
  EXPECT_EQ(a.reopened, b.reopened);
  EXPECT_EQ(a.sla_met, b.sla_met);
  EXPECT_EQ(a.first_contact_resolution, b.first_contact_resolution);
  ASSERT_EQ(a.custody.size(), b.custody.size());
  for (size_t i = 0; i < a.custody.size(); ++i) {
    EXPECT_THAT(a.custody[i],
                IsCustody(b.custody[i].team, b.custody[i].active_seconds,
                          b.custody[i].wait_seconds));
  }
  ASSERT_EQ(a.handoffs_detail.size(), b.handoffs_detail.size());
  for (size_t i = 0; i < a.handoffs_detail.size(); ++i) {
    EXPECT_THAT(
        a.handoffs_detail[i],
        IsHandoff(b.handoffs_detail[i].from_team, b.handoffs_detail[i].to_team,
                  b.handoffs_detail[i].wait_seconds));
  }
}

void ExpectNoFieldValues(const DerivedItem& item) {
  for (int f = v1::WORK_ITEM_FIELD_LEAD_TIME; f <= v1::WORK_ITEM_FIELD_RESOLVED;
       ++f) {
    EXPECT_EQ(FieldValue(item, static_cast<v1::WorkItemField>(f)), std::nullopt)
        << v1::WorkItemField_Name(f);
  }
}

TEST(WorkItemTest, CreatedAssignedResolved) {
  // Created at 0, assigned to A at 1h, resolved at 5h at first contact.
  const DerivedItem item = DeriveItem(
      {Created(0), Assigned(1, kA), Resolved(5, /*sla_met=*/true, true)});
  EXPECT_TRUE(item.resolved);
  EXPECT_FALSE(item.cancelled);
  EXPECT_EQ(item.resolved_time_us, H(5));
  EXPECT_EQ(item.lead_time, 18000);  // 5h
  EXPECT_EQ(item.wait_time, 0);
  EXPECT_EQ(item.active_time, 18000);
  EXPECT_THAT(item.flow_efficiency, Optional(DoubleEq(1)));
  EXPECT_EQ(item.handoffs, 0);
  EXPECT_FALSE(item.ping_pong);
  EXPECT_FALSE(item.reopened);
  EXPECT_TRUE(item.sla_met);
  EXPECT_TRUE(item.first_contact_resolution);
  // The first hour belongs to no team.
  EXPECT_THAT(item.custody, ElementsAre(IsCustody(kA, S(4), 0)));
  EXPECT_TRUE(item.handoffs_detail.empty());
}

// Created 0, A at 1h, waiting 2h, A again at 3h (no handoff, does not end the
// wait), active 4h, waiting 6h, active 6.5h, resolved 8h.
// Waits [2h, 4h) + [6h, 6.5h) = 2.5h; lead 8h; active 5.5h;
// flow efficiency 5.5 / 8 = 0.6875. A holds [1h, 8h): 7h, of it 2.5h waiting.
std::vector<ItemEvent> WaitingItem() {
  return {Created(0), Assigned(1, kA), Waiting(2),  Assigned(3, kA),
          Active(4),  Waiting(6),      Active(6.5), Resolved(8)};
}

TEST(WorkItemTest, WaitingUntilActive) {
  const DerivedItem item = DeriveItem(WaitingItem());
  EXPECT_TRUE(item.resolved);
  EXPECT_EQ(item.lead_time, S(8));
  EXPECT_EQ(item.wait_time, S(2.5));
  EXPECT_EQ(item.active_time, S(5.5));
  EXPECT_THAT(item.flow_efficiency, Optional(DoubleEq(0.6875)));
  EXPECT_EQ(item.handoffs, 0);
  EXPECT_THAT(item.custody, ElementsAre(IsCustody(kA, S(4.5), S(2.5))));
}

TEST(WorkItemTest, WaitingAtTheLastResolvedEndsThere) {
  // Waiting from 1h, never active again, resolved at 3h: 2h of wait.
  const DerivedItem item =
      DeriveItem({Created(0), Waiting(1), Waiting(2), Resolved(3)});
  EXPECT_EQ(item.lead_time, S(3));
  EXPECT_EQ(item.wait_time, S(2));
  EXPECT_EQ(item.active_time, S(1));
  EXPECT_TRUE(item.custody.empty());  // never assigned
}

TEST(WorkItemTest, OutOfOrderArrivalGivesTheSameItem) {
  const DerivedItem in_order = DeriveItem(WaitingItem());
  std::vector<ItemEvent> events = WaitingItem();
  std::reverse(events.begin(), events.end());
  ExpectSameItem(DeriveItem(events), in_order);
  std::rotate(events.begin(), events.begin() + 3, events.end());
  ExpectSameItem(DeriveItem(events), in_order);
}

TEST(WorkItemTest, EqualTimesKeepArrivalOrder) {
  // RESOLVED then REOPENED at the same instant: reopened, not resolved.
  DerivedItem item = DeriveItem({Created(0), Resolved(2), Reopened(2)});
  EXPECT_FALSE(item.resolved);
  EXPECT_TRUE(item.reopened);
  // REOPENED then RESOLVED at the same instant: resolved at 2h.
  item = DeriveItem({Reopened(2), Created(0), Resolved(2)});
  EXPECT_TRUE(item.resolved);
  EXPECT_TRUE(item.reopened);
  EXPECT_EQ(item.lead_time, S(2));
}

TEST(WorkItemTest, ResolvedReopenedResolvedAgain) {
  // Resolved at 2h (first contact), reopened at 5h, resolved at 7h missing
  // its SLA. Lead 7h; wait 5h - 2h = 3h; active 4h; flow efficiency 4/7.
  const DerivedItem item = DeriveItem(
      {Created(0), Assigned(0, kA), Resolved(2, true, true), Reopened(5),
       Resolved(7, /*sla_met=*/false, /*first_contact=*/true)});
  EXPECT_TRUE(item.resolved);
  EXPECT_EQ(item.resolved_time_us, H(7));
  EXPECT_EQ(item.lead_time, S(7));
  EXPECT_EQ(item.wait_time, S(3));
  EXPECT_EQ(item.active_time, S(4));
  EXPECT_THAT(item.flow_efficiency, Optional(DoubleEq(4.0 / 7)));
  EXPECT_TRUE(item.reopened);
  EXPECT_FALSE(item.sla_met);                   // from the last RESOLVED
  EXPECT_FALSE(item.first_contact_resolution);  // reopened
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_REOPENED),
              Optional(DoubleEq(1)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION),
              Optional(DoubleEq(0)));
  EXPECT_THAT(item.custody, ElementsAre(IsCustody(kA, S(4), S(3))));
}

TEST(WorkItemTest, ResolvedWhileWaitingWaitsUntilReopened) {
  // Waiting from 1h; resolved at 2h; an ACTIVE at 3h does not reopen it;
  // reopened at 4h; resolved at 6h. Wait [1h, 4h) = 3h of 6h.
  const DerivedItem item = DeriveItem({Created(0), Waiting(1), Resolved(2),
                                       Active(3), Reopened(4), Resolved(6)});
  EXPECT_EQ(item.lead_time, S(6));
  EXPECT_EQ(item.wait_time, S(3));
  EXPECT_EQ(item.active_time, S(3));
}

TEST(WorkItemTest, ReopenedAndNotResolvedAgainIsOpen) {
  const DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Resolved(2), Reopened(3)});
  EXPECT_FALSE(item.resolved);
  EXPECT_TRUE(item.reopened);
  EXPECT_EQ(item.lead_time, 0);
  ExpectNoFieldValues(item);
}

TEST(WorkItemTest, NeverResolvedIsOpen) {
  const DerivedItem item = DeriveItem({Created(0), Assigned(1, kA)});
  EXPECT_FALSE(item.resolved);
  ExpectNoFieldValues(item);
}

TEST(WorkItemTest, CancelledCountsInNoKvi) {
  // Resolved, then cancelled: fields derived, but no KVI values.
  DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Resolved(2), Cancelled(3)});
  EXPECT_TRUE(item.cancelled);
  EXPECT_TRUE(item.resolved);
  EXPECT_EQ(item.lead_time, S(2));
  ExpectNoFieldValues(item);
  // Cancelled before it was resolved.
  item = DeriveItem({Created(0), Cancelled(1)});
  EXPECT_TRUE(item.cancelled);
  EXPECT_FALSE(item.resolved);
  ExpectNoFieldValues(item);
}

TEST(WorkItemTest, WithoutCreatedItIsNotResolved) {
  const DerivedItem item =
      DeriveItem({Assigned(1, kA), Waiting(1.5), Resolved(2)});
  EXPECT_FALSE(item.resolved);
  EXPECT_EQ(item.lead_time, 0);
  EXPECT_EQ(item.wait_time, 0);
  EXPECT_TRUE(item.custody.empty());
  ExpectNoFieldValues(item);
}

TEST(WorkItemTest, HandoffsAndPingPong) {
  // A -> B at 1h -> A at 3h, resolved at 4h at first contact: 2 handoffs,
  // ping-pong, so no first-contact resolution.
  const DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Assigned(1, kB), Assigned(3, kA),
                  Resolved(4, true, true)});
  EXPECT_EQ(item.handoffs, 2);
  EXPECT_TRUE(item.ping_pong);
  EXPECT_FALSE(item.first_contact_resolution);
  // A holds [0, 1h) and [3h, 4h); B holds [1h, 3h). A first.
  EXPECT_THAT(item.custody,
              ElementsAre(IsCustody(kA, S(2), 0), IsCustody(kB, S(2), 0)));
  EXPECT_THAT(item.handoffs_detail,
              ElementsAre(IsHandoff(kA, kB, 0), IsHandoff(kB, kA, 0)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_HANDOFFS),
              Optional(DoubleEq(2)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_PING_PONG),
              Optional(DoubleEq(1)));
}

TEST(WorkItemTest, HandoffsWithoutReturnAreNoPingPong) {
  const DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Assigned(1, kB), Assigned(2, kC),
                  Resolved(3)});
  EXPECT_EQ(item.handoffs, 2);
  EXPECT_FALSE(item.ping_pong);
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_PING_PONG),
              Optional(DoubleEq(0)));
}

TEST(WorkItemTest, AssignedToTheSameTeamIsNoHandoff) {
  // A, A again, B, B again: one handoff.
  const DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Assigned(1, kA), Assigned(2, kB),
                  Assigned(3, kB), Resolved(4)});
  EXPECT_EQ(item.handoffs, 1);
  EXPECT_FALSE(item.ping_pong);
  EXPECT_THAT(item.custody,
              ElementsAre(IsCustody(kA, S(2), 0), IsCustody(kB, S(2), 0)));
  EXPECT_THAT(item.handoffs_detail, ElementsAre(IsHandoff(kA, kB, 0)));
}

TEST(WorkItemTest, FirstContactResolution) {
  // First contact, never reopened, one team (re-assigned to itself).
  DerivedItem item = DeriveItem({Created(0), Assigned(0, kA), Assigned(0.5, kA),
                                 Resolved(1, true, /*first_contact=*/true)});
  EXPECT_TRUE(item.first_contact_resolution);
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION),
              Optional(DoubleEq(1)));
  // Not at first contact.
  item = DeriveItem({Created(0), Assigned(0, kA), Resolved(1, true, false)});
  EXPECT_FALSE(item.first_contact_resolution);
  // One handoff.
  item = DeriveItem({Created(0), Assigned(0, kA), Assigned(0.5, kB),
                     Resolved(1, true, true)});
  EXPECT_FALSE(item.first_contact_resolution);
}

TEST(WorkItemTest, CustodyAndHandoffWaitsAcrossTeams) {
  // Created 0; A at 1h; waiting 2h; B at 3h (handed off while waiting);
  // active 5h; C at 6h (handed off while active); waiting 7h; active 9h;
  // resolved 10h.
  // Waits [2h, 5h) + [7h, 9h) = 5h; lead 10h; active 5h.
  // A holds [1h, 3h): wait 1h, active 1h.
  // B holds [3h, 6h): wait [3h, 5h) = 2h, active 1h.
  // C holds [6h, 10h): wait [7h, 9h) = 2h, active 2h.
  // A -> B waits until B's first ACTIVE at 5h: 2h.
  // C's custody starts with a WAITING before its first ACTIVE (9h): the wait
  // in [6h, 9h) = 2h.
  const DerivedItem item = DeriveItem(
      {Created(0), Assigned(1, kA), Waiting(2), Assigned(3, kB), Active(5),
       Assigned(6, kC), Waiting(7), Active(9), Resolved(10)});
  EXPECT_EQ(item.lead_time, S(10));
  EXPECT_EQ(item.wait_time, S(5));
  EXPECT_EQ(item.active_time, S(5));
  EXPECT_THAT(item.flow_efficiency, Optional(DoubleEq(0.5)));
  EXPECT_EQ(item.handoffs, 2);
  EXPECT_THAT(item.custody,
              ElementsAre(IsCustody(kA, S(1), S(1)), IsCustody(kB, S(1), S(2)),
                          IsCustody(kC, S(2), S(2))));
  EXPECT_THAT(item.handoffs_detail,
              ElementsAre(IsHandoff(kA, kB, S(2)), IsHandoff(kB, kC, S(2))));
}

TEST(WorkItemTest, HandoffWaitStopsAtTheFirstActiveOfTheReceivingTeam) {
  // Handed to B at 1h while active; B's first ACTIVE at 1.5h; then B waits
  // [2h, 4h): that wait comes after work resumed, so the handoff waited 0.
  DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Assigned(1, kB), Active(1.5),
                  Waiting(2), Active(4), Resolved(5)});
  EXPECT_THAT(item.handoffs_detail, ElementsAre(IsHandoff(kA, kB, 0)));
  EXPECT_THAT(item.custody,
              ElementsAre(IsCustody(kA, S(1), 0), IsCustody(kB, S(2), S(2))));
  // Waiting from 1h, handed to B at 2h, no ACTIVE until resolved at 4h: all of
  // B's wait, [2h, 4h) = 2h, counts.
  item = DeriveItem(
      {Created(0), Assigned(0, kA), Waiting(1), Assigned(2, kB), Resolved(4)});
  EXPECT_EQ(item.wait_time, S(3));
  EXPECT_THAT(item.handoffs_detail, ElementsAre(IsHandoff(kA, kB, S(2))));
  EXPECT_THAT(item.custody,
              ElementsAre(IsCustody(kA, S(1), S(1)), IsCustody(kB, 0, S(2))));
}

TEST(WorkItemTest, ZeroLeadTimeHasNoFlowEfficiency) {
  const DerivedItem item = DeriveItem({Created(5), Resolved(5)});
  EXPECT_TRUE(item.resolved);
  EXPECT_EQ(item.lead_time, 0);
  EXPECT_EQ(item.flow_efficiency, std::nullopt);
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_LEAD_TIME),
              Optional(DoubleEq(0)));
  EXPECT_EQ(FieldValue(item, v1::WORK_ITEM_FIELD_FLOW_EFFICIENCY),
            std::nullopt);
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_RESOLVED),
              Optional(DoubleEq(1)));
}

TEST(WorkItemTest, EventsAfterTheLastResolvedAreIgnored) {
  const DerivedItem plain =
      DeriveItem({Created(0), Assigned(0, kA), Resolved(2, true, true)});
  const DerivedItem with_tail =
      DeriveItem({Created(0), Assigned(0, kA), Resolved(2, true, true),
                  Closed(3), Assigned(4, kB), Waiting(4), Created(5)});
  ExpectSameItem(with_tail, plain);
  EXPECT_EQ(with_tail.handoffs, 0);
  EXPECT_TRUE(with_tail.first_contact_resolution);
  EXPECT_THAT(with_tail.custody, ElementsAre(IsCustody(kA, S(2), 0)));
}

TEST(WorkItemTest, EventsBeforeCreatedAreIgnoredForTimes) {
  // The earliest CREATED (1h) starts the lead time; a WAITING before it is
  // ignored; A's assignment before it holds the item from 1h.
  const DerivedItem item = DeriveItem(
      {Assigned(0, kA), Waiting(0.5), Created(1), Created(2), Resolved(3)});
  EXPECT_EQ(item.lead_time, S(2));
  EXPECT_EQ(item.wait_time, 0);
  EXPECT_THAT(item.custody, ElementsAre(IsCustody(kA, S(2), 0)));
}

TEST(WorkItemTest, FieldValues) {
  // Created 0; A at 0; waiting [1h, 2h); B at 2h; resolved at 4h, SLA met.
  // Lead 4h, wait 1h, active 3h, flow efficiency 0.75, 1 handoff.
  const DerivedItem item =
      DeriveItem({Created(0), Assigned(0, kA), Waiting(1), Active(2),
                  Assigned(2, kB), Resolved(4, /*sla_met=*/true, true)});
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_LEAD_TIME),
              Optional(DoubleEq(S(4))));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_WAIT_TIME),
              Optional(DoubleEq(S(1))));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_ACTIVE_TIME),
              Optional(DoubleEq(S(3))));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_FLOW_EFFICIENCY),
              Optional(DoubleEq(0.75)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_HANDOFFS),
              Optional(DoubleEq(1)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_PING_PONG),
              Optional(DoubleEq(0)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_REOPENED),
              Optional(DoubleEq(0)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_SLA_MET),
              Optional(DoubleEq(1)));
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION),
              Optional(DoubleEq(0)));  // a handoff
  EXPECT_THAT(FieldValue(item, v1::WORK_ITEM_FIELD_RESOLVED),
              Optional(DoubleEq(1)));
  EXPECT_EQ(FieldValue(item, v1::WORK_ITEM_FIELD_UNSPECIFIED), std::nullopt);
}

}  // namespace
}  // namespace vla::evaluator
