// ChangeFollower: the VMDB's change feed (VmdbService.WatchChanges) as a
// FeedFollower. It hands the changes after a revision, in commit order and in
// batches, to a handler on its own thread; after a dropped stream (or a batch
// the handler failed) it reconnects and resumes after the last revision the
// handler accepted, so every change is applied once.
//
//   auto follower = MakeChangeFollower(channel, stored_revision,
//       [&](const std::vector<v1::Change>& batch) { return Apply(batch); });
//   follower->Start();
//   follower->WaitCaughtUp(absl::Seconds(5));
#ifndef VLA_SERVICES_VMDB_CHANGE_FOLLOWER_H_
#define VLA_SERVICES_VMDB_CHANGE_FOLLOWER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "services/common/feed_follower.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla {

// Initial metadata of WatchChanges: the revision of the last change committed
// when the stream started. A follower that has applied it has caught up.
inline constexpr absl::string_view kHeadRevisionMetadata = "vla-head-revision";

using ChangeFollower = FeedFollower<v1::WatchChangesResponse, v1::Change>;

// Follows `channel`'s change feed after `since_revision`. `on_caught_up`, if
// set, runs once when the follower first catches up.
inline std::unique_ptr<ChangeFollower> MakeChangeFollower(
    const std::shared_ptr<grpc::Channel>& channel, int64_t since_revision,
    ChangeFollower::Handler handler,
    std::function<void()> on_caught_up = nullptr) {
  ChangeFollower::Feed feed;
  feed.what = "change feed";
  // One request for the follower's calls, which never overlap.
  feed.start = [stub = std::shared_ptr<v1::VmdbService::Stub>(
                    v1::VmdbService::NewStub(channel)),
                request = std::make_shared<v1::WatchChangesRequest>()](
                   grpc::ClientContext* context, int64_t since,
                   grpc::ClientReadReactor<v1::WatchChangesResponse>* reactor) {
    request->set_since_revision(since);
    stub->async()->WatchChanges(context, request.get(), reactor);
  };
  feed.items = [](v1::WatchChangesResponse* message) {
    return message->mutable_changes();
  };
  feed.position = [](const v1::Change& change) { return change.revision(); };
  feed.head_metadata = std::string(kHeadRevisionMetadata);
  return std::make_unique<ChangeFollower>(std::move(feed), since_revision,
                                          std::move(handler),
                                          std::move(on_caught_up));
}

}  // namespace vla

#endif  // VLA_SERVICES_VMDB_CHANGE_FOLLOWER_H_
