// StatusBoard: snapshot, marker, coalescing per key, stalled subscribers,
// filters, removal, resume and expired resume, close.
#include "services/common/status_board.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vla {
namespace {

using Board = StatusBoard<int>;
using Kind = Board::Event::Kind;

// A subscriber whose writes complete only when the test says so.
class FakeStream : public Board::Subscriber {
 public:
  std::vector<Board::Event> received;
  bool in_flight = false;
  bool ended = false;

 protected:
  void Deliver(const Board::Event& e) override {
    EXPECT_FALSE(in_flight) << "two writes in flight";
    received.push_back(e);
    in_flight = true;
  }
  void End() override {
    EXPECT_FALSE(ended) << "ended twice";
    ended = true;
  }
};

// Completes writes until the stream is idle.
void Drain(Board& board, FakeStream& s) {
  while (s.in_flight) {
    s.in_flight = false;
    board.WriteDone(&s, true);
  }
}

FilterAttributes Team(const std::string& team) { return {{"team", {team}}}; }

Filter TeamFilter(const std::string& text) {
  static const std::vector<FilterField> fields = {
      {"team", FilterField::Type::kString, nullptr}};
  return *Filter::Parse(text, fields);
}

TEST(StatusBoardTest, SnapshotMarkerThenChanges) {
  Board board;
  board.Publish("a", 1, Team("x"));
  board.Publish("b", 2, Team("y"));
  FakeStream s;
  EXPECT_FALSE(board.Attach(&s, Filter()));
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 3u);
  EXPECT_EQ(s.received[0].key, "a");
  EXPECT_TRUE(s.received[0].snapshot);
  EXPECT_EQ(s.received[1].status, 2);
  EXPECT_EQ(s.received[2].kind, Kind::kSnapshotComplete);
  board.Publish("a", 10, Team("x"));
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 4u);
  EXPECT_EQ(s.received[3].status, 10);
  EXPECT_FALSE(s.received[3].snapshot);
  EXPECT_EQ(s.received[3].sequence, 3);
  board.Detach(&s);
}

TEST(StatusBoardTest, StalledSubscriberCoalescesAndDoesNotBlockOthers) {
  Board board;
  FakeStream stalled, fast;
  board.Attach(&stalled, Filter());
  board.Attach(&fast, Filter());
  Drain(board, fast);
  // `stalled` never completes its first write (the marker).
  for (int i = 0; i < 1000; ++i) {
    board.Publish("k" + std::to_string(i % 10), i, {});
    Drain(board, fast);
  }
  EXPECT_EQ(fast.received.size(), 1u + 1000u);  // marker + every change
  EXPECT_EQ(stalled.received.size(), 1u);       // still on the marker
  // When it wakes up it gets each key once, with its latest status.
  Drain(board, stalled);
  ASSERT_EQ(stalled.received.size(), 1u + 10u);
  for (size_t i = 1; i < stalled.received.size(); ++i) {
    const int key = std::stoi(stalled.received[i].key.substr(1));
    EXPECT_EQ(stalled.received[i].status, 990 + key);
  }
  // What the metrics report: 990 updates folded into the 10 queued keys,
  // and every event handed out.
  EXPECT_EQ(board.coalesced_count(), 990);
  EXPECT_EQ(board.delivered_count(), 1001 + 11);
  board.Detach(&stalled);
  board.Detach(&fast);
}

TEST(StatusBoardTest, FilterAndRemovalWhenLeavingIt) {
  Board board;
  board.Publish("a", 1, Team("x"));
  board.Publish("b", 1, Team("y"));
  FakeStream s;
  board.Attach(&s, TeamFilter("team = \"x\""));
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 2u);  // a, marker
  board.Publish("b", 2, Team("y"));  // not ours
  board.Publish("a", 2, Team("y"));  // leaves the filter: removed
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 3u);
  EXPECT_EQ(s.received[2].kind, Kind::kRemoved);
  EXPECT_EQ(s.received[2].key, "a");
  // A key removed while queued behind a write in flight is never sent.
  board.Publish("c", 1, Team("x"));  // delivered at once (stream idle)
  board.Publish("d", 1, Team("x"));  // queued behind it
  board.Remove("d");
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 4u);
  EXPECT_EQ(s.received[3].key, "c");
  board.Remove("c");  // seen: a removal follows
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 5u);
  EXPECT_EQ(s.received[4].kind, Kind::kRemoved);
  board.Detach(&s);
}

TEST(StatusBoardTest, ResumeGetsWhatWasMissed) {
  Board board;
  board.Publish("a", 1, {});
  board.Publish("b", 1, {});
  const int64_t seen = board.sequence();
  board.Publish("a", 2, {});
  board.Publish("c", 1, {});
  board.Publish("a", 3, {});
  FakeStream s;
  EXPECT_TRUE(board.Attach(&s, Filter(), seen));
  Drain(board, s);
  // Each changed key once, in the order of its last change; no snapshot.
  ASSERT_EQ(s.received.size(), 2u);
  EXPECT_EQ(s.received[0].key, "c");
  EXPECT_EQ(s.received[1].key, "a");
  EXPECT_EQ(s.received[1].status, 3);
  EXPECT_FALSE(s.received[0].snapshot);
  board.Detach(&s);
}

TEST(StatusBoardTest, ExpiredResumeGetsAFreshSnapshot) {
  Board board(/*history=*/4);
  board.Publish("a", 1, {});
  const int64_t seen = board.sequence();
  for (int i = 0; i < 10; ++i) board.Publish("b", i, {});
  FakeStream s;
  EXPECT_FALSE(board.Attach(&s, Filter(), seen));
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 3u);
  EXPECT_TRUE(s.received[0].snapshot);
  EXPECT_EQ(s.received[2].kind, Kind::kSnapshotComplete);
  board.Detach(&s);
  // A token from the future is not trusted either.
  FakeStream t;
  EXPECT_FALSE(board.Attach(&t, Filter(), board.sequence() + 100));
  board.Detach(&t);
}

TEST(StatusBoardTest, CloseEndsStreamsAfterTheirWrite) {
  Board board;
  board.Publish("a", 1, {});
  FakeStream idle, busy;
  board.Attach(&busy, Filter());  // first write in flight
  board.Attach(&idle, Filter());
  Drain(board, idle);
  board.Close();
  EXPECT_TRUE(idle.ended);
  EXPECT_FALSE(busy.ended);  // waits for its write
  busy.in_flight = false;
  board.WriteDone(&busy, true);
  EXPECT_TRUE(busy.ended);
  FakeStream late;
  board.Attach(&late, Filter());
  EXPECT_TRUE(late.ended);
  board.Detach(&idle);
  board.Detach(&busy);
}

TEST(StatusBoardTest, CancelAndFailedWrite) {
  Board board;
  board.Publish("a", 1, {});
  FakeStream s;
  board.Attach(&s, Filter());
  board.Cancel(&s);
  EXPECT_FALSE(s.ended);  // a write is in flight
  s.in_flight = false;
  board.WriteDone(&s, false);
  EXPECT_TRUE(s.ended);
  board.Detach(&s);
}

TEST(StatusBoardTest, ListPagesInKeyOrder) {
  Board board;
  for (const char* k : {"c", "a", "b", "d"}) board.Publish(k, 1, Team(k));
  bool more = false;
  auto page = board.List(Filter(), "", 2, &more);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].first, "a");
  EXPECT_TRUE(more);
  page = board.List(Filter(), "b", 2, &more);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[1].first, "d");
  EXPECT_FALSE(more);
  page = board.List(TeamFilter("team = \"c\""), "", 10, &more);
  ASSERT_EQ(page.size(), 1u);
}

}  // namespace
}  // namespace vla
