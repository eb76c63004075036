// Status helpers shared by every service: early-return macros for
// absl::Status / absl::StatusOr, and the one conversion to grpc::Status.
//
//   absl::StatusOr<Team> Load(...) {
//     VLA_RETURN_IF_ERROR(Check(...));
//     VLA_ASSIGN_OR_RETURN(std::string blob, store.Get(name));
//     ...
//   }
#ifndef VLA_COMMON_STATUS_UTIL_H_
#define VLA_COMMON_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vla {

// Maps an absl::Status to the grpc::Status with the same canonical code and
// message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Maps a grpc::Status back (used by clients of other services).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace vla

#define VLA_STATUS_CONCAT_INNER_(a, b) a##b
#define VLA_STATUS_CONCAT_(a, b) VLA_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function if it is not OK.
#define VLA_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status vla_status_ = (expr);       \
    if (!vla_status_.ok()) return vla_status_; \
  } while (false)

// `VLA_ASSIGN_OR_RETURN(T x, StatusOrExpr);` declares or assigns `x` from the
// value of a StatusOr, or returns its error status.
#define VLA_ASSIGN_OR_RETURN(lhs, expr)                                        \
  VLA_ASSIGN_OR_RETURN_IMPL_(VLA_STATUS_CONCAT_(vla_statusor_, __LINE__), lhs, \
                             expr)
#define VLA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // VLA_COMMON_STATUS_UTIL_H_
