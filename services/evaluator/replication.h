// Replication: one evaluator replica's share of the work when several share
// a PostgreSQL store (ReplicaCoordinator). Every `heartbeat` it renews its
// leases and learns each value stream's owner (leases live `ttl`, by the
// database's clock; a replica that stops renewing loses its value streams
// to the others within ttl + heartbeat). A value stream it takes is loaded
// by the RecordFollower before it is served here; what the other owners
// publish reaches this replica's boards through the published-status log.
//
// Calls about a value stream (GetKviValue, GetVlaStatus, GetValueStreamFlow)
// are answered by its owner: RouteOf says whether that is this replica or
// where to forward.
#ifndef VLA_SERVICES_EVALUATOR_REPLICATION_H_
#define VLA_SERVICES_EVALUATOR_REPLICATION_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "services/evaluator/evaluator_store.h"
#include "services/evaluator/record_follower.h"

namespace vla::evaluator {

struct ReplicationOptions {
  // HOST:PORT where the other replicas reach this one.
  std::string address;
  absl::Duration heartbeat = absl::Seconds(1);
  absl::Duration ttl = absl::Seconds(4);
};

class Replication {
 public:
  struct Route {
    enum class Kind { kLocal, kForward, kNone };
    Kind kind = Kind::kNone;
    std::string address;  // kForward: the owner's
  };

  // `value_streams` lists the value streams known now; `apply` receives the
  // statuses other replicas publish (from the replication thread).
  // Everything given must outlive the object.
  Replication(ReplicaCoordinator* coordinator, RecordFollower* follower,
              ReplicationOptions options,
              std::function<std::vector<std::string>()> value_streams,
              std::function<void(const PublishedStatus&)> apply);
  // Stops the threads and gives up this replica's leases.
  ~Replication();
  Replication(const Replication&) = delete;
  Replication& operator=(const Replication&) = delete;

  void Start();
  // Stops renewing and gives up this replica's leases now (a shutdown
  // begins), so that the others take its value streams at their next
  // heartbeat instead of after the TTL; from then on it owns nothing and
  // RouteOf answers kNone at once. Idempotent; the destructor calls it.
  void Leave();
  // Value streams changed: heartbeat now.
  void Wake();

  // True while this replica holds the lease of `value_stream` (renewed
  // within the last ttl * 3/4 by its own clock) and has loaded its records.
  bool Owns(const std::string& value_stream) const;
  // Where a call about `value_stream` goes; waits up to `wait` while it
  // has no owner (a failover, a new value stream) or is being loaded here.
  Route RouteOf(const std::string& value_stream, absl::Duration wait) const;
  // Stores statuses this replica published, for the other replicas.
  void Publish(const std::vector<PublishedStatus>& statuses);

  const std::string& id() const { return id_; }

 private:
  void HeartbeatLoop();
  void FollowLoop();
  Route RouteNow(const std::string& value_stream) const;

  ReplicaCoordinator* const coordinator_;
  RecordFollower* const follower_;
  const ReplicationOptions options_;
  const std::function<std::vector<std::string>()> value_streams_;
  const std::function<void(const PublishedStatus&)> apply_;
  const std::string id_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Leave() called
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool published_ ABSL_GUARDED_BY(mu_) = true;  // read the log
  // value stream -> owner address; this replica's own in owned_.
  std::map<std::string, std::string> owners_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> owned_ ABSL_GUARDED_BY(mu_);
  absl::Time valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread heartbeat_thread_, follow_thread_;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_REPLICATION_H_
