// StatusBoard: snapshot, marker, batches (one message in flight, coalescing
// per key, oldest change first, the size bound), stalled subscribers,
// filters, removal, resume (after any message, also across removals and
// filter changes) and expired resume, close, shared items, callbacks without
// the lock, concurrent use.
#include "services/common/status_board.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vla {
namespace {

using Board = StatusBoard<int>;
using Kind = Board::Event::Kind;

// A subscriber whose writes complete only when the test says so.
class FakeStream : public Board::Subscriber {
 public:
  std::vector<Board::Batch> messages;  // as delivered
  std::vector<Board::Event> received;  // their items, in order
  bool in_flight = false;
  bool ended = false;

  // The items after the snapshot_complete marker.
  std::vector<Board::Event> Live() const {
    std::vector<Board::Event> live;
    bool after = false;
    for (const Board::Event& e : received) {
      if (after) live.push_back(e);
      after = after || e.kind == Kind::kSnapshotComplete;
    }
    return live;
  }

 protected:
  void Deliver(Board::Batch batch) override {
    EXPECT_FALSE(in_flight) << "two writes in flight";
    EXPECT_FALSE(batch.empty()) << "an empty message";
    received.insert(received.end(), batch.begin(), batch.end());
    messages.push_back(std::move(batch));
    in_flight = true;
  }
  void End() override {
    EXPECT_FALSE(ended) << "ended twice";
    ended = true;
  }
};

// Completes the write in flight, if any (the next message may start).
void Complete(Board& board, FakeStream& s) {
  if (!s.in_flight) return;
  s.in_flight = false;
  board.WriteDone(&s, true);
}

// Completes writes until the stream is idle.
void Drain(Board& board, FakeStream& s) {
  while (s.in_flight) Complete(board, s);
}

FilterAttributes Team(const std::string& team) { return {{"team", {team}}}; }

Filter TeamFilter(const std::string& text) {
  static const std::vector<FilterField> fields = {
      {"team", FilterField::Type::kString, nullptr}};
  return *Filter::Parse(text, fields);
}

// Expects `events` (after a snapshot) to have strictly increasing sequences.
void ExpectSequencesGoUp(const std::vector<Board::Event>& events) {
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].sequence, events[i].sequence)
        << "item " << i << " (" << events[i].key << ") after "
        << events[i - 1].key;
  }
}

TEST(StatusBoardTest, SnapshotMarkerThenChanges) {
  Board board;
  board.Publish("a", 1, Team("x"));
  board.Publish("b", 2, Team("y"));
  FakeStream s;
  EXPECT_FALSE(board.Attach(&s, Filter()));
  Drain(board, s);
  // One message: the snapshot and its marker.
  ASSERT_EQ(s.messages.size(), 1u);
  ASSERT_EQ(s.received.size(), 3u);
  EXPECT_EQ(s.received[0].key, "a");
  EXPECT_TRUE(s.received[0].snapshot);
  EXPECT_EQ(s.received[1].status, 2);
  EXPECT_EQ(s.received[2].kind, Kind::kSnapshotComplete);
  EXPECT_EQ(s.received[2].sequence, 2);  // the snapshot's
  board.Publish("a", 10, Team("x"));
  Drain(board, s);
  ASSERT_EQ(s.messages.size(), 2u);
  ASSERT_EQ(s.received.size(), 4u);
  EXPECT_EQ(s.received[3].status, 10);
  EXPECT_FALSE(s.received[3].snapshot);
  EXPECT_EQ(s.received[3].sequence, 3);
  board.Detach(&s);
}

TEST(StatusBoardTest, QuietStreamGetsEachChangeAloneAndAtOnce) {
  Board board;
  FakeStream s;
  board.Attach(&s, Filter());
  Drain(board, s);
  for (int i = 1; i <= 5; ++i) {
    board.Publish(absl::StrCat("k", i % 2), i, {});
    // Delivered within Publish: nothing waits for a timer or for more.
    ASSERT_TRUE(s.in_flight) << i;
    ASSERT_EQ(s.messages.back().size(), 1u) << i;
    EXPECT_EQ(s.messages.back()[0].status, i);
    Complete(board, s);
  }
  EXPECT_EQ(s.messages.size(), 1u + 5u);
  EXPECT_EQ(board.coalesced_count(), 0);
  board.Detach(&s);
}

// The bug this board had: a key coalesced into an entry already queued kept
// that entry's place, so a stream could deliver sequence 701 (a key changed
// twice) before 652 (another key changed in between); a client that resumed
// after 701 never got 652. Now a queued key moves to its latest change.
TEST(StatusBoardTest, BatchesNeverReorderChanges) {
  Board board;
  FakeStream s;
  board.Attach(&s, Filter());
  Drain(board, s);
  board.Publish("x", 1, {});  // in flight
  ASSERT_TRUE(s.in_flight);
  // Twenty keys queued in order, then the first ten change again: they now
  // come after the other ten.
  for (int i = 0; i < 20; ++i) board.Publish(absl::StrCat("k", i), 1, {});
  for (int i = 0; i < 10; ++i) board.Publish(absl::StrCat("k", i), 2, {});
  Complete(board, s);
  ASSERT_EQ(s.messages.size(), 3u);
  const Board::Batch& batch = s.messages.back();
  ASSERT_EQ(batch.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(batch[i].key, absl::StrCat("k", (i + 10) % 20)) << i;
    EXPECT_EQ(batch[i].status, i < 10 ? 1 : 2) << i;
  }
  ExpectSequencesGoUp(s.Live());
  board.Detach(&s);
}

TEST(StatusBoardTest, SlowReaderGetsCoalescedBatchesOfLatestStatuses) {
  Board board;
  FakeStream slow;
  board.Attach(&slow, Filter());
  Drain(board, slow);
  std::map<std::string, int> latest;
  for (int i = 1; i <= 1000; ++i) {
    const std::string key = absl::StrCat("k", (i * 7) % 13);
    board.Publish(key, i, {});
    latest[key] = i;
    if (i % 50 == 0) Complete(board, slow);  // reads now and then
  }
  Drain(board, slow);
  // A message per read, not per change; each key at most once per message.
  EXPECT_LE(slow.messages.size(), 1u + 21u);
  for (const Board::Batch& batch : slow.messages) {
    std::set<std::string> keys;
    for (const Board::Event& e : batch) {
      EXPECT_TRUE(keys.insert(e.key).second) << e.key << " twice";
    }
  }
  ExpectSequencesGoUp(slow.Live());
  // The last status of every key arrived.
  std::map<std::string, int> seen;
  for (const Board::Event& e : slow.Live()) seen[e.key] = e.status;
  EXPECT_EQ(seen, latest);
  EXPECT_EQ(board.coalesced_count(),
            1000 - static_cast<int64_t>(slow.Live().size()));
  board.Detach(&slow);
}

TEST(StatusBoardTest, SnapshotBiggerThanAMessageArrivesWholeBeforeItsMarker) {
  Board board(StatusBoardOptions{.max_batch_size = 3});
  for (int i = 0; i < 10; ++i) board.Publish(absl::StrCat("k", i), i, {});
  FakeStream s;
  board.Attach(&s, Filter());
  ASSERT_TRUE(s.in_flight);  // k0 k1 k2
  // Changes while the snapshot is on its way: to a key already sent (after
  // the marker), to one still to send (in the snapshot, latest status), a
  // new key (in the snapshot, by key order).
  board.Publish("k1", 100, {});
  board.Publish("k8", 800, {});
  board.Publish("k55", 55, {});
  Drain(board, s);
  for (const Board::Batch& batch : s.messages) EXPECT_LE(batch.size(), 3u);
  std::vector<std::string> snapshot;
  size_t marker = 0;
  for (size_t i = 0; i < s.received.size(); ++i) {
    const Board::Event& e = s.received[i];
    if (e.kind == Kind::kSnapshotComplete) {
      marker = i;
      EXPECT_EQ(e.sequence, 10);  // when the snapshot was taken
      break;
    }
    EXPECT_TRUE(e.snapshot);
    snapshot.push_back(e.key);
    if (e.key == "k8") {
      EXPECT_EQ(e.status, 800);
    }
    if (e.key == "k1") {
      EXPECT_EQ(e.status, 1);
    }
  }
  EXPECT_EQ(snapshot,
            (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4", "k5", "k55",
                                      "k6", "k7", "k8", "k9"}));
  ASSERT_EQ(s.received.size(), marker + 2);
  EXPECT_EQ(s.received.back().key, "k1");
  EXPECT_EQ(s.received.back().status, 100);
  EXPECT_FALSE(s.received.back().snapshot);
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
  EXPECT_EQ(fast.messages.size(), 1u + 1000u);  // each alone
  EXPECT_EQ(stalled.received.size(), 1u);       // still on the marker
  // When it wakes up it gets each key once, with its latest status, in one
  // message.
  Drain(board, stalled);
  ASSERT_EQ(stalled.messages.size(), 2u);
  ASSERT_EQ(stalled.received.size(), 1u + 10u);
  for (size_t i = 1; i < stalled.received.size(); ++i) {
    const int key = std::stoi(stalled.received[i].key.substr(1));
    EXPECT_EQ(stalled.received[i].status, 990 + key);
  }
  // What the metrics report: 990 updates folded into the 10 queued keys,
  // and every event and message handed out.
  EXPECT_EQ(board.coalesced_count(), 990);
  EXPECT_EQ(board.delivered_count(), 1001 + 11);
  EXPECT_EQ(board.message_count(), 1001 + 2);
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
  EXPECT_EQ(s.received[2].sequence, 4);
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
  ExpectSequencesGoUp(s.Live());
  EXPECT_FALSE(board.Get("c").has_value());
  EXPECT_EQ(board.Keys(), (std::vector<std::string>{"a", "b"}));
  board.Detach(&s);
}

TEST(StatusBoardTest, ResumeGetsWhatWasMissed) {
  Board board;
  board.Publish("a", 1, {});
  board.Publish("b", 1, {});
  board.Publish("gone", 1, {});
  const int64_t seen = board.sequence();
  board.Publish("a", 2, {});
  board.Publish("c", 1, {});
  board.Remove("gone");
  board.Publish("a", 3, {});
  FakeStream s;
  EXPECT_TRUE(board.Attach(&s, Filter(), seen));
  Drain(board, s);
  // Each changed key once, in the order of its last change; no snapshot; a
  // removal too.
  ASSERT_EQ(s.messages.size(), 1u);
  ASSERT_EQ(s.received.size(), 3u);
  EXPECT_EQ(s.received[0].key, "c");
  EXPECT_EQ(s.received[1].key, "gone");
  EXPECT_EQ(s.received[1].kind, Kind::kRemoved);
  EXPECT_EQ(s.received[2].key, "a");
  EXPECT_EQ(s.received[2].status, 3);
  EXPECT_FALSE(s.received[0].snapshot);
  ExpectSequencesGoUp(s.received);
  // Keys delivered before the resume point count as seen: their removal
  // reaches the resumed stream.
  board.Remove("b");
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(s.received.back().key, "b");
  EXPECT_EQ(s.received.back().kind, Kind::kRemoved);
  board.Detach(&s);
}

// The contract behind resume tokens: a client that reads every message
// delivered so far, then disconnects and resumes after the last item it
// got, ends up with exactly the board's current statuses, whatever was
// published, removed, filtered or coalesced before (including during the
// snapshot). Random histories with a small size bound, so that messages
// split, checked after every step.
TEST(StatusBoardTest, ResumeAfterAnyMessageMissesNothing) {
  std::mt19937 random(2026);
  int resumes = 0;
  for (int round = 0; round < 40; ++round) {
    // Every fourth round keeps a history shorter than the number of keys:
    // removals are forgotten before the stream takes them, and resuming
    // often needs a fresh snapshot.
    Board board(StatusBoardOptions{
        .history = round % 4 == 3 ? size_t{6} : size_t{65536},
        .max_batch_size = static_cast<size_t>(1 + round % 3)});
    const Filter filter = TeamFilter("team = \"x\"");
    auto random_change = [&](int i) {
      const std::string key = absl::StrCat("k", random() % 8);
      if (random() % 6 == 0) {
        board.Remove(key);
      } else {
        board.Publish(key, i, Team(random() % 3 == 0 ? "y" : "x"));
      }
    };
    // What the client knows from the messages delivered so far, and the
    // token it holds (none before the marker).
    auto known = [](const FakeStream& s, std::map<std::string, int>* view) {
      int64_t token = -1;
      bool complete = false;
      for (const Board::Batch& batch : s.messages) {
        for (const Board::Event& e : batch) {
          complete = complete || e.kind == Kind::kSnapshotComplete;
          if (e.kind == Kind::kRemoved) view->erase(e.key);
          if (e.kind == Kind::kStatus) (*view)[e.key] = e.status;
        }
        if (complete) token = batch.back().sequence;
      }
      return token;
    };
    auto current = [&] {
      bool more = false;
      std::map<std::string, int> statuses;
      for (auto& [key, status] : board.List(filter, "", 100, &more)) {
        statuses[key] = status;
      }
      return statuses;
    };
    for (int i = 0; i < 6; ++i) random_change(-i);
    FakeStream s;
    board.Attach(&s, filter);
    for (int i = 1; i <= 60; ++i) {
      random_change(i);
      if (random() % 3 == 0) Complete(board, s);
      std::map<std::string, int> view;
      const int64_t token = known(s, &view);
      if (token < 0) continue;
      FakeStream resumed;
      const bool was_resumed = board.Attach(&resumed, filter, token);
      if (!was_resumed) {
        ASSERT_EQ(round % 4, 3) << "history forgotten at step " << i;
        view.clear();  // a fresh snapshot follows
      }
      Drain(board, resumed);
      for (const Board::Event& e : resumed.received) {
        if (e.kind == Kind::kRemoved) view.erase(e.key);
        if (e.kind == Kind::kStatus) view[e.key] = e.status;
      }
      ASSERT_EQ(view, current())
          << "round " << round << ", step " << i << ", token " << token;
      ExpectSequencesGoUp(was_resumed ? resumed.received : resumed.Live());
      board.Detach(&resumed);
      if (was_resumed) ++resumes;
    }
    Drain(board, s);
    ExpectSequencesGoUp(s.Live());
    std::map<std::string, int> view;
    known(s, &view);
    EXPECT_EQ(view, current()) << "round " << round;
    board.Detach(&s);
  }
  EXPECT_GT(resumes, 1000);
}

// A stream that stalls while a key it saw is removed, and the history then
// forgets that removal, still gets it (in sequence order), also when the
// key comes back.
TEST(StatusBoardTest, StalledStreamGetsARemovalTheHistoryForgot) {
  Board board(StatusBoardOptions{.history = 4});
  board.Publish("a", 1, {});
  board.Publish("b", 1, {});
  FakeStream s;
  board.Attach(&s, Filter());
  Drain(board, s);
  ASSERT_EQ(s.received.size(), 3u);  // a, b, marker
  board.Publish("x", 1, {});         // sent at once: s now busy
  ASSERT_TRUE(s.in_flight);
  board.Remove("a");                                        // sequence 4
  for (int i = 2; i <= 11; ++i) board.Publish("b", i, {});  // 5..14
  board.Publish("a", 7, {});                                // 15
  FakeStream late;  // attached now: never saw the first "a"
  board.Attach(&late, Filter());
  Drain(board, late);
  Drain(board, s);
  ASSERT_EQ(s.messages.size(), 3u);
  ASSERT_EQ(s.received.size(), 7u);
  EXPECT_EQ(s.received[4].kind, Kind::kRemoved);
  EXPECT_EQ(s.received[4].key, "a");
  EXPECT_EQ(s.received[4].sequence, 4);
  EXPECT_EQ(s.received[5].key, "b");
  EXPECT_EQ(s.received[5].status, 11);
  EXPECT_EQ(s.received[6].key, "a");
  EXPECT_EQ(s.received[6].status, 7);
  EXPECT_EQ(s.received[6].sequence, 15);
  ExpectSequencesGoUp(s.Live());
  for (const Board::Event& e : late.received) {
    EXPECT_NE(e.kind, Kind::kRemoved) << e.key;
  }
  board.Detach(&late);
  board.Detach(&s);
}

TEST(StatusBoardTest, ExpiredResumeGetsAFreshSnapshot) {
  Board board(StatusBoardOptions{.history = 4});
  board.Publish("a", 1, {});
  board.Publish("gone", 1, {});
  board.Remove("gone");
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

TEST(StatusBoardTest, RefreshReplacesAStatusWithoutAnEvent) {
  Board board;
  board.Publish("a", 1, Team("x"));
  FakeStream s;
  board.Attach(&s, Filter());
  Drain(board, s);
  const int64_t sequence = board.sequence();
  EXPECT_TRUE(board.Refresh("a", 2));
  EXPECT_FALSE(board.Refresh("nope", 2));
  EXPECT_FALSE(s.in_flight);  // no event
  EXPECT_EQ(board.sequence(), sequence);
  EXPECT_EQ(board.Get("a"), 2);
  bool more = false;
  EXPECT_EQ(board.List(TeamFilter("team = \"x\""), "", 10, &more).size(), 1u);
  // A snapshot taken now carries it.
  FakeStream late;
  board.Attach(&late, Filter());
  ASSERT_FALSE(late.received.empty());
  EXPECT_EQ(late.received[0].status, 2);
  board.Detach(&s);
  board.Detach(&late);
}

TEST(StatusBoardTest, ItemsAreBuiltOncePerChangeAndShared) {
  // Items of another type than the events, as the services' encodings.
  using Text = std::shared_ptr<const std::string>;
  using TextBoard = StatusBoard<int, Text>;
  class TextStream : public TextBoard::Subscriber {
   public:
    std::vector<Text> items;

   protected:
    void Deliver(TextBoard::Batch batch) override {
      items.insert(items.end(), batch.begin(), batch.end());
    }
    void End() override {}
  };
  TextBoard board([](const TextBoard::Event& e, Text* out) -> size_t {
    *out = std::make_shared<const std::string>(
        e.kind == TextBoard::Event::Kind::kSnapshotComplete
            ? "complete"
            : absl::StrCat(e.key, "=", e.status, e.snapshot ? " (s)" : ""));
    return (*out)->size();
  });
  board.Publish("a", 1, {});
  TextStream s1, s2, s3;
  for (TextStream* s : {&s1, &s2, &s3}) {
    board.Attach(s, Filter());
    board.WriteDone(s, true);  // completes the snapshot's message
  }
  ASSERT_EQ(s1.items.size(), 2u);
  EXPECT_EQ(*s1.items[0], "a=1 (s)");
  EXPECT_EQ(*s1.items[1], "complete");
  // One snapshot item and one marker, shared by the three.
  EXPECT_EQ(board.built_count(), 2);
  EXPECT_EQ(s2.items[0].get(), s1.items[0].get());
  EXPECT_EQ(s3.items[1].get(), s1.items[1].get());
  board.Publish("a", 2, {});
  ASSERT_EQ(s3.items.size(), 3u);
  EXPECT_EQ(*s3.items[2], "a=2");
  EXPECT_EQ(s1.items[2].get(), s3.items[2].get());
  EXPECT_EQ(board.built_count(), 3);
  for (TextStream* s : {&s1, &s2, &s3}) board.Detach(s);
}

TEST(StatusBoardTest, EachBoardHasItsOwnEpoch) {
  Board a, b;
  EXPECT_NE(a.epoch(), b.epoch());
}

// A stream whose writes complete inside Deliver: the board must not hold its
// lock around callbacks.
class InlineStream : public Board::Subscriber {
 public:
  explicit InlineStream(Board* board) : board_(board) {}
  std::vector<Board::Event> received;
  bool ended = false;

 protected:
  void Deliver(Board::Batch batch) override {
    received.insert(received.end(), batch.begin(), batch.end());
    board_->WriteDone(this, true);
  }
  void End() override { ended = true; }

 private:
  Board* board_;
};

TEST(StatusBoardTest, CallbacksRunWithoutTheLock) {
  Board board;
  board.Publish("a", 1, {});
  InlineStream s(&board);
  board.Attach(&s, Filter());
  board.Publish("a", 2, {});
  ASSERT_EQ(s.received.size(), 3u);
  EXPECT_EQ(s.received[2].status, 2);
  EXPECT_EQ(board.subscriber_count(), 1u);  // a callback may call the board
  board.Close();
  EXPECT_TRUE(s.ended);
  board.Detach(&s);
}

// A stream whose writes complete on a thread of its own, like gRPC's.
class ThreadedStream : public Board::Subscriber {
 public:
  explicit ThreadedStream(Board* board) : board_(board) {
    completer_ = std::thread([this] { Complete(); });
  }
  ~ThreadedStream() override { completer_.join(); }
  int last(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return last_[key];
  }
  // Sequences of the items after the marker, in order.
  std::vector<int64_t> sequences() {
    std::lock_guard<std::mutex> lock(mu_);
    return sequences_;
  }

 protected:
  void Deliver(Board::Batch batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(in_flight_) << "two writes in flight";
    EXPECT_FALSE(ended_) << "a write after the end";
    in_flight_ = true;
    for (const Board::Event& e : batch) {
      if (e.kind == Kind::kStatus) last_[e.key] = e.status;
      if (live_) sequences_.push_back(e.sequence);
      live_ = live_ || e.kind == Kind::kSnapshotComplete;
    }
    cv_.notify_all();
  }
  void End() override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(in_flight_) << "ended with a write in flight";
    ended_ = true;
    cv_.notify_all();
  }

 private:
  void Complete() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return in_flight_ || ended_; });
      if (ended_) return;
      in_flight_ = false;
      lock.unlock();
      board_->WriteDone(this, true);
      lock.lock();
    }
  }

  Board* board_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool in_flight_ = false;
  bool ended_ = false;
  bool live_ = false;
  std::map<std::string, int> last_;
  std::vector<int64_t> sequences_;
  std::thread completer_;
};

TEST(StatusBoardTest, ConcurrentPublishersAndStreams) {
  Board board(StatusBoardOptions{.max_batch_size = 3});
  std::vector<std::unique_ptr<ThreadedStream>> streams;
  for (int i = 0; i < 8; ++i) {
    streams.push_back(std::make_unique<ThreadedStream>(&board));
    board.Attach(streams.back().get(), Filter());
  }
  std::vector<std::thread> publishers;
  for (int t = 0; t < 4; ++t) {
    publishers.emplace_back([&board, t] {
      for (int i = 1; i <= 2000; ++i) {
        board.Publish(absl::StrCat("k", t), i, {});
      }
    });
  }
  for (auto& p : publishers) p.join();
  // Every stream ends up with each key's last status, sequences going up.
  for (auto& s : streams) {
    for (int t = 0; t < 4; ++t) {
      const std::string key = absl::StrCat("k", t);
      for (int tries = 0; tries < 2000 && s->last(key) != 2000; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      EXPECT_EQ(s->last(key), 2000) << key;
    }
    const std::vector<int64_t> sequences = s->sequences();
    EXPECT_TRUE(std::is_sorted(sequences.begin(), sequences.end()));
    EXPECT_EQ(std::adjacent_find(sequences.begin(), sequences.end()),
              sequences.end());
  }
  board.Close();  // ends each stream after its write in flight
  for (auto& s : streams) board.Detach(s.get());
  streams.clear();  // joins the completers, which stop at the end
}

}  // namespace
}  // namespace vla
