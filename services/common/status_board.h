// StatusBoard: the latest status per key (a VLA, a KVI, an objective),
// published to any number of stream subscribers in batches (api.md,
// "Streams carry batches").
//
// Each subscriber has at most one message in flight. The board keeps, for
// every key, its latest change, ordered by sequence; a subscriber keeps a
// cursor into that order. When its message completes, it takes everything
// after its cursor (each key once, with its latest status: what changed
// several times meanwhile is coalesced), up to a size bound, in the next
// message. So a slow or stalled subscriber costs a cursor and the set of
// keys it has seen, never delays the others, and never makes the board's
// memory grow without bound; and a publication only wakes the subscribers
// that are idle, whatever the number of busy ones. A quiet stream gets each
// change alone and at once, a busy one fewer, larger messages.
//
// Order. A new subscriber first gets a snapshot: every matching status, in
// key order (over as many messages as the bound needs), then the
// snapshot_complete marker. Every change has a sequence number, one higher
// than the change before it on the board; after the snapshot a subscriber's
// items go out oldest change first, so sequences only go up, within and
// across messages. Hence "everything up to the last item received" is a
// safe point to resume from: a change with a lower sequence was delivered
// before it (or coalesced into a later item of the same key), and a later
// one is still to come. The marker carries the sequence at which the
// snapshot was taken.
//
// Items. A message is a list of Items built from Events by the board's
// builder (e.g. a service's event proto, encoded once: stream_items.h). An
// item is the same for every subscriber, so it is built once per change
// (and once for its snapshot variant) and copied into each message (an
// Item should be cheap to copy: a reference-counted buffer).
//
// A subscriber is a stream deriving from StatusBoard::Subscriber. The board
// calls Deliver() when a message is ready and the subscriber has none in
// flight; the subscriber starts the write and calls WriteDone() when it
// completes. The board calls Deliver() and End() without its lock held (so
// many streams' writes do not serialize on it), but never two of them at
// once for one subscriber, and End() only with no write in flight.
#ifndef VLA_SERVICES_COMMON_STATUS_BOARD_H_
#define VLA_SERVICES_COMMON_STATUS_BOARD_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "services/common/filter.h"

namespace vla {

// Filter field values of a status: field name -> its values (see Filter).
using FilterAttributes =
    std::map<std::string, std::vector<std::string>, std::less<>>;

// One event of a board's stream, before the builder makes it an item.
template <typename Status>
struct BoardEvent {
  enum class Kind { kStatus, kRemoved, kSnapshotComplete };
  Kind kind = Kind::kStatus;
  std::string key;
  Status status;          // kStatus: the latest status of key
  int64_t sequence = 0;   // board sequence of this change (marker: of the
                          // snapshot)
  bool snapshot = false;  // part of the initial snapshot
};

struct StatusBoardOptions {
  // The keys of the last `history` changes are kept for resuming; a stream
  // resuming from before them gets a fresh snapshot.
  size_t history = 65536;
  // A message holds items up to this total size (in the builder's unit:
  // bytes for encoded items); a single bigger item goes alone.
  size_t max_batch_size = 256 << 10;
};

template <typename Status, typename Item = BoardEvent<Status>>
class StatusBoard {
 public:
  using Event = BoardEvent<Status>;
  // One stream message: items in order.
  using Batch = std::vector<Item>;
  // Fills `out` (default-constructed) for `event` and returns its size
  // toward StatusBoardOptions::max_batch_size. Called with the board's lock
  // held: must not call back into the board.
  using Builder = std::function<size_t(const Event& event, Item* out)>;
  // One change for Publish.
  struct Update {
    std::string key;
    Status status;
    FilterAttributes attrs;
  };

  class Subscriber {
   public:
    virtual ~Subscriber() = default;

   protected:
    // Starts writing one message of `batch`'s items (shared with other
    // subscribers: not to be changed).
    virtual void Deliver(Batch batch) = 0;
    // Finish the stream now (no write is in flight): the board is closing,
    // the client cancelled, or a write failed. Called once.
    virtual void End() = 0;

   private:
    friend class StatusBoard;
    // What the subscriber was sent of a key it has seen (and would be owed
    // a removal for).
    struct KeyState {
      int64_t sent = 0;     // sequence of the status last sent
      int64_t changes = 0;  // the key's change count then
    };
    Filter filter_;
    // From Attach until the marker is in a message: the keys after
    // snapshot_after_ are still to send, then the marker.
    bool in_snapshot_ = false;
    std::string snapshot_after_;
    int64_t snapshot_sequence_ = 0;
    // Changes up to this sequence have been taken.
    int64_t cursor_ = 0;
    // Keys delivered as matching.
    absl::flat_hash_map<std::string, KeyState> keys_;
    // Removals of keys it has seen whose change the board forgot (history)
    // before the subscriber took it: sequence -> key, at most one per key.
    std::map<int64_t, std::string> owed_;
    bool writing_ = false;
    bool idle_ = false;  // in the board's idle set: woken by a change
    bool cancelled_ = false;
    bool ended_ = false;
  };

  StatusBoard(Builder builder, StatusBoardOptions options)
      : builder_(std::move(builder)),
        options_(options),
        epoch_(RandomEpoch()) {}
  explicit StatusBoard(Builder builder)
      : StatusBoard(std::move(builder), StatusBoardOptions()) {}
  // A board whose items are its events, each of size 1 (so max_batch_size
  // counts items).
  explicit StatusBoard(
      StatusBoardOptions options =
          StatusBoardOptions()) requires std::is_same_v<Item, Event>
      : StatusBoard(
            [](const Event& e, Item* out) -> size_t {
              *out = e;
              return 1;
            },
            options) {}

  // Sets the latest status of each key, in order (each a change with its
  // own sequence). A subscriber idle until then gets them in one message.
  void Publish(std::vector<Update> updates) {
    if (updates.empty()) return;
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Update& u : updates) {
        auto [it, added] = entries_.try_emplace(std::move(u.key));
        Entry& e = it->second;
        const bool created = added || e.removed;
        e.status = std::move(u.status);
        e.attrs = std::move(u.attrs);
        e.removed = false;
        Changed(it);
        if (created) {
          e.created = e.sequence;
          e.changes_before = e.changes - 1;
        }
      }
      Wake(&actions);
    }
    Run(actions);
  }
  void Publish(std::string key, Status status, FilterAttributes attrs) {
    std::vector<Update> updates;
    updates.push_back({std::move(key), std::move(status), std::move(attrs)});
    Publish(std::move(updates));
  }

  // Replaces the status of `key` without an event: for changes that
  // subscribers do not care about, so that reads (Get, List) answer the
  // newest evaluation. The key keeps its sequence and filter attributes.
  // Returns false (and does nothing) if `key` is not on the board.
  bool Refresh(const std::string& key, Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.removed) return false;
    it->second.status = std::move(status);
    it->second.ResetItems();
    return true;
  }

  // Forgets `key`; subscribers that saw it get a removal. The removal is
  // kept (as a change) for streams that resume from before it.
  void Remove(const std::string& key) {
    Actions actions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(key);
      if (it == entries_.end() || it->second.removed) return;
      it->second.removed = true;
      it->second.status = Status();
      it->second.attrs.clear();
      Changed(it);
      Wake(&actions);
    }
    Run(actions);
  }

  std::optional<Status> Get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.removed) return std::nullopt;
    return it->second.status;
  }

  // f(latest status of `key`, or null) under the board's lock, without a
  // copy; `f` must not call back into the board.
  template <typename F>
  auto Inspect(const std::string& key, F f) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    return f(it == entries_.end() || it->second.removed ? nullptr
                                                        : &it->second.status);
  }

  // Every key, in order.
  std::vector<std::string> Keys() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> keys;
    keys.reserve(entries_.size());
    for (const auto& [key, entry] : entries_) {
      if (!entry.removed) keys.push_back(key);
    }
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
      if (it->second.removed || !MatchesAttrs(filter, it->second.attrs)) {
        continue;
      }
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
  // kept, sends only what changed after it (each key once: its latest
  // status, or a removal if it was removed or no longer matches) and
  // returns true; otherwise sends a snapshot of every matching key and the
  // snapshot_complete marker, then the changes, and returns false. After
  // Close(), finishes `s` at once.
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
          s->cursor_ = resume_after;
          for (const auto& [key, entry] : entries_) {
            if (entry.sequence > resume_after) {
              // The client may have seen it: it gets a status or a removal.
              s->keys_[key] = {0, entry.changes - 1};
            } else if (Matches(*s, entry)) {
              // Delivered before the resume point.
              s->keys_[key] = {entry.sequence, entry.changes};
            }
          }
        } else {
          s->in_snapshot_ = true;
          s->snapshot_sequence_ = sequence_;
          s->cursor_ = sequence_;
        }
        Pump(s, &actions);
      }
    }
    Run(actions);
    return resumed;
  }

  // Detaches `s` (from its OnDone); no callback reaches it afterwards.
  void Detach(Subscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(s);
    if (s->idle_) idle_.erase(s);
  }

  // The subscriber's write completed; delivers its next message, if any. A
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

  // Changes of a key a subscriber had seen that it got only as part of a
  // later change (it was busy meanwhile). Summed over subscribers.
  int64_t coalesced_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return coalesced_;
  }

  // Items handed to subscribers, summed over subscribers.
  int64_t delivered_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

  // Messages handed to subscribers, summed over subscribers.
  int64_t message_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

  // Items built (each shared by every subscriber it went to).
  int64_t built_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return built_;
  }

 private:
  struct Built {
    Item item;
    size_t size = 0;
  };
  struct Entry {
    Status status;
    FilterAttributes attrs;
    int64_t sequence = 0;  // of the key's latest change
    int64_t changes = 0;   // changes so far
    // The change that added the key (since it was last absent or removed),
    // and `changes` before it.
    int64_t created = 0;
    int64_t changes_before = 0;
    // A removal, kept while its change is in the history (streams resuming
    // from before it get it); not a status.
    bool removed = false;
    // Built on first use; reset by each change. `live`: the status (for a
    // removed key, the removal); `snapshot`: its snapshot variant; `left`:
    // the removal for subscribers whose filter it no longer matches.
    std::optional<Built> live, snapshot, left;

    void ResetItems() {
      live.reset();
      snapshot.reset();
      left.reset();
    }
  };
  using Entries = std::map<std::string, Entry, std::less<>>;

  // What to do for a subscriber once the lock is released: deliver a
  // message, or (`end`) end the stream.
  struct Action {
    Subscriber* subscriber;
    Batch batch;
    bool end = false;
  };
  using Actions = std::vector<Action>;

  static void Run(Actions& actions) {
    for (Action& a : actions) {
      // Neither call may touch `a.subscriber` after it returns: its write
      // may already be done and the stream gone.
      if (a.end) {
        a.subscriber->End();
      } else {
        a.subscriber->Deliver(std::move(a.batch));
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
    return !e.removed && MatchesAttrs(s.filter_, e.attrs);
  }

  // Gives the entry at `it` the next sequence and records the change.
  void Changed(typename Entries::iterator it) {
    Entry& e = it->second;
    if (e.sequence > 0) changes_.erase(e.sequence);
    e.sequence = ++sequence_;
    ++e.changes;
    e.ResetItems();
    changes_.emplace(e.sequence, it);
    history_.emplace_back(sequence_, it->first);
    while (history_.size() > options_.history) {
      auto& [sequence, key] = history_.front();
      history_start_ = sequence;
      Forget(sequence, key);
      history_.pop_front();
    }
  }

  // The change at `sequence` (of `key`) leaves the history: if it is the
  // key's removal, the key goes; subscribers that saw the key and have not
  // taken the change yet are owed the removal.
  void Forget(int64_t sequence, const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end() || !it->second.removed ||
        it->second.sequence != sequence) {
      return;
    }
    for (Subscriber* s : subscribers_) {
      if (s->cursor_ >= sequence || !s->keys_.contains(key)) continue;
      for (auto o = s->owed_.begin(); o != s->owed_.end(); ++o) {
        if (o->second == key) {
          s->owed_.erase(o);
          break;
        }
      }
      s->owed_.emplace(sequence, key);
    }
    changes_.erase(sequence);
    entries_.erase(it);
  }

  // Hands the subscribers that were idle what just changed.
  void Wake(Actions* actions) {
    std::vector<Subscriber*> idle(idle_.begin(), idle_.end());
    idle_.clear();
    for (Subscriber* s : idle) {
      s->idle_ = false;
      Pump(s, actions);
    }
  }

  Built BuildItem(const Event& event) {
    Built b;
    b.size = builder_(event, &b.item);
    ++built_;
    return b;
  }

  // `slot`, built for `key`'s entry if empty: its status (snapshot variant
  // if `snapshot`), or a removal if `removal`.
  const Built& Cached(std::optional<Built>& slot, const std::string& key,
                      const Entry& e, bool snapshot, bool removal) {
    if (!slot.has_value()) {
      Event event;
      event.kind = removal ? Event::Kind::kRemoved : Event::Kind::kStatus;
      event.key = key;
      if (!removal) event.status = e.status;
      event.sequence = e.sequence;
      event.snapshot = snapshot;
      slot = BuildItem(event);
    }
    return *slot;
  }

  // The snapshot_complete marker of a snapshot taken at `sequence`.
  const Built& Marker(int64_t sequence) {
    if (!marker_.has_value() || marker_sequence_ != sequence) {
      Event event;
      event.kind = Event::Kind::kSnapshotComplete;
      event.sequence = sequence;
      event.snapshot = true;
      marker_ = BuildItem(event);
      marker_sequence_ = sequence;
    }
    return *marker_;
  }

  // The subscriber's next message: the rest of its snapshot (key order) and
  // the marker, then the changes after its cursor, oldest first (and any
  // removal it is owed, in order), up to the size bound. Empty when there
  // is nothing to send.
  Batch NextBatch(Subscriber* s) {
    Batch batch;
    size_t size = 0;
    auto add = [&](const Built& b) {
      if (!batch.empty() && size + b.size > options_.max_batch_size) {
        return false;
      }
      batch.push_back(b.item);
      size += b.size;
      return true;
    };
    if (s->in_snapshot_) {
      for (auto it = entries_.upper_bound(s->snapshot_after_);
           it != entries_.end(); ++it) {
        Entry& e = it->second;
        if (Matches(*s, e)) {
          if (!add(Cached(e.snapshot, it->first, e, true, false))) {
            return batch;
          }
          s->keys_[it->first] = {e.sequence, e.changes};
        }
        s->snapshot_after_ = it->first;
      }
      if (!add(Marker(s->snapshot_sequence_))) return batch;
      s->in_snapshot_ = false;
      std::string().swap(s->snapshot_after_);
    }
    const int64_t start = s->cursor_;
    auto it = changes_.upper_bound(start);
    while (it != changes_.end() || !s->owed_.empty()) {
      if (!s->owed_.empty() &&
          (it == changes_.end() || s->owed_.begin()->first < it->first)) {
        // Rare: built for this subscriber alone.
        auto owed = s->owed_.begin();
        Event event;
        event.kind = Event::Kind::kRemoved;
        event.key = owed->second;
        event.sequence = owed->first;
        if (!add(BuildItem(event))) break;
        s->keys_.erase(owed->second);
        s->owed_.erase(owed);
        continue;
      }
      const int64_t sequence = it->first;
      const std::string& key = it->second->first;
      Entry& e = it->second->second;
      auto known = s->keys_.find(key);
      if (Matches(*s, e)) {
        // (Unless its snapshot already carried this change.)
        if (known == s->keys_.end() || known->second.sent < sequence) {
          if (!add(Cached(e.live, key, e, false, false))) break;
          // The changes it gets only as this one: since the one it was
          // last sent, or since the key was added after it last looked.
          if (known != s->keys_.end()) {
            coalesced_ +=
                std::max<int64_t>(0, e.changes - known->second.changes - 1);
            known->second = {sequence, e.changes};
          } else {
            if (e.created > start)
              coalesced_ += e.changes - e.changes_before - 1;
            s->keys_.emplace(
                key, typename Subscriber::KeyState{sequence, e.changes});
          }
        }
      } else if (known != s->keys_.end()) {
        // Removed, or no longer matching: a removal.
        if (!add(e.removed ? Cached(e.live, key, e, false, true)
                           : Cached(e.left, key, e, false, true))) {
          break;
        }
        s->keys_.erase(known);
      }
      // else: never delivered and not matching now: nothing to tell.
      s->cursor_ = sequence;
      ++it;
    }
    return batch;
  }

  // Hands the subscriber its next message unless one is in flight (or
  // marks it idle when there is nothing to send), or ends it when it is
  // due to end; the action goes to `actions`.
  void Pump(Subscriber* s, Actions* actions) {
    if (closed_ || s->cancelled_) {
      MaybeEnd(s, actions);
      return;
    }
    if (s->writing_) return;
    Batch batch = NextBatch(s);
    if (batch.empty()) {
      if (!s->idle_) {
        s->idle_ = true;
        idle_.insert(s);
      }
      return;
    }
    s->writing_ = true;
    delivered_ += static_cast<int64_t>(batch.size());
    ++messages_;
    actions->push_back({s, std::move(batch)});
  }

  void MaybeEnd(Subscriber* s, Actions* actions) {
    if (!s->writing_ && !s->ended_) {
      s->ended_ = true;
      actions->push_back({s, Batch(), true});
    }
  }

  const Builder builder_;
  const StatusBoardOptions options_;
  const uint64_t epoch_;
  mutable std::mutex mu_;
  Entries entries_;
  // Each key's latest change, by sequence: what subscribers take.
  std::map<int64_t, typename Entries::iterator> changes_;
  absl::flat_hash_set<Subscriber*> subscribers_;
  // Subscribers with nothing to send and no write in flight.
  absl::flat_hash_set<Subscriber*> idle_;
  // (sequence, key) of the last options_.history changes.
  std::deque<std::pair<int64_t, std::string>> history_;
  int64_t history_start_ = 0;  // changes <= this may be missing
  int64_t sequence_ = 0;
  std::optional<Built> marker_;
  int64_t marker_sequence_ = -1;
  int64_t coalesced_ = 0;
  int64_t delivered_ = 0;
  int64_t messages_ = 0;
  int64_t built_ = 0;
  bool closed_ = false;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_STATUS_BOARD_H_
