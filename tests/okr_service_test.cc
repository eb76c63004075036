// OkrStatusService through its gRPC API on a real server with every service:
// objectives from the VMDB, KVI values from the evaluator, check-ins.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "clients/lib/watch.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::Eventually;
using testing::FastOptions;
using testing::IsCode;
using testing::IsCodeWith;
using testing::MakeTeam;
using testing::TestServer;

constexpr int64_t kDay = 86400;

class OkrServiceTest : public ::testing::TestWithParam<testing::Db> {
 protected:
  OkrServiceTest() : OkrServiceTest(FastOptions(), GetParam()) {}
  // Fixtures that are not parameterized (TEST_F) name their engine.
  OkrServiceTest(ServerOptions options, testing::Db db)
      : server_(options, db), now_(absl::ToUnixSeconds(absl::Now())) {}

  void SetUp() override {
    for (auto [id, kind] : {std::pair{"business", v1::TEAM_KIND_CONSUMER},
                            std::pair{"desk", v1::TEAM_KIND_PROVIDER},
                            std::pair{"network", v1::TEAM_KIND_PROVIDER}}) {
      v1::CreateTeamRequest req;
      req.set_team_id(id);
      *req.mutable_team() = MakeTeam(kind);
      v1::Team out;
      ASSERT_TRUE(server_.vmdb().CreateTeam(Ctx().get(), req, &out).ok());
    }
    v1::CreateValueStreamRequest vs;
    vs.set_value_stream_id("incident");
    *vs.mutable_value_stream() = testing::MakeValueStream(
        "teams/business", {"teams/desk", "teams/network"});
    v1::ValueStream vs_out;
    ASSERT_TRUE(
        server_.vmdb().CreateValueStream(Ctx().get(), vs, &vs_out).ok());
    v1::CreateKviRequest kvi;
    kvi.set_kvi_id("happiness");
    auto* k = kvi.mutable_kvi();
    k->set_value_stream("valueStreams/incident");
    k->set_source(v1::SOURCE_OBSERVATIONS);
    k->set_signal("happiness");
    k->set_aggregation(v1::AGGREGATION_MEAN);
    k->mutable_window()->mutable_rolling()->set_seconds(30 * kDay);
    k->set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
    v1::Kvi kvi_out;
    ASSERT_TRUE(server_.vmdb().CreateKvi(Ctx().get(), kvi, &kvi_out).ok());

    // A joint objective over [now - 10 d, now + 10 d): happiness 62 -> 80
    // from the KVI, ping-pong rate 14 -> 5 checked in by hand.
    v1::CreateObjectiveRequest obj;
    obj.set_objective_id("faster");
    auto* o = obj.mutable_objective();
    o->add_owners("teams/desk");
    o->add_owners("teams/network");
    o->set_lead("teams/desk");
    o->mutable_period_start()->set_seconds(now_ - 10 * kDay);
    o->mutable_period_end()->set_seconds(now_ + 10 * kDay);
    o->set_kind(v1::OBJECTIVE_KIND_COMMITTED);
    auto* kr1 = o->add_key_results();
    kr1->set_id("happiness");
    kr1->set_kvi("kvis/happiness");
    kr1->set_start_value(62);
    kr1->set_target_value(80);
    auto* kr2 = o->add_key_results();
    kr2->set_id("ping-pong");
    kr2->set_start_value(14);
    kr2->set_target_value(5);
    v1::Objective obj_out;
    ASSERT_TRUE(
        server_.vmdb().CreateObjective(Ctx().get(), obj, &obj_out).ok());
    ASSERT_TRUE(Eventually([&] {
      grpc::Status s;
      Status(now_, &s);
      return s.ok();
    }));
  }

  v1::ObjectiveStatus Status(int64_t t, grpc::Status* status = nullptr) {
    v1::GetObjectiveStatusRequest req;
    req.set_objective("objectives/faster");
    req.mutable_time()->set_seconds(t);
    v1::ObjectiveStatus out;
    grpc::Status s = server_.okr().GetObjectiveStatus(Ctx().get(), req, &out);
    if (status != nullptr) *status = s;
    return out;
  }

  grpc::Status CheckIn(const std::string& kr, double value, double confidence,
                       const std::string& objective = "objectives/faster",
                       const std::string& team = "teams/desk") {
    v1::RecordCheckInRequest req;
    req.set_objective(objective);
    req.set_key_result_id(kr);
    req.set_value(value);
    req.set_confidence(confidence);
    req.set_note("weekly review");
    req.set_team(team);
    v1::CheckIn out;
    return server_.okr().RecordCheckIn(Ctx().get(), req, &out);
  }

  void IngestHappiness(double value) {
    v1::IngestRequest req;
    auto* o = req.add_observations();
    o->set_event_id("h1");
    o->set_signal("happiness");
    o->mutable_time()->set_seconds(now_ - 3600);
    o->set_value(value);
    o->set_value_stream("valueStreams/incident");
    v1::IngestResponse resp;
    ASSERT_TRUE(Eventually([&] {
      return server_.evaluation().IngestBatch(Ctx().get(), req, &resp).ok();
    }));
  }

  TestServer server_;
  const int64_t now_;
};

INSTANTIATE_TEST_SUITE_P(Engines, OkrServiceTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(OkrServiceTest, ScoresFromKviValuesAndCheckIns) {
  IngestHappiness(71);                               // p = (71 - 62) / 18 = 0.5
  ASSERT_TRUE(CheckIn("ping-pong", 9.5, 0.4).ok());  // p = 4.5 / 9 = 0.5
  // At now + 5 d: e = 15/20 = 0.75; e - p = 0.25: AT_RISK (confidence 0.4
  // does not move AT_RISK). Score 0.5: YELLOW.
  v1::ObjectiveStatus s = Status(now_ + 5 * kDay);
  EXPECT_DOUBLE_EQ(s.expected_progress(), 0.75);
  EXPECT_DOUBLE_EQ(s.score(), 0.5);
  EXPECT_EQ(s.color(), v1::COLOR_YELLOW);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_AT_RISK);
  ASSERT_EQ(s.key_results_size(), 2);
  EXPECT_DOUBLE_EQ(s.key_results(0).current_value(), 71);
  EXPECT_DOUBLE_EQ(s.key_results(1).current_value(), 9.5);
  EXPECT_DOUBLE_EQ(s.key_results(1).confidence(), 0.4);
  EXPECT_EQ(s.owners_size(), 2);
  // Before the period: NOT_STARTED, with or without data.
  s = Status(now_ - 11 * kDay);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_NOT_STARTED);
  // A check-in counts only from when it was recorded: an hour ago the
  // manual KR had no value.
  s = Status(now_ - 3600);
  EXPECT_EQ(s.key_results(1).status(), v1::OKR_STATUS_NO_DATA);
  EXPECT_FALSE(s.key_results(1).has_value());
  // After the period: graded as of its end; p 0.5 < 1: MISSED.
  s = Status(now_ + 30 * kDay);
  EXPECT_EQ(s.status(), v1::OKR_STATUS_MISSED);
  EXPECT_EQ(s.evaluate_time().seconds(), now_ + 10 * kDay);
}

TEST_P(OkrServiceTest, CheckInValidationAndDurability) {
  EXPECT_THAT(CheckIn("ping-pong", 9, 0.9, "objectives/none"),
              IsCodeWith(StatusCode::NOT_FOUND, "objectives/none"));
  EXPECT_THAT(CheckIn("ping-pong", 9, 0.9, "faster"),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "objective:"));
  EXPECT_THAT(CheckIn("nope", 9, 0.9),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "key_result_id"));
  EXPECT_THAT(CheckIn("happiness", 9, 0.9),
              IsCodeWith(StatusCode::FAILED_PRECONDITION, "kvis/happiness"));
  EXPECT_THAT(CheckIn("ping-pong", std::nan(""), 0.9),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "value"));
  EXPECT_THAT(CheckIn("ping-pong", 9, 1.5),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "confidence"));
  EXPECT_THAT(CheckIn("ping-pong", 9, 0.9, "objectives/faster", "teams/ghost"),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "team"));
  ASSERT_TRUE(CheckIn("ping-pong", 5, 0.9).ok());
  server_.Restart();
  ASSERT_TRUE(Eventually([&] {
    grpc::Status st;
    v1::ObjectiveStatus s = Status(now_ + kDay, &st);
    return st.ok() && s.key_results_size() == 2 && s.key_results(1).has_value();
  }));
  const v1::ObjectiveStatus s = Status(now_ + kDay);
  EXPECT_DOUBLE_EQ(s.key_results(1).current_value(), 5);
  EXPECT_EQ(s.key_results(1).status(), v1::OKR_STATUS_ACHIEVED);
}

TEST_P(OkrServiceTest, ListWatchAndResume) {
  // Snapshot (the objective), marker.
  v1::WatchObjectiveStatusesRequest wreq;
  wreq.set_filter("owner = \"teams/network\"");
  std::string token;
  {
    grpc::ClientContext ctx;
    auto stream =
        client::WatchEvents(server_.okr().WatchObjectiveStatuses(&ctx, wreq));
    v1::ObjectiveStatusEvent e;
    bool complete = false;
    bool seen = false;
    while (!complete && stream.Read(&e)) {
      complete = e.snapshot_complete();
      seen = seen || e.status().objective() == "objectives/faster";
      token = e.resume_token();
    }
    ASSERT_TRUE(complete);
    if (!seen) {
      // The first scoring may come right after the (empty) snapshot.
      ASSERT_TRUE(stream.Read(&e));
      EXPECT_EQ(e.status().objective(), "objectives/faster");
      token = e.resume_token();
    }
    ctx.TryCancel();
  }
  // Missed while away: a check-in changes the score.
  ASSERT_TRUE(CheckIn("ping-pong", 5, 1.0).ok());
  ASSERT_TRUE(Eventually([&] {
    v1::ListObjectiveStatusesRequest lreq;
    lreq.set_filter("owner = \"teams/desk\"");
    v1::ListObjectiveStatusesResponse list;
    return server_.okr().ListObjectiveStatuses(Ctx().get(), lreq, &list).ok() &&
           list.statuses_size() == 1 &&
           list.statuses(0).key_results(1).has_value();
  }));
  {
    grpc::ClientContext ctx;
    wreq.set_resume_token(token);
    auto stream =
        client::WatchEvents(server_.okr().WatchObjectiveStatuses(&ctx, wreq));
    v1::ObjectiveStatusEvent e;
    ASSERT_TRUE(stream.Read(&e));
    EXPECT_FALSE(e.snapshot());  // resumed: just what was missed
    EXPECT_FALSE(e.snapshot_complete());
    EXPECT_TRUE(e.status().key_results(1).has_value());
    EXPECT_GT(e.sequence(), 0);
    ctx.TryCancel();
  }
  // A tampered token is refused; a filter for another owner sees nothing.
  {
    grpc::ClientContext ctx;
    wreq.set_resume_token(token + "x");
    auto stream =
        client::WatchEvents(server_.okr().WatchObjectiveStatuses(&ctx, wreq));
    v1::ObjectiveStatusEvent e;
    EXPECT_FALSE(stream.Read(&e));
    EXPECT_THAT(stream.Finish(),
                IsCodeWith(StatusCode::INVALID_ARGUMENT, "resume_token"));
  }
  v1::ListObjectiveStatusesRequest lreq;
  lreq.set_filter("owner = \"teams/business\"");
  v1::ListObjectiveStatusesResponse list;
  ASSERT_TRUE(
      server_.okr().ListObjectiveStatuses(Ctx().get(), lreq, &list).ok());
  EXPECT_EQ(list.statuses_size(), 0);
  lreq.set_filter("status = PURPLE");
  EXPECT_THAT(server_.okr().ListObjectiveStatuses(Ctx().get(), lreq, &list),
              IsCode(StatusCode::INVALID_ARGUMENT));
  v1::GetObjectiveStatusRequest get;
  get.set_objective("objectives/none");
  v1::ObjectiveStatus out;
  EXPECT_THAT(server_.okr().GetObjectiveStatus(Ctx().get(), get, &out),
              IsCode(StatusCode::NOT_FOUND));
}

// The watch streams run on the server's async queues: many come and go over
// several connections while the status changes, and those still open at
// shutdown end with UNAVAILABLE; none hangs (ASan checks the calls'
// lifetimes).
TEST_P(OkrServiceTest, WatchStreamsComeAndGoThenEndAtShutdown) {
  std::vector<std::unique_ptr<v1::OkrStatusService::Stub>> stubs;
  for (int i = 0; i < 3; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("vla.test.connection", i);  // a connection of its own
    stubs.push_back(v1::OkrStatusService::NewStub(grpc::CreateCustomChannel(
        server_.address(), grpc::InsecureChannelCredentials(), args)));
  }
  std::atomic<bool> stop{false};
  std::thread checkins([&] {
    for (int value = 0; !stop; ++value) {
      CheckIn("ping-pong", value % 14, 0.5);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto deadline = [] {
    return std::chrono::system_clock::now() + std::chrono::seconds(20);
  };
  // Churn: open, read the snapshot (and sometimes an event more), cancel.
  std::atomic<int> snapshots{0};
  std::vector<std::thread> churners;
  for (int t = 0; t < 4; ++t) {
    churners.emplace_back([&, t] {
      auto& stub = *stubs[t % stubs.size()];
      for (int i = 0; i < 25; ++i) {
        grpc::ClientContext ctx;
        ctx.set_deadline(deadline());
        auto stream = client::WatchEvents(stub.WatchObjectiveStatuses(
            &ctx, v1::WatchObjectiveStatusesRequest()));
        v1::ObjectiveStatusEvent e;
        while (stream.Read(&e) && !e.snapshot_complete()) {
        }
        if (e.snapshot_complete()) ++snapshots;
        if (i % 2 == 0) stream.Read(&e);
        ctx.TryCancel();
        stream.Finish();
      }
    });
  }
  for (std::thread& t : churners) t.join();
  EXPECT_EQ(snapshots, 100);

  // Streams left open, reading, when the server shuts down.
  struct Open {
    grpc::ClientContext ctx;
    std::optional<client::WatchReader<v1::WatchObjectiveStatusesResponse>>
        stream;
  };
  std::vector<std::unique_ptr<Open>> open;
  for (int i = 0; i < 30; ++i) {
    auto o = std::make_unique<Open>();
    o->ctx.set_deadline(deadline());
    o->stream =
        client::WatchEvents(stubs[i % stubs.size()]->WatchObjectiveStatuses(
            &o->ctx, v1::WatchObjectiveStatusesRequest()));
    v1::ObjectiveStatusEvent e;
    while (o->stream->Read(&e) && !e.snapshot_complete()) {
    }
    ASSERT_TRUE(e.snapshot_complete()) << i;
    open.push_back(std::move(o));
  }
  stop = true;
  checkins.join();
  std::vector<std::thread> readers;
  for (auto& o : open) {
    readers.emplace_back([o = o.get()] {
      v1::ObjectiveStatusEvent e;
      while (o->stream->Read(&e)) {
      }
      EXPECT_THAT(o->stream->Finish(), IsCode(StatusCode::UNAVAILABLE));
    });
  }
  server_.Stop();
  for (std::thread& t : readers) t.join();
}

// A board's sequences start over when the server restarts: a token from the
// earlier run must not resume (it would skip what changed meanwhile) but get
// a fresh snapshot, as an expired one does.
TEST_P(OkrServiceTest, ResumeTokenFromAnEarlierRunGetsAFreshSnapshot) {
  // The event of the last change, read from a fresh stream (the marker's
  // resume token and sequence).
  auto current = [&](v1::ObjectiveStatusEvent* marker) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    auto stream = client::WatchEvents(server_.okr().WatchObjectiveStatuses(
        &ctx, v1::WatchObjectiveStatusesRequest()));
    while (stream.Read(marker) && !marker->snapshot_complete()) {
    }
    ctx.TryCancel();
  };
  // Waits until `value` of the ping-pong KR is published.
  auto published = [&](double value) {
    return Eventually([&] {
      v1::ListObjectiveStatusesResponse list;
      return server_.okr()
                 .ListObjectiveStatuses(
                     Ctx().get(), v1::ListObjectiveStatusesRequest(), &list)
                 .ok() &&
             list.statuses_size() == 1 &&
             list.statuses(0).key_results(1).current_value() == value;
    });
  };
  ASSERT_TRUE(CheckIn("ping-pong", 10, 0.5).ok());
  ASSERT_TRUE(published(10));
  v1::ObjectiveStatusEvent before;
  current(&before);
  ASSERT_TRUE(before.snapshot_complete());

  server_.Restart();
  // Changes after the restart, until the new run's sequence has caught up
  // with the token's: a sequence alone could then be resumed after.
  v1::ObjectiveStatusEvent after;
  for (int value = 9; value > 0; --value) {
    ASSERT_TRUE(CheckIn("ping-pong", value, 0.5).ok());
    ASSERT_TRUE(published(value));
    current(&after);
    ASSERT_TRUE(after.snapshot_complete());
    if (after.sequence() >= before.sequence()) break;
  }
  ASSERT_GE(after.sequence(), before.sequence());

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WatchObjectiveStatusesRequest req;
  req.set_resume_token(before.resume_token());
  auto stream =
      client::WatchEvents(server_.okr().WatchObjectiveStatuses(&ctx, req));
  v1::ObjectiveStatusEvent e;
  ASSERT_TRUE(stream.Read(&e)) << "no fresh snapshot";
  EXPECT_TRUE(e.snapshot());
  EXPECT_EQ(e.status().objective(), "objectives/faster");
  EXPECT_NE(e.status().key_results(1).current_value(), 10);
  ASSERT_TRUE(stream.Read(&e));
  EXPECT_TRUE(e.snapshot_complete());
  ctx.TryCancel();
  // A token of this run still resumes: nothing missed, no snapshot.
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(500));
  req.set_resume_token(after.resume_token());
  auto resumed =
      client::WatchEvents(server_.okr().WatchObjectiveStatuses(&ctx2, req));
  EXPECT_FALSE(resumed.Read(&e));
  EXPECT_THAT(resumed.Finish(), IsCode(StatusCode::DEADLINE_EXCEEDED));
}

// Fast debounce, one-minute tick: passes run only after changes.
ServerOptions SlowTick() {
  ServerOptions o = FastOptions();
  o.evaluation_tick = absl::Minutes(1);
  return o;
}

// With a one-minute tick, only the evaluator's KVI value stream can re-score
// an objective within seconds of new data.
class OkrKviStreamTest : public OkrServiceTest {
 protected:
  OkrKviStreamTest() : OkrServiceTest(SlowTick(), testing::Db::kSqlite) {}
  // The published (not computed on demand) value of the happiness KR.
  std::optional<double> PublishedHappiness() {
    v1::ListObjectiveStatusesResponse list;
    if (!server_.okr()
             .ListObjectiveStatuses(Ctx().get(),
                                    v1::ListObjectiveStatusesRequest(), &list)
             .ok() ||
        list.statuses_size() != 1) {
      return std::nullopt;
    }
    const v1::KeyResultStatus& kr = list.statuses(0).key_results(0);
    if (!kr.has_value()) return -1;
    return kr.current_value();
  }
};

INSTANTIATE_TEST_SUITE_P(Engines, OkrKviStreamTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(OkrKviStreamTest, NewKviValueRescoresTheObjectiveBeforeTheTick) {
  // The objective's first scoring (no data yet) is published.
  ASSERT_TRUE(Eventually([&] { return PublishedHappiness() == -1; }));
  IngestHappiness(71);
  EXPECT_TRUE(Eventually([&] { return PublishedHappiness() == 71; }));
}

// A read without a time answers the latest scoring pass (no scoring per
// call): the same status as the list, at the pass's instant.
TEST_F(OkrKviStreamTest, StatusReadWithoutATimeIsTheLatestPass) {
  ASSERT_TRUE(CheckIn("ping-pong", 10, 0.5).ok());
  v1::ListObjectiveStatusesResponse list;
  ASSERT_TRUE(Eventually([&] {
    list.Clear();
    return server_.okr()
               .ListObjectiveStatuses(Ctx().get(),
                                      v1::ListObjectiveStatusesRequest(), &list)
               .ok() &&
           list.statuses_size() == 1 &&
           list.statuses(0).key_results(1).current_value() == 10;
  }));
  // Between two identical lists (no pass in between: other passes, e.g.
  // after the evaluator's first KVI values, may come meanwhile), the read
  // answers exactly the listed status, also a while after the pass.
  v1::GetObjectiveStatusRequest req;
  req.set_objective("objectives/faster");
  v1::ObjectiveStatus latest;
  EXPECT_TRUE(Eventually([&] {
    v1::ListObjectiveStatusesResponse before, after;
    if (!server_.okr()
             .ListObjectiveStatuses(Ctx().get(),
                                    v1::ListObjectiveStatusesRequest(), &before)
             .ok()) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!server_.okr().GetObjectiveStatus(Ctx().get(), req, &latest).ok() ||
        !server_.okr()
             .ListObjectiveStatuses(Ctx().get(),
                                    v1::ListObjectiveStatusesRequest(), &after)
             .ok()) {
      return false;
    }
    using google::protobuf::util::MessageDifferencer;
    return MessageDifferencer::Equals(before, after) &&
           MessageDifferencer::Equals(latest, after.statuses(0));
  }));
  // With a time: scored at that instant.
  EXPECT_EQ(Status(now_ + 60).evaluate_time().seconds(), now_ + 60);
}

// The stream's messages over gRPC, with a 1 KiB size bound: the snapshot of
// 41 objectives spans several messages and arrives whole before its
// marker; then a quiet stream gets each change alone; a stream resumed after
// a message's last event gets exactly what changed since.
class OkrBatchTest : public OkrServiceTest {
 protected:
  OkrBatchTest() : OkrServiceTest(Options(), testing::Db::kSqlite) {}
  static ServerOptions Options() {
    ServerOptions o = SlowTick();
    o.watch_batch_bytes = 1024;
    return o;
  }
  void SetUp() override {
    OkrServiceTest::SetUp();
    for (int i = 0; i < 40; ++i) {
      v1::CreateObjectiveRequest req;
      req.set_objective_id(absl::StrCat("o-", i));
      *req.mutable_objective() =
          testing::MakeManualObjective("teams/desk", now_, "kr", 0, 100);
      v1::Objective out;
      ASSERT_TRUE(server_.vmdb().CreateObjective(Ctx().get(), req, &out).ok());
    }
  }
  // Waits until objective o-`i`'s key result shows `value` on the board.
  bool Published(int i, double value) {
    return Eventually([&] {
      v1::ListObjectiveStatusesRequest req;
      req.set_page_size(100);
      v1::ListObjectiveStatusesResponse list;
      if (!server_.okr().ListObjectiveStatuses(Ctx().get(), req, &list).ok()) {
        return false;
      }
      for (const v1::ObjectiveStatus& st : list.statuses()) {
        if (st.objective() == absl::StrCat("objectives/o-", i)) {
          return st.key_results(0).has_value() &&
                 st.key_results(0).current_value() == value;
        }
      }
      return false;
    });
  }
};

TEST_F(OkrBatchTest,
       SnapshotSpansMessagesThenQuietChangesAndResumeAfterABatch) {
  ASSERT_TRUE(Eventually([&] {
    v1::ListObjectiveStatusesResponse list;
    return server_.okr()
               .ListObjectiveStatuses(Ctx().get(),
                                      v1::ListObjectiveStatusesRequest(), &list)
               .ok() &&
           list.statuses_size() == 41;
  }));
  auto ctx = std::make_unique<grpc::ClientContext>();
  auto stream = server_.okr().WatchObjectiveStatuses(
      ctx.get(), v1::WatchObjectiveStatusesRequest());
  v1::WatchObjectiveStatusesResponse message;
  std::set<std::string> snapshot;
  int messages = 0;
  bool complete = false;
  while (!complete && stream->Read(&message)) {
    ++messages;
    EXPECT_TRUE(message.ByteSizeLong() <= 1024 || message.events_size() == 1)
        << message.ByteSizeLong();
    for (const v1::ObjectiveStatusEvent& e : message.events()) {
      ASSERT_FALSE(complete) << "an event after the marker";
      if (e.snapshot_complete()) {
        complete = true;
        EXPECT_FALSE(e.resume_token().empty());
      } else {
        EXPECT_TRUE(e.snapshot());
        // No token in the middle of a snapshot: resuming there could miss
        // what it has not sent yet.
        EXPECT_TRUE(e.resume_token().empty());
        snapshot.insert(e.status().objective());
      }
    }
  }
  ASSERT_TRUE(complete);
  EXPECT_GE(messages, 3);
  EXPECT_EQ(snapshot.size(), 41u);

  // Quiet: a check-in, a message with its change alone.
  ASSERT_TRUE(CheckIn("kr", 30, 0.5, "objectives/o-3").ok());
  ASSERT_TRUE(stream->Read(&message));
  ASSERT_EQ(message.events_size(), 1);
  EXPECT_EQ(message.events(0).status().objective(), "objectives/o-3");
  EXPECT_FALSE(message.events(0).snapshot());
  const std::string token = message.events(0).resume_token();
  const int64_t sequence = message.events(0).sequence();
  ctx->TryCancel();
  while (stream->Read(&message)) {
  }
  stream->Finish();

  // Missed while away: two objectives change (o-4 twice).
  ASSERT_TRUE(CheckIn("kr", 40, 0.5, "objectives/o-4").ok());
  ASSERT_TRUE(Published(4, 40));
  ASSERT_TRUE(CheckIn("kr", 50, 0.5, "objectives/o-5").ok());
  ASSERT_TRUE(CheckIn("kr", 41, 0.5, "objectives/o-4").ok());
  ASSERT_TRUE(Published(5, 50));
  ASSERT_TRUE(Published(4, 41));
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(10));
  v1::WatchObjectiveStatusesRequest req;
  req.set_resume_token(token);
  auto resumed = server_.okr().WatchObjectiveStatuses(&ctx2, req);
  std::map<std::string, double> got;
  int64_t last = sequence;
  while (got.size() < 2 && resumed->Read(&message)) {
    for (const v1::ObjectiveStatusEvent& e : message.events()) {
      EXPECT_FALSE(e.snapshot());
      EXPECT_GT(e.sequence(), last);
      last = e.sequence();
      got[e.status().objective()] = e.status().key_results(0).current_value();
    }
  }
  // Each changed objective once, with its latest status; o-3 (delivered
  // before the token) not again.
  EXPECT_EQ(got, (std::map<std::string, double>{{"objectives/o-4", 41},
                                                {"objectives/o-5", 50}}));
  ctx2.TryCancel();
}

}  // namespace
}  // namespace vla
