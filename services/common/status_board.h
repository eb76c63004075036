// StatusBoard: the latest status per key (a VLA, a KVI, an objective),
// published to any number of stream subscribers in batches (api.md,
// "Streams carry batches").
//
// Each subscriber has at most one message in flight. What changes meanwhile
// waits in the subscriber's queue of keys, not of statuses: a key already
// queued is not queued twice, and when it leaves the subscriber gets the
// key's latest status. So a slow or stalled subscriber costs at most one
// queue entry per key, never delays the others, and never makes the board's
// memory grow without bound. When a message completes, everything queued
// goes in the next one, up to a size bound: a quiet stream gets each change
// alone and at once, a busy one fewer, larger messages.
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

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
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
    Filter filter_;
    // From Attach until the marker is in a message: the keys after
    // snapshot_after_ are still to send, then the marker.
    bool in_snapshot_ = false;
    std::string snapshot_after_;
    int64_t snapshot_sequence_ = 0;
    // What the subscriber knows of a key and owes it.
    struct KeyState {
      int64_t queued = 0;    // sequence of its latest change to send; 0: none
      bool visible = false;  // delivered as matching: a removal is owed if
                             // it goes
    };
    using Keys = absl::node_hash_map<std::string, KeyState>;
    // The keys visible or queued (nodes: stable addresses for queue_).
    Keys keys_;
    // The keys with `queued` set, in no order.
    std::vector<typename Keys::value_type*> queue_;
    bool writing_ = false;
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
        e.status = std::move(u.status);
        e.attrs = std::move(u.attrs);
        e.removed = false;
        Changed(it->first, e);
        for (Subscriber* s : subscribers_) {
          if (Matches(*s, e) || Visible(*s, it->first)) {
            Enqueue(s, it->first, e.sequence);
          }
        }
      }
      actions.reserve(subscribers_.size());
      for (Subscriber* s : subscribers_) Pump(s, &actions);
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
      Entry& e = it->second;
      e.removed = true;
      e.status = Status();
      e.attrs.clear();
      Changed(key, e);
      for (Subscriber* s : subscribers_) {
        if (Visible(*s, key)) {
          Enqueue(s, key, e.sequence);
          Pump(s, &actions);
        }
      }
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
  // kept, queues only what changed after it (each key once: its latest
  // status, or a removal if it was removed or no longer matches) and
  // returns true; otherwise queues a snapshot of every matching key and the
  // snapshot_complete marker and returns false. After Close(), finishes `s`
  // at once.
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
          for (const auto& [key, entry] : entries_) {
            if (entry.sequence > resume_after) {
              // The client may have seen it: a status or a removal.
              auto node = s->keys_.try_emplace(key).first;
              node->second = {entry.sequence, true};
              s->queue_.push_back(&*node);
            } else if (!entry.removed && Matches(*s, entry)) {
              // Delivered before the resume point.
              s->keys_[key].visible = true;
            }
          }
        } else {
          s->in_snapshot_ = true;
          s->snapshot_sequence_ = sequence_;
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

  // Changes not queued because the subscriber still had the key queued (or
  // still to send in its snapshot): it gets the latest status once instead.
  // Summed over subscribers.
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

  // Gives `e` (the entry of `key`) the next sequence and records it.
  void Changed(const std::string& key, Entry& e) {
    e.sequence = ++sequence_;
    e.ResetItems();
    history_.emplace_back(sequence_, key);
    while (history_.size() > options_.history) {
      auto& [sequence, old_key] = history_.front();
      history_start_ = sequence;
      // A removal that no resumable stream can need any more.
      auto it = entries_.find(old_key);
      if (it != entries_.end() && it->second.removed &&
          it->second.sequence == sequence) {
        entries_.erase(it);
      }
      history_.pop_front();
    }
  }

  static bool Visible(const Subscriber& s, const std::string& key) {
    auto it = s.keys_.find(key);
    return it != s.keys_.end() && it->second.visible;
  }

  // Queues a change of `key` (at `sequence`) for `s`; Pump sends it.
  void Enqueue(Subscriber* s, const std::string& key, int64_t sequence) {
    if (s->in_snapshot_ && key > s->snapshot_after_) {
      // Still to send in the snapshot, which will carry its latest status.
      ++coalesced_;
      return;
    }
    auto node = s->keys_.try_emplace(key).first;
    if (node->second.queued != 0) {
      ++coalesced_;  // one entry, which now sorts as this change
    } else {
      s->queue_.push_back(&*node);
    }
    node->second.queued = sequence;
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
  // the marker, then its queued keys, oldest change first, up to the size
  // bound. Empty when there is nothing to send.
  Batch NextBatch(Subscriber* s) {
    Batch batch;
    batch.reserve(
        s->queue_.size() +
        (s->in_snapshot_ ? std::min<size_t>(entries_.size() + 1, 1024) : 0));
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
          s->keys_[it->first].visible = true;
        }
        s->snapshot_after_ = it->first;
      }
      if (!add(Marker(s->snapshot_sequence_))) return batch;
      s->in_snapshot_ = false;
      std::string().swap(s->snapshot_after_);
    }
    // Oldest change first: sequences only go up across messages.
    std::sort(s->queue_.begin(), s->queue_.end(),
              [](const auto* a, const auto* b) {
                return a->second.queued < b->second.queued;
              });
    size_t taken = 0;
    for (; taken < s->queue_.size(); ++taken) {
      auto* node = s->queue_[taken];
      const std::string& key = node->first;
      typename Subscriber::KeyState& state = node->second;
      auto it = entries_.find(key);
      Entry* e = it == entries_.end() ? nullptr : &it->second;
      if (e != nullptr && Matches(*s, *e)) {
        if (!add(Cached(e->live, key, *e, false, false))) break;
        state.visible = true;
      } else if (state.visible) {
        // Removed, or no longer matching: a removal.
        std::optional<Built> pruned;  // the removal was forgotten: rebuild
        if (e == nullptr) {
          Event event;
          event.kind = Event::Kind::kRemoved;
          event.key = key;
          event.sequence = state.queued;
          pruned = BuildItem(event);
        }
        const Built& b = e == nullptr ? *pruned
                         : e->removed ? Cached(e->live, key, *e, false, true)
                                      : Cached(e->left, key, *e, false, true);
        if (!add(b)) break;
        state.visible = false;
      }
      // else: never delivered and not matching now: nothing to tell.
      state.queued = 0;
      if (!state.visible) s->keys_.erase(s->keys_.find(key));  // the node
    }
    s->queue_.erase(s->queue_.begin(), s->queue_.begin() + taken);
    return batch;
  }

  // Hands the subscriber its next message unless one is in flight, or ends
  // it when it is due to end; the action goes to `actions`.
  void Pump(Subscriber* s, Actions* actions) {
    if (closed_ || s->cancelled_) {
      MaybeEnd(s, actions);
      return;
    }
    if (s->writing_) return;
    Batch batch = NextBatch(s);
    if (batch.empty()) return;
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
  absl::flat_hash_set<Subscriber*> subscribers_;
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
