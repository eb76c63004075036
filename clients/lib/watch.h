// Reading the batched watch streams (api.md, "Streams carry batches") one
// item at a time: each message of WatchChanges, WatchVlaStatuses,
// WatchKviValues or WatchObjectiveStatuses carries a list of changes or
// events, in order across messages; WatchReader yields them in that order.
//
//   client::WatchReader<v1::WatchObjectiveStatusesResponse> events(
//       stub->WatchObjectiveStatuses(ctx.get(), req));
//   v1::ObjectiveStatusEvent event;
//   while (events.Read(&event)) { ... }
//   grpc::Status status = events.Finish();
#ifndef VLA_CLIENTS_LIB_WATCH_H_
#define VLA_CLIENTS_LIB_WATCH_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "vla/v1/evaluation.pb.h"
#include "vla/v1/okr_status.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::client {

// The items of one message of each watch stream.
inline const auto& WatchItems(const v1::WatchChangesResponse& m) {
  return m.changes();
}
inline const auto& WatchItems(const v1::WatchVlaStatusesResponse& m) {
  return m.events();
}
inline const auto& WatchItems(const v1::WatchKviValuesResponse& m) {
  return m.events();
}
inline const auto& WatchItems(const v1::WatchObjectiveStatusesResponse& m) {
  return m.events();
}

template <typename Response>
class WatchReader {
 public:
  // A Change or an event.
  using Item = typename std::remove_cvref_t<decltype(WatchItems(
      std::declval<const Response&>()))>::value_type;

  explicit WatchReader(
      std::unique_ptr<grpc::ClientReaderInterface<Response>> reader)
      : reader_(std::move(reader)) {}

  // The next item, reading the next message when this one is used up;
  // false once the stream has ended (then call Finish).
  bool Read(Item* item) {
    while (next_ >= WatchItems(message_).size()) {
      message_.Clear();
      next_ = 0;
      if (!reader_->Read(&message_)) return false;
      ++messages_;
    }
    *item = WatchItems(message_)[next_++];
    return true;
  }

  // Whether the last item Read was its message's last (a good moment to
  // save a resume token: the server sent everything before it).
  bool end_of_message() const { return next_ >= WatchItems(message_).size(); }

  // Messages read so far.
  int64_t messages() const { return messages_; }

  grpc::Status Finish() { return reader_->Finish(); }

 private:
  std::unique_ptr<grpc::ClientReaderInterface<Response>> reader_;
  Response message_;
  int next_ = 0;
  int64_t messages_ = 0;
};

// Deduces the response type: WatchEvents(stub->WatchVlaStatuses(ctx, req)).
template <typename Response>
WatchReader<Response> WatchEvents(
    std::unique_ptr<grpc::ClientReader<Response>> reader) {
  return WatchReader<Response>(std::move(reader));
}

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_WATCH_H_
