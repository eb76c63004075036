// StatusBoard: snapshot, marker, coalescing per key, stalled subscribers,
// filters, removal, resume and expired resume, close, shared messages,
// callbacks without the lock, concurrent use.
#include "services/common/status_board.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
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
  std::vector<Board::Event> received;
  std::vector<Board::MessagePtr> messages;  // as delivered
  bool in_flight = false;
  bool ended = false;

 protected:
  void Deliver(Board::MessagePtr message) override {
    EXPECT_FALSE(in_flight) << "two writes in flight";
    received.push_back(*message);
    messages.push_back(std::move(message));
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

TEST(StatusBoardTest, MessagesAreBuiltOncePerPublicationAndShared) {
  // Messages of another type than the events, as the services' protos.
  using TextBoard = StatusBoard<int, std::string>;
  class TextStream : public TextBoard::Subscriber {
   public:
    std::vector<TextBoard::MessagePtr> messages;

   protected:
    void Deliver(TextBoard::MessagePtr m) override {
      messages.push_back(std::move(m));
    }
    void End() override {}
  };
  TextBoard board([](const TextBoard::Event& e, std::string* out) {
    *out = e.kind == TextBoard::Event::Kind::kSnapshotComplete
               ? "complete"
               : absl::StrCat(e.key, "=", e.status, e.snapshot ? " (s)" : "");
  });
  board.Publish("a", 1, {});
  TextStream s1, s2, s3;
  for (TextStream* s : {&s1, &s2, &s3}) {
    board.Attach(s, Filter());
    board.WriteDone(s, true);  // completes the snapshot of "a"
    board.WriteDone(s, true);  // completes the marker
  }
  ASSERT_EQ(s1.messages.size(), 2u);
  EXPECT_EQ(*s1.messages[0], "a=1 (s)");
  EXPECT_EQ(*s1.messages[1], "complete");
  // One snapshot message and one marker, shared by the three.
  EXPECT_EQ(board.built_count(), 2);
  EXPECT_EQ(s2.messages[0].get(), s1.messages[0].get());
  EXPECT_EQ(s3.messages[1].get(), s1.messages[1].get());
  board.Publish("a", 2, {});
  ASSERT_EQ(s3.messages.size(), 3u);
  EXPECT_EQ(*s3.messages[2], "a=2");
  EXPECT_EQ(s1.messages[2].get(), s3.messages[2].get());
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
  void Deliver(Board::MessagePtr m) override {
    received.push_back(*m);
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

 protected:
  void Deliver(Board::MessagePtr m) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(in_flight_) << "two writes in flight";
    EXPECT_FALSE(ended_) << "a write after the end";
    in_flight_ = true;
    if (m->kind == Board::Event::Kind::kStatus) last_[m->key] = m->status;
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
  std::map<std::string, int> last_;
  std::thread completer_;
};

TEST(StatusBoardTest, ConcurrentPublishersAndStreams) {
  Board board;
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
  // Every stream ends up with each key's last status.
  for (auto& s : streams) {
    for (int t = 0; t < 4; ++t) {
      const std::string key = absl::StrCat("k", t);
      for (int tries = 0; tries < 2000 && s->last(key) != 2000; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      EXPECT_EQ(s->last(key), 2000) << key;
    }
  }
  board.Close();  // ends each stream after its write in flight
  for (auto& s : streams) board.Detach(s.get());
  streams.clear();  // joins the completers, which stop at the end
}

}  // namespace
}  // namespace vla
