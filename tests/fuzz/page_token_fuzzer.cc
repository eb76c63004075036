// Fuzzes the page-token decoder. The input is split at its first newline
// into a scope and the rest, used both as a token (decoding an arbitrary
// token must never crash) and as a cursor (its token must decode to it, and
// only under its own scope).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vla::PageTokenCodec* const codec =
      new vla::PageTokenCodec(std::string(32, 'k'));
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const absl::string_view scope = input.substr(0, newline);
  const absl::string_view rest = newline == absl::string_view::npos
                                     ? absl::string_view()
                                     : input.substr(newline + 1);

  // An arbitrary token: never a crash, and one that is accepted (only a
  // token the codec made can be, short of forging HMAC-SHA256) is bound to
  // its scope.
  const std::string other_scope = std::string(scope) + "x";
  absl::StatusOr<std::string> cursor = codec->Decode(scope, rest);
  if (cursor.ok() && !rest.empty() && codec->Decode(other_scope, rest).ok()) {
    __builtin_trap();
  }

  // A real token (of a size the decoder takes) round-trips, and is refused
  // under another scope.
  const std::string token = codec->Encode(scope, rest);
  if (token.size() > 2048) return 0;
  absl::StatusOr<std::string> back = codec->Decode(scope, token);
  if (!back.ok() || *back != rest) __builtin_trap();
  if (codec->Decode(other_scope, token).ok()) __builtin_trap();
  return 0;
}
