// StatusBoard: the latest status per key (a VLA, an objective), published to
// any number of stream subscribers. Each subscriber has a queue of keys, not
// of statuses: a key already queued is not queued twice, and when its turn
// comes the subscriber gets the key's latest status. So a slow or stalled
// subscriber costs at most one queue entry per key, never delays the others,
// and never makes the board's memory grow without bound.
//
// A subscriber is a stream reactor deriving from StatusBoard::Subscriber.
// The board calls Deliver() when an event is ready and the subscriber has no
// write in flight; the subscriber writes it and calls WriteDone() when the
// write completes. All subscriber callbacks run with the board's lock held:
// they must only start a write or finish the stream.
#ifndef VLA_SERVICES_COMMON_STATUS_BOARD_H_
#define VLA_SERVICES_COMMON_STATUS_BOARD_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "services/common/filter.h"

namespace vla {

// Filter field values of a status: field name -> its values (see Filter).
using FilterAttributes = std::map<std::string, std::vector<std::string>>;

template <typename Status>
class StatusBoard {
 public:
  struct Event {
    enum class Kind { kStatus, kRemoved, kSnapshotComplete };
    Kind kind = Kind::kStatus;
    std::string key;
    Status status;          // kStatus: the latest status of key
    int64_t sequence = 0;   // board sequence of this status (or marker)
    bool snapshot = false;  // part of the initial snapshot
  };

  class Subscriber {
   public:
    virtual ~Subscriber() = default;

   protected:
    // Starts writing `event` (copy it: the reference dies on return).
    virtual void Deliver(const Event& event) = 0;
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

  // Keeps the keys of the last `history` publications for resuming.
  explicit StatusBoard(size_t history = 65536) : history_limit_(history) {}

  // Sets the latest status of `key`.
  void Publish(const std::string& key, Status status, FilterAttributes attrs) {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = entries_[key];
    e.status = std::move(status);
    e.attrs = std::move(attrs);
    e.sequence = ++sequence_;
    Record(key);
    for (Subscriber* s : subscribers_) {
      if (Matches(*s, e) || s->visible_.contains(key)) Enqueue(s, key, false);
    }
  }

  // Forgets `key`; subscribers that saw it get a removal.
  void Remove(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.erase(key) == 0) return;
    ++sequence_;
    Record(key);
    for (Subscriber* s : subscribers_) {
      if (s->visible_.contains(key)) Enqueue(s, key, false);
    }
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

  int64_t sequence() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sequence_;
  }

  // Attaches `s`. With `resume_after` >= 0 and the history since then still
  // kept, queues only the keys changed after it and returns true; otherwise
  // queues a snapshot of every matching key and the snapshot_complete marker
  // and returns false. After Close(), finishes `s` at once.
  bool Attach(Subscriber* s, Filter filter, int64_t resume_after = -1) {
    std::lock_guard<std::mutex> lock(mu_);
    s->filter_ = std::move(filter);
    if (closed_) {
      MaybeEnd(s);
      return false;
    }
    subscribers_.insert(s);
    const bool resumed = resume_after >= 0 && resume_after <= sequence_ &&
                         (resume_after >= history_start_ || history_.empty() ||
                          resume_after == sequence_);
    if (resumed) {
      // Each key changed since then, once, in the order of its last change.
      std::map<int64_t, std::string> changed;
      for (const auto& [key, entry] : entries_) {
        if (entry.sequence > resume_after && Matches(*s, entry)) {
          changed.emplace(entry.sequence, key);
        }
      }
      for (const auto& [seq, key] : changed) Enqueue(s, key, false);
      return true;
    }
    for (const auto& [key, entry] : entries_) {
      if (Matches(*s, entry)) Enqueue(s, key, true);
    }
    Enqueue(s, "", true);
    return false;
  }

  // Detaches `s` (from its OnDone); no callback reaches it afterwards.
  void Detach(Subscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    subscribers_.erase(s);
  }

  // The subscriber's write completed; delivers its next event, if any. A
  // failed write (`ok` false) ends the stream.
  void WriteDone(Subscriber* s, bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    s->writing_ = false;
    if (!ok) s->cancelled_ = true;
    Pump(s);
  }

  // The client cancelled: ends the stream once no write is in flight.
  void Cancel(Subscriber* s) {
    std::lock_guard<std::mutex> lock(mu_);
    s->cancelled_ = true;
    Pump(s);
  }

  // Finishes every subscriber (after its write in flight) and refuses new
  // ones.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (Subscriber* s : subscribers_) Pump(s);
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

 private:
  struct Entry {
    Status status;
    FilterAttributes attrs;
    int64_t sequence = 0;
  };

  static bool MatchesAttrs(const Filter& f, const FilterAttributes& attrs) {
    return f.Matches([&](absl::string_view field) {
      auto it = attrs.find(std::string(field));
      return it == attrs.end() ? std::vector<std::string>() : it->second;
    });
  }
  bool Matches(const Subscriber& s, const Entry& e) const {
    return MatchesAttrs(s.filter_, e.attrs);
  }

  void Record(const std::string& key) {
    history_.emplace_back(sequence_, key);
    while (history_.size() > history_limit_) {
      history_start_ = history_.front().first;
      history_.pop_front();
    }
  }

  void Enqueue(Subscriber* s, const std::string& key, bool snapshot) {
    if (!key.empty() && !s->queued_.insert(key).second) {
      ++coalesced_;
      return;
    }
    s->pending_.push_back({key, snapshot});
    Pump(s);
  }

  // Delivers the subscriber's next event unless a write is in flight.
  void Pump(Subscriber* s) {
    while (!s->writing_ && !closed_ && !s->cancelled_) {
      if (s->pending_.empty()) return;
      typename Subscriber::Pending p = std::move(s->pending_.front());
      s->pending_.pop_front();
      Event event;
      event.snapshot = p.snapshot;
      event.sequence = sequence_;
      if (p.key.empty()) {
        event.kind = Event::Kind::kSnapshotComplete;
      } else {
        s->queued_.erase(p.key);
        auto it = entries_.find(p.key);
        if (it != entries_.end() && Matches(*s, it->second)) {
          event.key = p.key;
          event.status = it->second.status;
          event.sequence = it->second.sequence;
          s->visible_.insert(p.key);
        } else if (s->visible_.erase(p.key) > 0) {
          event.kind = Event::Kind::kRemoved;
          event.key = p.key;
        } else {
          continue;  // never seen by this subscriber and no longer matching
        }
      }
      s->writing_ = true;
      ++delivered_;
      s->Deliver(event);
    }
    MaybeEnd(s);
  }

  void MaybeEnd(Subscriber* s) {
    if ((closed_ || s->cancelled_) && !s->writing_ && !s->ended_) {
      s->ended_ = true;
      s->End();
    }
  }

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::set<Subscriber*> subscribers_;
  std::deque<std::pair<int64_t, std::string>> history_;
  size_t history_limit_;
  int64_t history_start_ = 0;  // sequences <= this may be missing
  int64_t sequence_ = 0;
  int64_t coalesced_ = 0;
  int64_t delivered_ = 0;
  bool closed_ = false;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_STATUS_BOARD_H_
