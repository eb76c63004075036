#include "services/evaluator/replication.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vla::evaluator {
namespace {

// A random id per run of the process.
std::string NewReplicaId() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

Replication::Replication(
    ReplicaCoordinator* coordinator, RecordFollower* follower,
    ReplicationOptions options,
    std::function<std::vector<std::string>()> value_streams,
    std::function<void(const PublishedStatus&)> apply)
    : coordinator_(coordinator),
      follower_(follower),
      options_(std::move(options)),
      value_streams_(std::move(value_streams)),
      apply_(std::move(apply)),
      id_(NewReplicaId()) {}

Replication::~Replication() { Leave(); }

void Replication::Leave() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  coordinator_->OnPublished(nullptr);
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (follow_thread_.joinable()) follow_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    owners_.clear();
    owned_.clear();
  }
  if (absl::Status s = coordinator_->Leave(id_); !s.ok()) {
    Log(LogLevel::kWarning, "leaving the replicas failed",
        {{"error", s.ToString()}});
  }
}

void Replication::Start() {
  coordinator_->OnPublished([this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      published_ = true;
    }
    cv_.notify_all();
  });
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  follow_thread_ = std::thread([this] { FollowLoop(); });
  Log(LogLevel::kInfo, "evaluator replica started",
      {{"replica", id_}, {"address", options_.address}});
}

void Replication::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Replication::HeartbeatLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const absl::Time sent = absl::Now();
    const std::vector<std::string> streams = value_streams_();
    absl::StatusOr<std::vector<Lease>> leases =
        coordinator_->Heartbeat(id_, options_.address, streams, options_.ttl);
    if (leases.ok()) {
      std::map<std::string, std::string> owners;
      std::set<std::string> owned;
      for (const Lease& l : *leases) {
        owners[l.value_stream] = l.address;
        if (l.owner == id_) {
          owned.insert(l.value_stream);
          follower_->Load(l.value_stream);  // no-op once loaded
        }
      }
      lock.lock();
      for (const std::string& vs : owned) {
        if (!owned_.count(vs)) {
          Log(LogLevel::kInfo, "value stream owned",
              {{"value_stream", vs}, {"replica", id_}});
        }
      }
      for (const std::string& vs : owned_) {
        if (!owned.count(vs)) {
          Log(LogLevel::kInfo, "value stream given up",
              {{"value_stream", vs}, {"replica", id_}});
        }
      }
      owners_ = std::move(owners);
      owned_ = std::move(owned);
      valid_until_ = sent + options_.ttl * 3 / 4;
      lock.unlock();
      cv_.notify_all();
    } else {
      Log(LogLevel::kWarning, "replica heartbeat failed",
          {{"replica", id_}, {"error", leases.status().ToString()}});
    }
    lock.lock();
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.heartbeat),
                 [this] { return stopping_ || woken_; });
    woken_ = false;
  }
}

void Replication::FollowLoop() {
  int64_t cursor = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait(lock, [this] { return stopping_ || published_; });
    if (stopping_) return;
    published_ = false;
    lock.unlock();
    absl::StatusOr<int64_t> last = coordinator_->ReadPublished(
        cursor, [this](const PublishedStatus& s) { apply_(s); });
    lock.lock();
    if (last.ok()) {
      cursor = *last;
    } else {
      published_ = true;  // try again after a pause
      cv_.wait_for(lock, std::chrono::milliseconds(200),
                   [this] { return stopping_; });
    }
  }
}

bool Replication::Owns(const std::string& value_stream) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!owned_.count(value_stream) || absl::Now() > valid_until_) {
      return false;
    }
  }
  return follower_->IsLoaded(value_stream);
}

Replication::Route Replication::RouteNow(
    const std::string& value_stream) const {
  if (Owns(value_stream)) return {Route::Kind::kLocal, ""};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = owners_.find(value_stream);
  if (it == owners_.end() || owned_.count(value_stream)) {
    return {Route::Kind::kNone, ""};  // no owner, or loading here
  }
  return {Route::Kind::kForward, it->second};
}

Replication::Route Replication::RouteOf(const std::string& value_stream,
                                        absl::Duration wait) const {
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    Route r = RouteNow(value_stream);
    if (r.kind != Route::Kind::kNone || absl::Now() >= deadline) return r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return r;  // left: no owner will show up here
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

void Replication::Publish(const std::vector<PublishedStatus>& statuses) {
  if (statuses.empty()) return;
  if (absl::Status s = coordinator_->Publish(statuses); !s.ok()) {
    Log(LogLevel::kError, "publishing statuses to the replicas failed",
        {{"error", s.ToString()}});
  }
}

}  // namespace vla::evaluator
