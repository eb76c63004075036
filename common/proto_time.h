// Conversions between absl time types and google.protobuf well-known types.
#ifndef VLA_COMMON_PROTO_TIME_H_
#define VLA_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace vla {

google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::Time FromProtoTime(const google::protobuf::Timestamp& t);
google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

// True when seconds and nanos are in the ranges protobuf documents.
bool IsValidProtoTime(const google::protobuf::Timestamp& t);
bool IsValidProtoDuration(const google::protobuf::Duration& d);

}  // namespace vla

#endif  // VLA_COMMON_PROTO_TIME_H_
