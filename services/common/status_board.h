// StatusBoard: the latest status per key (a VLA, an objective), published to
// any number of stream subscribers. Each subscriber has a queue of keys, not
// of statuses: a key already queued is not queued twice, and when its turn
// comes the subscriber gets the key's latest status. So a slow or stalled
// subscriber costs at most one queue entry per key, never delays the others,
// and never makes the board's memory grow without bound.
//
// What a subscriber writes is a Message built from an Event by the board's
// builder (e.g. the service's event proto with its resume token). A status
// event is the same for every subscriber, so its message is built once per
// publication (and once more for the snapshot variant) and shared: a
// subscriber gets a shared_ptr to it and writes it as is.
//
// A subscriber is a stream reactor deriving from StatusBoard::Subscriber.
// The board calls Deliver() when an event is ready and the subscriber has no
// write in flight; the subscriber starts the write and calls WriteDone() when
// it completes. The board calls Deliver() and End() without its lock held
// (so many streams' writes do not serialize on it), but never two of them at
// once for one subscriber, and End() only with no write in flight.
#ifndef VLA_SERVICES_COMMON_STATUS_BOARD_H_
#define VLA_SERVICES_COMMON_STATUS_BOARD_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "services/common/filter.h"

namespace vla {

// Filter field values of a status: field name -> its values (see Filter).
using FilterAttributes =
    std::map<std::string, std::vector<std::string>, std::less<>>;

// One event of a board's stream, before it becomes a Message.
template <typename Status>
struct BoardEvent {
  enum class Kind { kStatus, kRemoved, kSnapshotComplete };
  Kind kind = Kind::kStatus;
  std::string key;
  Status status;          // kStatus: the latest status of key
  int64_t sequence = 0;   // board sequence of this status (or marker)
  bool snapshot = false;  // part of the initial snapshot
};

template <typename Status, typename Message = BoardEvent<Status>>
class StatusBoard {
 public:
  using Event = BoardEvent<Status>;
  using MessagePtr = std::shared_ptr<const Message>;
  // Fills `out` (default-constructed) for `event`. Called with the board's
  // lock held: must not call back into the board.
  using Builder = std::function<void(const Event& event, Message* out)>;

  class Subscriber {
   public:
    virtual ~Subscriber() = default;

   protected:
    // Starts writing `message` (shared with other subscribers: not to be
    // changed).
    virtual void Deliver(MessagePtr message) = 0;
    // Finish the stream now (no write is in flight): the board is closing,
    // the client cancelled, or a write failed. Called once.
    virtual void End() = 0;

   private:
    friend class StatusBoard;
    struct Pending {
      std::string key;  // empty: the snapshot_complete marker
      bool snapshot = false;
    };
    Filter filter_;
    std::deque<Pending> pending_;
    absl::flat_hash_set<std::string> queued_;
    absl::flat_hash_set<std::string> visible_;  // keys delivered as matching
    bool writing_ = false;
    bool cancelled_ = false;
    bool ended_ = false;
  };

  // Messages built by `builder`; keeps the keys of the last `history`
  // publications for resuming.
  explicit StatusBoard(Builder builder, size_t history = 65536)
      : builder_(std::move(builder)),
        epoch_(RandomEpoch()),
        history_limit_(history) {}
  // A board whose messages are its events.
  explicit StatusBoard(
      size_t history = 65536) requires std::is_same_v<Message, Event>
      : StatusBoard([](const Event& e, Message* out) { *out = e; }, history) {}

  // Sets the latest status of `key`.
  void Publish(const std::string& key, Status status, FilterAttributes attrs) {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Entry& e = entries_[key];
      e.status = std::move(status);
      e.attrs = std::move(attrs);
      e.sequence = ++sequence_;
      e.message.reset();
      e.snapshot_message.reset();
      Record(key);
      actions.reserve(subscribers_.size());
      for (Subscriber* s : subscribers_) {
        if (Matches(*s, e) || s->visible_.contains(key)) {
          Enqueue(s, key, false, &actions);
        }
      }
    }
    Run(actions);
  }

  // Forgets `key`; subscribers that saw it get a removal.
  void Remove(const std::string& key) {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (entries_.erase(key) == 0) return;
      ++sequence_;
      Record(key);
      for (Subscriber* s : subscribers_) {
        if (s->visible_.contains(key)) Enqueue(s, key, false, &actions);
      }
    }
    Run(actions);
  }

  std::optional<Status> Get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second.status;
  }

  // f(latest status of `key`, or null) under the board's lock, without a
  // copy; `f` must not call back into the board.
  template <typename F>
  auto Inspect(const std::string& key, F f) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    return f(it == entries_.end() ? nullptr : &it->second.status);
  }

  // Every key, in order.
  std::vector<std::string> Keys() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> keys;
    keys.reserve(entries_.size());
    for (const auto& [key, entry] : entries_) keys.push_back(key);
    return keys;
  }

  // Statuses matching `filter` with key > `after`, in key order, at most
  // `limit`; `*more` tells whether others follow.
  std::vector<std::pair<std::string, Status>> List(const Filter& filter,
                                                   const std::string& after,
                                                   int limit,
                                                   bool* more) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, Status>> out;
    *more = false;
    for (auto it = entries_.upper_bound(after); it != entries_.end(); ++it) {
      if (!MatchesAttrs(filter, it->second.attrs)) continue;
      if (static_cast<int>(out.size()) == limit) {
        *more = true;
        break;
      }
      out.emplace_back(it->first, it->second.status);
    }
    return out;
  }

  // Random, drawn per board: sequences (which start over with each board,
  // i.e. each run of the server) are comparable only within one epoch.
  uint64_t epoch() const { return epoch_; }

  int64_t sequence() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sequence_;
  }

  // Attaches `s`. With `resume_after` >= 0 and the history since then still
  // kept, queues only the keys changed after it and returns true; otherwise
  // queues a snapshot of every matching key and the snapshot_complete marker
  // and returns false. After Close(), finishes `s` at once.
  bool Attach(Subscriber* s, Filter filter, int64_t resume_after = -1) {
    Actions actions;
    bool resumed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s->filter_ = std::move(filter);
      if (closed_) {
        MaybeEnd(s, &actions);
      } else {
        subscribers_.insert(s);
        resumed = resume_after >= 0 && resume_after <= sequence_ &&
                  (resume_after >= history_start_ || history_.empty() ||
                   resume_after == sequence_);
        if (resumed) {
          // Each key changed since then, once, in the order of its last
          // change.
          std::map<int64_t, std::string> changed;
          for (const auto& [key, entry] : entries_) {
            if (entry.sequence > resume_after && Matches(*s, entry)) {
              changed.emplace(entry.sequence, key);
            }
          }
          for (const auto& [seq, key] : changed) {
            Enqueue(s, key, false, &actions);
          }
        } else {
          for (const auto& [key, entry] : entries_) {
            if (Matches(*s, entry)) Enqueue(s, key, true, &actions);
          }
          s->pending_.push_back({std::string(), true});  // the marker
          Pump(s, &actions);
        }
      }
    }
    Run(actions);
    return resumed;
  }

  // Detaches `s` (from its OnDone); no callback reaches it afterwards.
  void Detach(Subscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(s);
  }

  // The subscriber's write completed; delivers its next event, if any. A
  // failed write (`ok` false) ends the stream.
  void WriteDone(Subscriber* s, bool ok) {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s->writing_ = false;
      if (!ok) s->cancelled_ = true;
      Pump(s, &actions);
    }
    Run(actions);
  }

  // The client cancelled: ends the stream once no write is in flight.
  void Cancel(Subscriber* s) {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      s->cancelled_ = true;
      Pump(s, &actions);
    }
    Run(actions);
  }

  // Finishes every subscriber (after its write in flight) and refuses new
  // ones.
  void Close() {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      for (Subscriber* s : subscribers_) Pump(s, &actions);
    }
    Run(actions);
  }

  size_t subscriber_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return subscribers_.size();
  }

  // Updates not queued because the subscriber still had the key queued (it
  // gets the latest status once instead), summed over subscribers.
  int64_t coalesced_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return coalesced_;
  }

  // Events handed to subscribers, summed over subscribers.
  int64_t delivered_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

  // Messages built (each shared by every subscriber it went to).
  int64_t built_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return built_;
  }

 private:
  struct Entry {
    Status status;
    FilterAttributes attrs;
    int64_t sequence = 0;
    // Built on first delivery; reset by each publication.
    MessagePtr message;
    MessagePtr snapshot_message;
  };

  // What to do for a subscriber once the lock is released: deliver
  // `message`, or (null) end the stream.
  struct Action {
    Subscriber* subscriber;
    MessagePtr message;
  };
  using Actions = std::vector<Action>;

  static void Run(Actions& actions) {
    for (Action& a : actions) {
      // Neither call may touch `a.subscriber` after it returns: its write
      // may already be done and the stream gone.
      if (a.message != nullptr) {
        a.subscriber->Deliver(std::move(a.message));
      } else {
        a.subscriber->End();
      }
    }
  }

  static uint64_t RandomEpoch() {
    std::random_device random;
    return (static_cast<uint64_t>(random()) << 32) ^ random();
  }

  static bool MatchesAttrs(const Filter& f, const FilterAttributes& attrs) {
    if (f.empty()) return true;
    return f.MatchesSpans([&](absl::string_view field) {
      auto it = attrs.find(field);
      return it == attrs.end() ? absl::Span<const std::string>()
                               : absl::Span<const std::string>(it->second);
    });
  }
  static bool Matches(const Subscriber& s, const Entry& e) {
    return MatchesAttrs(s.filter_, e.attrs);
  }

  void Record(const std::string& key) {
    history_.emplace_back(sequence_, key);
    while (history_.size() > history_limit_) {
      history_start_ = history_.front().first;
      history_.pop_front();
    }
  }

  void Enqueue(Subscriber* s, const std::string& key, bool snapshot,
               Actions* actions) {
    if (!s->queued_.insert(key).second) {
      ++coalesced_;
      return;
    }
    s->pending_.push_back({key, snapshot});
    Pump(s, actions);
  }

  MessagePtr Build(const Event& event) {
    auto message = std::make_shared<Message>();
    builder_(event, message.get());
    ++built_;
    return message;
  }

  // The message for `key`'s latest status (its snapshot variant if
  // `snapshot`), built once and shared.
  MessagePtr StatusMessage(const std::string& key, Entry& entry,
                           bool snapshot) {
    MessagePtr& cached = snapshot ? entry.snapshot_message : entry.message;
    if (cached == nullptr) {
      Event event;
      event.key = key;
      event.status = entry.status;
      event.sequence = entry.sequence;
      event.snapshot = snapshot;
      cached = Build(event);
    }
    return cached;
  }

  // The snapshot_complete marker at the current sequence.
  MessagePtr MarkerMessage() {
    if (marker_ == nullptr || marker_sequence_ != sequence_) {
      Event event;
      event.kind = Event::Kind::kSnapshotComplete;
      event.sequence = sequence_;
      event.snapshot = true;
      marker_ = Build(event);
      marker_sequence_ = sequence_;
    }
    return marker_;
  }

  // Picks the subscriber's next event unless a write is in flight, or ends
  // it when it is due to end; the action goes to `actions`.
  void Pump(Subscriber* s, Actions* actions) {
    while (!s->writing_ && !closed_ && !s->cancelled_) {
      if (s->pending_.empty()) return;
      typename Subscriber::Pending p = std::move(s->pending_.front());
      s->pending_.pop_front();
      MessagePtr message;
      if (p.key.empty()) {
        message = MarkerMessage();
      } else {
        s->queued_.erase(p.key);
        auto it = entries_.find(p.key);
        if (it != entries_.end() && Matches(*s, it->second)) {
          message = StatusMessage(p.key, it->second, p.snapshot);
          s->visible_.insert(p.key);
        } else if (s->visible_.erase(p.key) > 0) {
          // Rare: built for this subscriber alone.
          Event event;
          event.kind = Event::Kind::kRemoved;
          event.key = p.key;
          event.sequence = sequence_;
          event.snapshot = p.snapshot;
          message = Build(event);
        } else {
          continue;  // never seen by this subscriber and no longer matching
        }
      }
      s->writing_ = true;
      ++delivered_;
      actions->push_back({s, std::move(message)});
      return;
    }
    MaybeEnd(s, actions);
  }

  void MaybeEnd(Subscriber* s, Actions* actions) {
    if ((closed_ || s->cancelled_) && !s->writing_ && !s->ended_) {
      s->ended_ = true;
      actions->push_back({s, nullptr});
    }
  }

  const Builder builder_;
  const uint64_t epoch_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::set<Subscriber*> subscribers_;
  std::deque<std::pair<int64_t, std::string>> history_;
  size_t history_limit_;
  int64_t history_start_ = 0;  // sequences <= this may be missing
  int64_t sequence_ = 0;
  MessagePtr marker_;
  int64_t marker_sequence_ = -1;
  int64_t coalesced_ = 0;
  int64_t delivered_ = 0;
  int64_t built_ = 0;
  bool closed_ = false;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_STATUS_BOARD_H_
