// VmdbCore: the Value Management Database's logic, independent of gRPC and
// SQL. One generic implementation of the AIP standard methods serves all
// five resource kinds (see resource_kinds.h): the kind is taken from the
// message type passed in.
//
//   VmdbCore core(std::move(store), Clock::Real());
//   v1::Team team;
//   absl::Status s = core.Create("service-desk", input, "", &team);
#ifndef VLA_SERVICES_VMDB_VMDB_CORE_H_
#define VLA_SERVICES_VMDB_VMDB_CORE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "services/common/clock.h"
#include "services/common/page_token.h"
#include "services/vmdb/vmdb_store.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::vmdb {

// Told after each committed change; must not block.
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  virtual void OnCommitted(int64_t revision) = 0;
  // The service is shutting down: finish the stream.
  virtual void OnClosed() = 0;
};

class VmdbCore {
 public:
  VmdbCore(std::unique_ptr<VmdbStore> store, const Clock* clock);
  ~VmdbCore();

  // Standard methods. `resource`/`out` are Team, ValueStream, Kvi, Vla or
  // Objective; `response` is the matching List*Response.
  absl::Status Create(absl::string_view id,
                      const google::protobuf::Message& resource,
                      absl::string_view request_id,
                      google::protobuf::Message* out);
  absl::Status Get(absl::string_view name, google::protobuf::Message* out);
  absl::Status List(int page_size, absl::string_view page_token,
                    absl::string_view filter,
                    google::protobuf::Message* response);
  absl::Status Update(const google::protobuf::Message& resource,
                      const google::protobuf::FieldMask& mask,
                      google::protobuf::Message* out);
  // `kind` is the resource type to delete (e.g. v1::Kvi::descriptor()).
  absl::Status Delete(const google::protobuf::Descriptor* kind,
                      absl::string_view name, absl::string_view etag);

  absl::Status ListVlaRevisions(absl::string_view name,
                                v1::ListVlaRevisionsResponse* response);

  // Up to `limit` changes after `since_revision`, in commit order.
  absl::StatusOr<std::vector<v1::Change>> ChangesSince(int64_t since_revision,
                                                       int limit);

  // The revision of the last committed change.
  int64_t HeadRevision() { return store_->HeadRevision(); }

  // Change notification for WatchChanges. Subscribe returns false once the
  // core is closed.
  bool Subscribe(ChangeListener* listener);
  void Unsubscribe(ChangeListener* listener);
  // Tells every listener to finish, and refuses new ones; then waits up to
  // `wait` for them to unsubscribe (their streams are done by then).
  void CloseSubscriptions(absl::Duration wait);
  // The listeners subscribed now.
  size_t subscriber_count();

 private:
  void Notify(int64_t revision);

  std::unique_ptr<VmdbStore> store_;
  const Clock* clock_;
  PageTokenCodec page_tokens_;

  std::mutex listeners_mu_;
  std::condition_variable listeners_cv_;
  std::set<ChangeListener*> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  bool closed_ ABSL_GUARDED_BY(listeners_mu_) = false;
};

}  // namespace vla::vmdb

#endif  // VLA_SERVICES_VMDB_VMDB_CORE_H_
