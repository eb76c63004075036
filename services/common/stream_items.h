// Items of batched stream messages (api.md, "Streams carry batches"),
// encoded once and shared by every subscriber that gets them.
//
// A watch response such as WatchObjectiveStatusesResponse{repeated
// ObjectiveStatusEvent events = 1} is, on the wire, the concatenation of its
// items, each encoded as that field (tag, length, the event's bytes). So a
// StatusBoard whose items are those encodings (EncodedBoard: reference-
// counted grpc::Slices) serializes each event once per change, and a
// subscriber's message is the list of its items' slices (BatchMessage):
// nothing is copied or serialized per subscriber.
#ifndef VLA_SERVICES_COMMON_STREAM_ITEMS_H_
#define VLA_SERVICES_COMMON_STREAM_ITEMS_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <functional>
#include <vector>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message_lite.h"
#include "services/common/status_board.h"

namespace vla {

// A board whose items are encoded fields of a stream's response.
template <typename Status>
using EncodedBoard = StatusBoard<Status, grpc::Slice>;

// `item` encoded as the length-delimited field `field_number` of its
// enclosing message.
inline grpc::Slice EncodeField(int field_number,
                               const google::protobuf::MessageLite& item) {
  using google::protobuf::io::CodedOutputStream;
  const uint32_t tag = static_cast<uint32_t>(field_number) << 3 | 2;
  const size_t length = item.ByteSizeLong();
  grpc::Slice slice(CodedOutputStream::VarintSize32(tag) +
                    CodedOutputStream::VarintSize64(length) + length);
  // A fresh slice: ours to fill.
  auto* p = const_cast<uint8_t*>(slice.begin());
  p = CodedOutputStream::WriteVarint32ToArray(tag, p);
  p = CodedOutputStream::WriteVarint64ToArray(length, p);
  item.SerializeWithCachedSizesToArray(p);
  return slice;
}

// The builder of an EncodedBoard whose events become `EventProto`s (set by
// `fill`), encoded as field `field_number` of the stream's response (e.g.
// WatchVlaStatusesResponse::kEventsFieldNumber). Items are measured in
// bytes.
template <typename EventProto, typename Status>
typename EncodedBoard<Status>::Builder EncodedItems(
    int field_number,
    std::function<void(const BoardEvent<Status>&, EventProto*)> fill) {
  return [field_number, fill = std::move(fill)](const BoardEvent<Status>& event,
                                                grpc::Slice* out) -> size_t {
    EventProto proto;
    fill(event, &proto);
    *out = EncodeField(field_number, proto);
    return out->size();
  };
}

// One response message made of encoded items.
inline grpc::ByteBuffer BatchMessage(const std::vector<grpc::Slice>& items) {
  return grpc::ByteBuffer(items.data(), items.size());
}

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_STREAM_ITEMS_H_
