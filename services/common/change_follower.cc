#include "services/common/change_follower.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vla {

class ChangeFollower::Reactor final
    : public grpc::ClientReadReactor<v1::WatchChangesResponse> {
 public:
  Reactor(ChangeFollower* follower, int64_t since) : follower_(follower) {
    request_.set_since_revision(since);
    follower_->stub_->async()->WatchChanges(&context_, &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    if (!ok) return;
    const auto& md = context_.GetServerInitialMetadata();
    auto it = md.find(std::string(kHeadRevisionMetadata));
    int64_t head = 0;
    if (it != md.end() &&
        absl::SimpleAtoi(
            absl::string_view(it->second.data(), it->second.size()), &head)) {
      follower_->OnHead(head);
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    follower_->OnChanges(message_.mutable_changes());
    message_.Clear();
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override {
    follower_->OnStreamDone(status);
  }

 private:
  ChangeFollower* follower_;
  grpc::ClientContext context_;
  v1::WatchChangesRequest request_;
  v1::WatchChangesResponse message_;
};

ChangeFollower::ChangeFollower(std::shared_ptr<grpc::Channel> channel,
                               int64_t since_revision, Handler handler,
                               std::function<void()> on_caught_up)
    : stub_(v1::VmdbService::NewStub(channel)),
      handler_(std::move(handler)),
      on_caught_up_(std::move(on_caught_up)),
      applied_(since_revision) {}

bool ChangeFollower::SetCaughtUpLocked() {
  if (caught_up_) return false;
  caught_up_ = true;
  cv_.notify_all();
  return true;
}

ChangeFollower::~ChangeFollower() { Stop(); }

void ChangeFollower::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ChangeFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ChangeFollower::caught_up() const {
  std::lock_guard<std::mutex> lock(mu_);
  return caught_up_;
}

bool ChangeFollower::WaitCaughtUp(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                      [this] { return caught_up_; });
}

int64_t ChangeFollower::applied_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return applied_;
}

void ChangeFollower::OnHead(int64_t head) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    head_ = head;
    if (applied_ >= head_) first = SetCaughtUpLocked();
  }
  if (first && on_caught_up_) on_caught_up_();
}

void ChangeFollower::OnChanges(
    google::protobuf::RepeatedPtrField<v1::Change>* changes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (v1::Change& change : *changes) queue_.push_back(std::move(change));
  cv_.notify_all();
}

void ChangeFollower::OnStreamDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  stream_done_ = true;
  if (!stopping_ && status.error_code() != grpc::StatusCode::CANCELLED) {
    Log(LogLevel::kWarning, "change feed ended; reconnecting",
        {{"code", absl::StrCat(status.error_code())},
         {"error", status.error_message()}});
  }
  cv_.notify_all();
}

void ChangeFollower::Loop() {
  absl::Duration backoff = absl::Milliseconds(100);
  std::unique_ptr<Reactor> reactor;
  bool failed = false;  // the current stream's remaining changes are skipped
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (reactor == nullptr) {
      stream_done_ = false;
      failed = false;
      queue_.clear();
      reactor = std::make_unique<Reactor>(this, applied_);
    }
    cv_.wait(lock,
             [this] { return stopping_ || stream_done_ || !queue_.empty(); });
    if (stopping_) break;
    if (!queue_.empty() && !failed) {
      std::vector<v1::Change> batch;
      for (v1::Change& c : queue_) {
        if (c.revision() > applied_) batch.push_back(std::move(c));
      }
      queue_.clear();
      if (batch.empty()) continue;
      lock.unlock();
      const absl::Status s = handler_(batch);
      lock.lock();
      if (s.ok()) {
        applied_ = batch.back().revision();
        backoff = absl::Milliseconds(100);
        if (head_ >= 0 && applied_ >= head_ && SetCaughtUpLocked() &&
            on_caught_up_) {
          lock.unlock();
          on_caught_up_();
          lock.lock();
        }
      } else {
        Log(LogLevel::kError, "applying changes failed; retrying",
            {{"error", s.ToString()}});
        failed = true;
        reactor->Cancel();
      }
      continue;
    }
    queue_.clear();
    if (stream_done_) {
      reactor.reset();
      cv_.wait_for(lock, absl::ToChronoMilliseconds(backoff),
                   [this] { return stopping_; });
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
  }
  if (reactor != nullptr) {
    reactor->Cancel();
    cv_.wait(lock, [this] { return stream_done_; });
    reactor.reset();
  }
}

}  // namespace vla
