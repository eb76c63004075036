#include "services/evaluator/record_follower.h"

#include <deque>

#include "services/common/log.h"

namespace vla::evaluator {
namespace {

constexpr int kChunk = 10000;
// A read that failed (the database is unreachable) is tried again after
// this long, unless woken sooner.
constexpr absl::Duration kRetryInterval = absl::Milliseconds(200);

}  // namespace

RecordFollower::RecordFollower(RecordLog* log, Sink sink)
    : log_(log), sink_(std::move(sink)) {}

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
  // Parsed into deques: pointers stay valid as they grow.
  std::deque<v1::Observation> observations;
  std::deque<v1::WorkItemEvent> events;
  std::vector<const v1::Observation*> obs_ptrs;
  std::vector<const v1::WorkItemEvent*> event_ptrs;
  int rows = 0;
  absl::StatusOr<int64_t> last =
      log_->Read(after, kChunk, [&](const LoggedRecord& r) {
        ++rows;
        const int size = static_cast<int>(r.data.size());
        if (r.kind == v1::RECORD_KIND_OBSERVATION) {
          if (observations.emplace_back().ParseFromArray(r.data.data(), size)) {
            obs_ptrs.push_back(&observations.back());
          }
        } else if (events.emplace_back().ParseFromArray(r.data.data(), size)) {
          event_ptrs.push_back(&events.back());
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
  if (rows > 0) sink_(obs_ptrs, event_ptrs);
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
    while (ReadChunk()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
  }
}

}  // namespace vla::evaluator
