// The Ingester: batches, rejections with the caller's index, and a server
// killed mid-stream and restarted (the real `vlad` binary).
#include "clients/lib/ingester.h"

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"

namespace vla::client {
namespace {

using testing::Ctx;
using testing::TempDir;
using testing::VladProcess;

constexpr int64_t kDay = 86400;

// Teams, a value stream and a COUNT KVI over the `calls` signal.
void DefineCallsKvi(v1::VmdbService::Stub& vmdb) {
  v1::CreateTeamRequest team;
  v1::Team team_out;
  team.set_team_id("business");
  *team.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_CONSUMER);
  ASSERT_TRUE(vmdb.CreateTeam(Ctx().get(), team, &team_out).ok());
  team.set_team_id("desk");
  *team.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_PROVIDER);
  ASSERT_TRUE(vmdb.CreateTeam(Ctx().get(), team, &team_out).ok());
  v1::CreateValueStreamRequest vs;
  vs.set_value_stream_id("incident");
  *vs.mutable_value_stream() =
      testing::MakeValueStream("teams/business", {"teams/desk"});
  v1::ValueStream vs_out;
  ASSERT_TRUE(vmdb.CreateValueStream(Ctx().get(), vs, &vs_out).ok());
  v1::CreateKviRequest kvi;
  kvi.set_kvi_id("calls");
  v1::Kvi* k = kvi.mutable_kvi();
  k->set_value_stream("valueStreams/incident");
  k->set_source(v1::SOURCE_OBSERVATIONS);
  k->set_signal("calls");
  k->set_aggregation(v1::AGGREGATION_COUNT);
  k->mutable_window()->mutable_rolling()->set_seconds(3650 * kDay);
  k->set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
  v1::Kvi kvi_out;
  ASSERT_TRUE(vmdb.CreateKvi(Ctx().get(), kvi, &kvi_out).ok());
}

v1::Observation Call(int i, int64_t now) {
  v1::Observation o;
  o.set_event_id(absl::StrCat("call-", i));
  o.set_signal("calls");
  o.mutable_time()->set_seconds(now - kDay + i % 3600);
  o.set_value(1);
  o.set_value_stream("valueStreams/incident");
  return o;
}

class IngesterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vlad_.Start().ok());
    options_.address = vlad_.address();
    auto channel = MakeChannel(options_);
    ASSERT_TRUE(channel.ok());
    channel_ = *channel;
    vmdb_ = v1::VmdbService::NewStub(channel_);
    evaluation_ = v1::EvaluationService::NewStub(channel_);
    ASSERT_NO_FATAL_FAILURE(DefineCallsKvi(*vmdb_));
  }

  // The COUNT of `calls` once the evaluator has seen the VMDB's KVI.
  // Computed now (an explicit time): a read without one answers the latest
  // evaluation pass, which trails the last ingest by the debounce.
  int64_t CountCalls() {
    v1::GetKviValueRequest req;
    req.set_kvi("kvis/calls");
    *req.mutable_time() = ToProtoTime(absl::Now());
    v1::KviValue value;
    grpc::Status s;
    testing::Eventually([&] {
      s = evaluation_->GetKviValue(Ctx().get(), req, &value);
      return s.ok();
    });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return value.samples();
  }

  TempDir dir_;
  VladProcess vlad_{VLAD_PATH, dir_.path()};
  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmdbService::Stub> vmdb_;
  std::unique_ptr<v1::EvaluationService::Stub> evaluation_;
  const int64_t now_ = absl::ToUnixSeconds(absl::Now());
};

TEST_F(IngesterTest, BatchesAndReportsRejectionsByTheCallersIndex) {
  // The evaluator learns of the value stream from the VMDB's change feed.
  ASSERT_TRUE(testing::Eventually([&] {
    v1::IngestRequest probe;
    *probe.add_observations() = Call(-1, now_);
    v1::IngestResponse resp;
    return evaluation_->IngestBatch(Ctx().get(), probe, &resp).ok() &&
           resp.rejected_size() == 0;
  }));
  Ingester ingester(channel_, options_, {.batch_size = 7, .max_in_flight = 3});
  for (int i = 0; i < 50; ++i) {
    if (i == 12 || i == 40) {
      v1::WorkItemEvent bad;  // no kind, no item id
      bad.set_event_id(absl::StrCat("bad-", i));
      ASSERT_TRUE(ingester.Add(bad).ok());
    } else {
      v1::Observation o = Call(i, now_);
      if (i == 33) o.set_signal("");
      ASSERT_TRUE(ingester.Add(o).ok());
    }
  }
  auto totals = ingester.Finish();
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->accepted, 47);
  EXPECT_EQ(totals->duplicates, 0);
  EXPECT_EQ(totals->batches, 8);  // ceil(50 / 7)
  EXPECT_EQ(totals->reconnects, 0);
  ASSERT_EQ(totals->rejected.size(), 3u);
  EXPECT_EQ(totals->rejected[0].record_index, 12);
  EXPECT_EQ(totals->rejected[1].record_index, 33);
  EXPECT_NE(totals->rejected[1].reason.find("signal"), std::string::npos)
      << totals->rejected[1].reason;
  EXPECT_EQ(totals->rejected[2].record_index, 40);
  EXPECT_EQ(CountCalls(), 48);                      // the probe too
  EXPECT_FALSE(ingester.Add(Call(99, now_)).ok());  // finished
}

TEST_F(IngesterTest, ResendsUnacknowledgedBatchesAfterTheServerIsKilled) {
  ASSERT_TRUE(testing::Eventually([&] {
    v1::IngestRequest probe;
    *probe.add_observations() = Call(0, now_);
    v1::IngestResponse resp;
    return evaluation_->IngestBatch(Ctx().get(), probe, &resp).ok() &&
           resp.rejected_size() == 0;
  }));
  constexpr int kRecords = 20000;
  std::atomic<int> added{0};
  std::atomic<bool> restarted{false};
  std::thread killer([&] {
    while (added < kRecords / 4) absl::SleepFor(absl::Milliseconds(1));
    vlad_.Kill();  // mid-stream: batches are in flight
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_TRUE(vlad_.Start().ok());
    restarted = true;
  });
  IngestOptions io;
  io.batch_size = 200;
  io.max_in_flight = 8;
  io.retry.initial_backoff = absl::Milliseconds(50);
  io.retry.max_backoff = absl::Milliseconds(500);
  io.retry.max_attempts = 40;
  Ingester ingester(channel_, options_, io);
  for (int i = 0; i < kRecords; ++i) {
    absl::Status s = ingester.Add(Call(i, now_));
    ASSERT_TRUE(s.ok()) << s;
    ++added;
  }
  auto totals = ingester.Finish();
  killer.join();
  ASSERT_TRUE(restarted);
  ASSERT_TRUE(totals.ok()) << totals.status();
  std::cout << "accepted " << totals->accepted << " duplicates "
            << totals->duplicates << " reconnects " << totals->reconnects
            << "\n";
  EXPECT_GE(totals->reconnects, 1);
  EXPECT_EQ(totals->rejected.size(), 0u);
  // Each batch is acknowledged once: by its first send, or by a resend
  // (as duplicates when the first send was stored before the kill).
  EXPECT_EQ(totals->accepted + totals->duplicates, kRecords);
  // The probe was call-0: one duplicate at least.
  EXPECT_GE(totals->duplicates, 1);
  // Every record counted exactly once.
  EXPECT_EQ(CountCalls(), kRecords);
}

TEST(IngesterErrorTest, GivesUpWhenTheServerStaysDown) {
  TempDir dir;
  VladProcess vlad(VLAD_PATH, dir.path());
  ASSERT_TRUE(vlad.Start().ok());
  ConnectionOptions options;
  options.address = vlad.address();
  vlad.Kill();
  auto channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok());
  IngestOptions io;
  io.batch_size = 2;
  io.retry.max_attempts = 3;
  io.retry.initial_backoff = absl::Milliseconds(10);
  Ingester ingester(*channel, options, io);
  absl::Status s;
  for (int i = 0; i < 100 && s.ok(); ++i) s = ingester.Add(Call(i, 0));
  if (s.ok()) s = ingester.Finish().status();
  EXPECT_THAT(
      s, testing::AbslIsCodeWith(absl::StatusCode::kUnavailable, "Ingest: "));
  // The error sticks.
  EXPECT_EQ(ingester.Add(Call(1000, 0)).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vla::client
