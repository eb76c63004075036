// The flow aggregate (flow.h) on hand-worked items: adding, merging, and
// the map it reports.
#include "services/evaluator/flow.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vla::evaluator {
namespace {

const std::vector<std::string> kTeams = {"teams/desk", "teams/network",
                                         "teams/apps"};

const std::string& Name(int32_t id) { return kTeams[id]; }

// Created at 0 h, desk until 1 h (active), network 1..3 h (waits 1 h after
// the handoff), resolved at 3 h.
DerivedItem Bounced() {
  DerivedItem d;
  d.resolved = true;
  d.lead_time = 3 * 3600;
  d.wait_time = 3600;
  d.active_time = 2 * 3600;
  d.custody = {{0, 3600, 0}, {1, 3600, 3600}};
  d.handoffs_detail = {{0, 1, 3600}};
  return d;
}

// Desk -> network -> desk: ping-pong, no waits, 2 h.
DerivedItem PingPong() {
  DerivedItem d;
  d.resolved = true;
  d.lead_time = 2 * 3600;
  d.active_time = 2 * 3600;
  d.ping_pong = true;
  d.custody = {{0, 3600, 0}, {1, 3600, 0}};
  d.handoffs_detail = {{0, 1, 0}, {1, 0, 0}};
  return d;
}

TEST(FlowAggregateTest, MergedBlocksReportTheSameMapAsOneBlock) {
  FlowAggregate one;
  one.Add(Bounced());
  one.Add(PingPong());
  FlowAggregate a, b;
  a.Add(Bounced());
  b.Add(PingPong());
  a.Merge(b);
  for (const FlowAggregate* agg : {&one, &a}) {
    const v1::ValueStreamFlow flow = agg->ToProto(Name);
    EXPECT_EQ(flow.resolved_items(), 2);
    EXPECT_EQ(flow.ping_pong_items(), 1);
    EXPECT_DOUBLE_EQ(flow.flow_efficiency(), 4.0 / 5);  // 4 h active of 5
    ASSERT_EQ(flow.teams_size(), 2);                    // sorted by name
    EXPECT_EQ(flow.teams(0).team(), "teams/desk");
    EXPECT_EQ(flow.teams(0).items(), 2);
    EXPECT_DOUBLE_EQ(flow.teams(0).active_seconds(), 2 * 3600);
    EXPECT_EQ(flow.teams(1).team(), "teams/network");
    EXPECT_DOUBLE_EQ(flow.teams(1).wait_seconds(), 3600);
    ASSERT_EQ(flow.seams_size(), 2);
    EXPECT_EQ(flow.seams(0).from_team(), "teams/desk");
    EXPECT_EQ(flow.seams(0).to_team(), "teams/network");
    EXPECT_EQ(flow.seams(0).handoffs(), 2);
    EXPECT_DOUBLE_EQ(flow.seams(0).mean_wait_seconds(), 1800);
    EXPECT_EQ(flow.seams(1).from_team(), "teams/network");
    EXPECT_EQ(flow.seams(1).handoffs(), 1);
  }
}

TEST(FlowAggregateTest, NothingResolvedHasNoEfficiency) {
  const v1::ValueStreamFlow flow = FlowAggregate().ToProto(Name);
  EXPECT_EQ(flow.resolved_items(), 0);
  EXPECT_EQ(flow.flow_efficiency(), 0);
  EXPECT_EQ(flow.teams_size(), 0);
}

}  // namespace
}  // namespace vla::evaluator
