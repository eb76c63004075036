// Opaque, tamper-evident page tokens (AIP-158). A token carries the cursor of
// the next page and is bound to the request it continues (method and filter):
// a token that was altered, forged, or sent with a different filter is
// INVALID_ARGUMENT. Tokens are signed with HMAC-SHA256 under a secret that a
// service keeps in its own database, so they survive restarts.
#ifndef VLA_SERVICES_COMMON_PAGE_TOKEN_H_
#define VLA_SERVICES_COMMON_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vla {

class PageTokenCodec {
 public:
  explicit PageTokenCodec(std::string secret) : secret_(std::move(secret)) {}

  // `scope` names what the token continues (e.g. "ListVlas\n<filter>").
  std::string Encode(absl::string_view scope, absl::string_view cursor) const;

  // The cursor of `token`; "" for an empty token (the first page).
  absl::StatusOr<std::string> Decode(absl::string_view scope,
                                     absl::string_view token) const;

 private:
  std::string Mac(absl::string_view payload) const;
  std::string secret_;
};

// Resume tokens of a stream that follows a StatusBoard: a board sequence,
// signed, and bound to the board's epoch. A board's sequences start over
// with each run of the server, so a token of another epoch (an earlier run)
// resumes nothing: it gets a fresh snapshot, like an expired token.
class ResumeTokenCodec {
 public:
  // `scope` names the method (e.g. "WatchObjectiveStatuses"); `epoch` is the
  // board's (StatusBoard::epoch()).
  ResumeTokenCodec(std::string secret, std::string scope, uint64_t epoch)
      : codec_(std::move(secret)), scope_(std::move(scope)), epoch_(epoch) {}

  std::string Encode(int64_t sequence) const;
  // The sequence to resume after; -1 (a fresh snapshot) for a token of
  // another epoch; INVALID_ARGUMENT (naming resume_token) if `token` was
  // not issued by this service or was altered.
  absl::StatusOr<int64_t> Decode(absl::string_view token) const;

 private:
  PageTokenCodec codec_;
  std::string scope_;
  uint64_t epoch_;
};

// 32 random bytes from the system's CSPRNG, for a new PageTokenCodec secret.
std::string NewRandomSecret();

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_PAGE_TOKEN_H_
