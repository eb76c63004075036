#include "clients/lib/ingester.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_util.h"

namespace vla::client {

struct Ingester::Stream {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>>
      rw;
  std::thread reader;
};

namespace {

// A stream that ended with batches unacknowledged may be opened again when
// the server went away: UNAVAILABLE (killed, unreachable), CANCELLED or OK
// (it shut down while the stream was open).
bool MayReconnect(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

absl::Status StreamError(const grpc::Status& status) {
  absl::Status s = FromGrpcStatus(status);
  return absl::Status(s.code(), absl::StrCat("Ingest: ", s.message()));
}

}  // namespace

Ingester::Ingester(std::shared_ptr<grpc::Channel> channel,
                   ConnectionOptions options, IngestOptions ingest_options)
    : stub_(v1::EvaluationService::NewStub(std::move(channel))),
      options_(std::move(options)),
      ingest_options_(ingest_options) {}

Ingester::~Ingester() {
  grpc::Status ignored;
  CloseStream(&ignored);
}

absl::Status Ingester::Add(v1::Observation record) {
  if (!error_.ok()) return error_;
  *current_.request.add_observations() = std::move(record);
  current_.observation_index.push_back(next_index_++);
  return FlushBatch();
}

absl::Status Ingester::Add(v1::WorkItemEvent record) {
  if (!error_.ok()) return error_;
  *current_.request.add_work_item_events() = std::move(record);
  current_.event_index.push_back(next_index_++);
  return FlushBatch();
}

absl::Status Ingester::FlushBatch() {
  const int size = current_.request.observations_size() +
                   current_.request.work_item_events_size();
  if (size < std::max(1, ingest_options_.batch_size)) return absl::OkStatus();
  Batch batch = std::move(current_);
  current_ = Batch();
  error_ = Send(std::move(batch));
  return error_;
}

absl::Status Ingester::Send(Batch batch) {
  if (stream_ == nullptr) VLA_RETURN_IF_ERROR(Reconnect());  // the first
  VLA_RETURN_IF_ERROR(WaitUntil([&] {
    return static_cast<int>(unacked_.size()) <
           std::max(1, ingest_options_.max_in_flight);
  }));
  v1::IngestRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request = batch.request;
    unacked_.push_back(std::move(batch));
    ++totals_.batches;
  }
  // A failed write shows as a broken stream (the reader sees the end).
  stream_->rw->Write(request);
  return absl::OkStatus();
}

template <class Pred>
absl::Status Ingester::WaitUntil(Pred done) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return done() || broken_; });
      if (done()) return absl::OkStatus();
    }
    VLA_RETURN_IF_ERROR(Reconnect());
  }
}

absl::Status Ingester::Reconnect() {
  const bool first = stream_ == nullptr;
  if (!first) {
    grpc::Status status;
    CloseStream(&status);
    if (!MayReconnect(status)) return StreamError(status);
    std::lock_guard<std::mutex> lock(mu_);
    ++failures_;
    const RetryPolicy& retry = ingest_options_.retry;
    if (retry.max_attempts > 0 && failures_ >= retry.max_attempts) {
      return StreamError(status.ok()
                             ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                            "the server ended the stream")
                             : status);
    }
  }
  if (!first) {
    absl::BitGen gen;
    absl::SleepFor(BackoffDelay(ingest_options_.retry, failures_, gen));
  }
  auto stream = std::make_unique<Stream>();
  stream->ctx = MakeContext(options_, absl::InfiniteDuration());
  stream->rw = stub_->Ingest(stream->ctx.get());
  std::vector<v1::IngestRequest> resend;
  {
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = false;
    if (!first) ++totals_.reconnects;
    for (const Batch& b : unacked_) resend.push_back(b.request);
  }
  stream_ = std::move(stream);
  stream_->reader = std::thread([this, s = stream_.get()] { ReadLoop(s); });
  for (const v1::IngestRequest& r : resend) {
    if (!stream_->rw->Write(r)) break;
  }
  return absl::OkStatus();
}

void Ingester::CloseStream(grpc::Status* status) {
  if (stream_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!broken_) stream_->ctx->TryCancel();  // abandoned while open
  }
  stream_->reader.join();
  *status = stream_->rw->Finish();
  stream_.reset();
}

void Ingester::ReadLoop(Stream* stream) {
  v1::IngestResponse response;
  while (stream->rw->Read(&response)) {
    std::lock_guard<std::mutex> lock(mu_);
    if (unacked_.empty()) {  // an acknowledgement for nothing
      stream->ctx->TryCancel();
      break;
    }
    const Batch& batch = unacked_.front();
    totals_.accepted += response.accepted();
    totals_.duplicates += response.duplicates();
    for (const v1::Rejection& r : response.rejected()) {
      const std::vector<int64_t>& index =
          r.kind() == v1::RECORD_KIND_WORK_ITEM_EVENT ? batch.event_index
                                                      : batch.observation_index;
      IngestRejection rejection;
      rejection.record_index =
          r.index() >= 0 && r.index() < static_cast<int>(index.size())
              ? index[r.index()]
              : -1;
      rejection.reason = r.reason();
      totals_.rejected.push_back(std::move(rejection));
    }
    unacked_.pop_front();
    failures_ = 0;
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  broken_ = true;
  cv_.notify_all();
}

absl::StatusOr<IngestTotals> Ingester::Finish() {
  if (!error_.ok()) return error_;
  if (current_.request.observations_size() +
          current_.request.work_item_events_size() >
      0) {
    Batch batch = std::move(current_);
    current_ = Batch();
    error_ = Send(std::move(batch));
    if (!error_.ok()) return error_;
  }
  error_ = WaitUntil([&] { return unacked_.empty(); });
  if (!error_.ok()) return error_;
  if (stream_ != nullptr) {
    stream_->rw->WritesDone();
    stream_->reader.join();
    stream_->rw->Finish();  // every batch is acknowledged: nothing to lose
    stream_.reset();
  }
  error_ = absl::FailedPreconditionError("Ingester: already finished");
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

}  // namespace vla::client
