#include "services/vmdb/vmdb_service.h"

#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "services/common/reactors.h"
#include "services/vmdb/change_follower.h"

namespace vla::vmdb {
namespace {

// Streams the change log from a revision, then live changes, in batches.
// One message is in flight at a time; the changes read meanwhile (up to
// kFetch at a time from the log, in order) go in the next one, up to
// `max_bytes`. When caught up it waits for OnCommitted.
class WatchChangesReactor final
    : public grpc::ServerWriteReactor<v1::WatchChangesResponse>,
      public ChangeListener {
 public:
  WatchChangesReactor(grpc::CallbackServerContext* ctx, VmdbCore* core,
                      int64_t since, size_t max_bytes)
      : core_(core), max_bytes_(max_bytes), last_revision_(since) {
    std::lock_guard<std::mutex> lock(mu_);
    // Followers know they have caught up once they reach this revision.
    ctx->AddInitialMetadata(std::string(kHeadRevisionMetadata),
                            absl::StrCat(core_->HeadRevision()));
    StartSendInitialMetadata();
    if (since < 0) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "since_revision: must not be negative"));
      return;
    }
    subscribed_ = core_->Subscribe(this);
    if (!subscribed_) closing_ = true;
    PumpLocked();
  }

  void OnCommitted(int64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    PumpLocked();
  }

  void OnClosed() override {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    PumpLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    PumpLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (!writing_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (subscribed_) core_->Unsubscribe(this);
    delete this;
  }

 private:
  void PumpLocked() {
    if (finished_ || writing_) return;
    if (cancelled_) {
      FinishLocked(grpc::Status::CANCELLED);
      return;
    }
    if (pending_.empty() && !closing_) {
      auto changes = core_->ChangesSince(last_revision_, kFetch);
      if (!changes.ok()) {
        FinishLocked(ToGrpcStatus(changes.status()));
        return;
      }
      for (v1::Change& c : *changes) {
        last_revision_ = c.revision();
        pending_.push_back(std::move(c));
      }
    }
    if (pending_.empty()) {
      if (closing_) {
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "server shutting down; resume from the last "
                                  "revision received"));
      }
      return;  // Caught up: OnCommitted wakes us.
    }
    // The pending changes in order, up to the size bound (at least one).
    message_.Clear();
    size_t bytes = 0;
    while (!pending_.empty()) {
      // As encoded in the message: tag, length, the change.
      const size_t length = pending_.front().ByteSizeLong();
      const size_t size =
          1 + google::protobuf::io::CodedOutputStream::VarintSize64(length) +
          length;
      if (message_.changes_size() > 0 && bytes + size > max_bytes_) break;
      bytes += size;
      *message_.add_changes() = std::move(pending_.front());
      pending_.pop_front();
    }
    writing_ = true;
    StartWrite(&message_);
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  static constexpr int kFetch = 256;

  VmdbCore* const core_;
  const size_t max_bytes_;
  std::mutex mu_;
  int64_t last_revision_;
  std::deque<v1::Change> pending_;    // read from the log, not yet sent
  v1::WatchChangesResponse message_;  // the write in flight
  bool subscribed_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
};

}  // namespace

#define VLA_VMDB_STANDARD_METHODS_IMPL(R, Rs, field)                           \
  grpc::ServerUnaryReactor* VmdbServiceImpl::Create##R(                        \
      grpc::CallbackServerContext* ctx, const v1::Create##R##Request* req,     \
      v1::R* resp) {                                                           \
    if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) \
      return r;                                                                \
    return ReplyFrom(writer_, ctx, [this, req, resp] {                         \
      return core_->Create(req->field##_id(), req->field(), req->request_id(), \
                           resp);                                              \
    });                                                                        \
  }                                                                            \
  grpc::ServerUnaryReactor* VmdbServiceImpl::Get##R(                           \
      grpc::CallbackServerContext* ctx, const v1::Get##R##Request* req,        \
      v1::R* resp) {                                                           \
    if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) \
      return r;                                                                \
    return ReplyNow(ctx, [&] { return core_->Get(req->name(), resp); });       \
  }                                                                            \
  grpc::ServerUnaryReactor* VmdbServiceImpl::List##Rs(                         \
      grpc::CallbackServerContext* ctx, const v1::List##Rs##Request* req,      \
      v1::List##Rs##Response* resp) {                                          \
    if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) \
      return r;                                                                \
    return ReplyNow(ctx, [&] {                                                 \
      return core_->List(req->page_size(), req->page_token(), req->filter(),   \
                         resp);                                                \
    });                                                                        \
  }                                                                            \
  grpc::ServerUnaryReactor* VmdbServiceImpl::Update##R(                        \
      grpc::CallbackServerContext* ctx, const v1::Update##R##Request* req,     \
      v1::R* resp) {                                                           \
    if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) \
      return r;                                                                \
    return ReplyFrom(writer_, ctx, [this, req, resp] {                         \
      return core_->Update(req->field(), req->update_mask(), resp);            \
    });                                                                        \
  }                                                                            \
  grpc::ServerUnaryReactor* VmdbServiceImpl::Delete##R(                        \
      grpc::CallbackServerContext* ctx, const v1::Delete##R##Request* req,     \
      google::protobuf::Empty*) {                                              \
    if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) \
      return r;                                                                \
    return ReplyFrom(writer_, ctx, [this, req] {                               \
      return core_->Delete(v1::R::descriptor(), req->name(), req->etag());     \
    });                                                                        \
  }
VLA_VMDB_STANDARD_METHODS_IMPL(Team, Teams, team)
VLA_VMDB_STANDARD_METHODS_IMPL(ValueStream, ValueStreams, value_stream)
VLA_VMDB_STANDARD_METHODS_IMPL(Kvi, Kvis, kvi)
VLA_VMDB_STANDARD_METHODS_IMPL(Vla, Vlas, vla)
VLA_VMDB_STANDARD_METHODS_IMPL(Objective, Objectives, objective)
#undef VLA_VMDB_STANDARD_METHODS_IMPL

grpc::ServerUnaryReactor* VmdbServiceImpl::ListVlaRevisions(
    grpc::CallbackServerContext* ctx, const v1::ListVlaRevisionsRequest* req,
    v1::ListVlaRevisionsResponse* resp) {
  if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req)) {
    return r;
  }
  return ReplyNow(ctx,
                  [&] { return core_->ListVlaRevisions(req->name(), resp); });
}

grpc::ServerWriteReactor<v1::WatchChangesResponse>*
VmdbServiceImpl::WatchChanges(grpc::CallbackServerContext* ctx,
                              const v1::WatchChangesRequest* req) {
  if (auto* r =
          guard_.Reject<grpc::ServerWriteReactor<v1::WatchChangesResponse>>(
              ctx, __func__, req)) {
    return r;
  }
  return new WatchChangesReactor(ctx, core_, req->since_revision(),
                                 watch_batch_bytes_);
}

}  // namespace vla::vmdb
