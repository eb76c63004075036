#include "services/evaluator/record_follower.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vla::evaluator {
namespace {

constexpr int kChunk = 10000;
// A read that failed (the database is unreachable) is tried again after
// this long, unless woken sooner.
constexpr absl::Duration kRetryInterval = absl::Milliseconds(200);

}  // namespace

// Records parsed for the sink (deques: pointers stay valid as they grow).
struct RecordFollower::Batch {
  void Add(const LoggedRecord& r) {
    const int size = static_cast<int>(r.data.size());
    if (r.kind == v1::RECORD_KIND_OBSERVATION) {
      if (observations.emplace_back().ParseFromArray(r.data.data(), size)) {
        obs_ptrs.push_back(&observations.back());
      }
    } else if (events.emplace_back().ParseFromArray(r.data.data(), size)) {
      event_ptrs.push_back(&events.back());
    }
  }
  std::deque<v1::Observation> observations;
  std::deque<v1::WorkItemEvent> events;
  std::vector<const v1::Observation*> obs_ptrs;
  std::vector<const v1::WorkItemEvent*> event_ptrs;
};

RecordFollower::RecordFollower(RecordLog* log, Sink sink, bool filter)
    : log_(log), sink_(std::move(sink)), filter_(filter) {}

void RecordFollower::Load(const std::string& value_stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (loaded_.count(value_stream)) return;
    to_load_.insert(value_stream);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

bool RecordFollower::IsLoaded(const std::string& value_stream) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !filter_ || loaded_.count(value_stream) > 0;
}

bool RecordFollower::LoadPending() {
  std::set<std::string> pending;
  int64_t upto;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(to_load_);
    upto = position_;
  }
  bool ok = true;
  for (const std::string& vs : pending) {
    {
      // Asked for again while it loaded: its records are in memory once.
      std::lock_guard<std::mutex> lock(mu_);
      if (loaded_.count(vs)) continue;
    }
    Batch batch;
    const absl::Status s = log_->ReadValueStream(
        vs, upto, [&](const LoggedRecord& r) { batch.Add(r); });
    if (!s.ok()) {
      Log(LogLevel::kWarning, "loading a value stream failed; retrying",
          {{"value_stream", vs}, {"error", s.ToString()}});
      std::lock_guard<std::mutex> lock(mu_);
      to_load_.insert(vs);
      ok = false;
      continue;
    }
    // This thread also reads the chunks: the next one starts after `upto`.
    sink_(batch.obs_ptrs, batch.event_ptrs);
    {
      std::lock_guard<std::mutex> lock(mu_);
      loaded_.insert(vs);
    }
    Log(LogLevel::kInfo, "value stream loaded",
        {{"value_stream", vs},
         {"records",
          absl::StrCat(batch.obs_ptrs.size() + batch.event_ptrs.size())}});
  }
  return ok;
}

RecordFollower::~RecordFollower() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  progress_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RecordFollower::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void RecordFollower::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

int64_t RecordFollower::position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return position_;
}

absl::Status RecordFollower::CatchUp(absl::Duration timeout) {
  absl::StatusOr<int64_t> target = log_->LastSequence();
  if (!target.ok()) return target.status();
  Wake();
  std::unique_lock<std::mutex> lock(mu_);
  const bool reached =
      progress_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                            [&] { return stopping_ || position_ >= *target; });
  if (!reached || position_ < *target) {
    return absl::UnavailableError("records not read back from the database");
  }
  return absl::OkStatus();
}

bool RecordFollower::ReadChunk() {
  int64_t after;
  {
    std::lock_guard<std::mutex> lock(mu_);
    after = position_;
  }
  std::set<std::string> loaded;
  if (filter_) {
    std::lock_guard<std::mutex> lock(mu_);
    loaded = loaded_;
  }
  Batch batch;
  int rows = 0;
  absl::StatusOr<int64_t> last =
      log_->Read(after, kChunk, [&](const LoggedRecord& r) {
        ++rows;
        if (!filter_ || loaded.count(std::string(r.value_stream))) {
          batch.Add(r);
        }
      });
  if (!last.ok()) {
    Log(LogLevel::kWarning, "reading stored records failed; retrying",
        {{"error", last.status().ToString()}});
    std::unique_lock<std::mutex> lock(mu_);
    wake_cv_.wait_for(lock, absl::ToChronoMilliseconds(kRetryInterval),
                      [this] { return stopping_; });
    woken_ = true;  // try again
    return false;
  }
  if (!batch.obs_ptrs.empty() || !batch.event_ptrs.empty()) {
    sink_(batch.obs_ptrs, batch.event_ptrs);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    position_ = *last;
  }
  progress_cv_.notify_all();
  return rows == kChunk;
}

void RecordFollower::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait(lock, [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    if (!LoadPending()) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait_for(lock, absl::ToChronoMilliseconds(kRetryInterval),
                        [this] { return stopping_; });
      woken_ = true;  // try again
    }
    while (ReadChunk()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
  }
}

}  // namespace vla::evaluator
