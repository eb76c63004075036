// Streams records into EvaluationService.Ingest in batches, several batches in
// flight, and survives a server restart: every batch not yet acknowledged is
// sent again on a new stream (safe: the server dedupes by event_id, so a
// resent record counts as a duplicate).
//
//   Ingester ingester(channel, options);
//   for (...) VLA_RETURN_IF_ERROR(ingester.Add(observation));
//   VLA_ASSIGN_OR_RETURN(IngestTotals totals, ingester.Finish());
//
// Not thread-safe: one caller thread adds and finishes (a reader thread of
// its own reads the acknowledgements).
#ifndef VLA_CLIENTS_LIB_INGESTER_H_
#define VLA_CLIENTS_LIB_INGESTER_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/lib/client.h"
#include "vla/v1/evaluation.grpc.pb.h"

namespace vla::client {

struct IngestOptions {
  // Records per batch.
  int batch_size = 500;
  // Batches sent and not yet acknowledged, at most.
  int max_in_flight = 8;
  // Reconnects after a broken stream; attempts count consecutive broken
  // streams without a single acknowledgement.
  RetryPolicy retry = {.max_attempts = 10,
                       .initial_backoff = absl::Milliseconds(200),
                       .max_backoff = absl::Seconds(5)};
};

// A record the server refused.
struct IngestRejection {
  // The record's position among all records passed to Add, from 0.
  int64_t record_index = 0;
  std::string reason;
};

struct IngestTotals {
  int64_t accepted = 0;
  // Already stored (sent before, e.g. by a resend after a reconnect).
  int64_t duplicates = 0;
  std::vector<IngestRejection> rejected;
  int64_t batches = 0;
  // Streams opened after a broken one.
  int reconnects = 0;
};

class Ingester {
 public:
  Ingester(std::shared_ptr<grpc::Channel> channel, ConnectionOptions options,
           IngestOptions ingest_options = {});
  ~Ingester();
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // Adds a record; sends a batch when one is full. Blocks while
  // max_in_flight batches wait for their acknowledgement. An error (the
  // server stayed unreachable, or refused the stream) ends the ingester.
  absl::Status Add(v1::Observation record);
  absl::Status Add(v1::WorkItemEvent record);

  // Sends the last batch and waits for every acknowledgement.
  absl::StatusOr<IngestTotals> Finish();

 private:
  struct Batch {
    v1::IngestRequest request;
    // The caller's record index of each observation and work item event.
    std::vector<int64_t> observation_index;
    std::vector<int64_t> event_index;
  };
  // One Ingest call: its context, stream and reader thread.
  struct Stream;

  absl::Status FlushBatch();
  absl::Status Send(Batch batch);
  // Waits until `done` holds or the stream broke; on a break reconnects and
  // resends, then waits again.
  template <class Pred>
  absl::Status WaitUntil(Pred done);
  absl::Status Reconnect();
  void CloseStream(grpc::Status* status);
  void ReadLoop(Stream* stream);

  std::unique_ptr<v1::EvaluationService::Stub> stub_;
  const ConnectionOptions options_;
  const IngestOptions ingest_options_;
  Batch current_;
  int64_t next_index_ = 0;
  absl::Status error_;  // sticky

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> unacked_;  // oldest first; every one written on stream_
  bool broken_ = false;        // stream_ ended
  int failures_ = 0;           // broken streams since the last ack
  IngestTotals totals_;
  std::unique_ptr<Stream> stream_;
};

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_INGESTER_H_
