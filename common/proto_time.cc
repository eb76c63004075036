#include "common/proto_time.h"

#include <cstdlib>

namespace vla {

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);
  google::protobuf::Timestamp out;
  out.set_seconds(s);
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(s))));
  return out;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t s = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(s);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

bool IsValidProtoTime(const google::protobuf::Timestamp& t) {
  // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as timestamp.proto says.
  return t.seconds() >= -62135596800LL && t.seconds() <= 253402300799LL &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

bool IsValidProtoDuration(const google::protobuf::Duration& d) {
  if (std::llabs(d.seconds()) > 315576000000LL) return false;
  if (d.nanos() <= -1000000000 || d.nanos() >= 1000000000) return false;
  return (d.seconds() >= 0 && d.nanos() >= 0) ||
         (d.seconds() <= 0 && d.nanos() <= 0);
}

}  // namespace vla
