#include "services/common/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vla {
namespace {

constexpr char kVersion = 1;
constexpr size_t kScopeDigestSize = 8;
constexpr size_t kMacSize = 16;
constexpr size_t kMaxTokenSize = 2048;

std::string ScopeDigest(absl::string_view scope) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(scope.data()), scope.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), kScopeDigestSize);
}

absl::Status BadToken(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("page_token: ", why));
}

}  // namespace

std::string PageTokenCodec::Mac(absl::string_view payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
       mac, &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), kMacSize);
}

std::string PageTokenCodec::Encode(absl::string_view scope,
                                   absl::string_view cursor) const {
  std::string payload =
      absl::StrCat(std::string(1, kVersion), ScopeDigest(scope), cursor);
  return absl::WebSafeBase64Escape(absl::StrCat(payload, Mac(payload)));
}

absl::StatusOr<std::string> PageTokenCodec::Decode(
    absl::string_view scope, absl::string_view token) const {
  if (token.empty()) return std::string();
  if (token.size() > kMaxTokenSize) return BadToken("too long");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() < 1 + kScopeDigestSize + kMacSize || raw[0] != kVersion) {
    return BadToken("malformed; pass next_page_token back unchanged");
  }
  const absl::string_view payload(raw.data(), raw.size() - kMacSize);
  const std::string expected = Mac(payload);
  if (CRYPTO_memcmp(expected.data(), raw.data() + payload.size(), kMacSize) !=
      0) {
    return BadToken("not issued by this service, or altered");
  }
  if (payload.substr(1, kScopeDigestSize) != ScopeDigest(scope)) {
    return BadToken("issued for a different method or filter");
  }
  return std::string(payload.substr(1 + kScopeDigestSize));
}

std::string ResumeTokenCodec::Encode(int64_t sequence) const {
  return codec_.Encode(scope_, absl::StrCat(epoch_, ":", sequence));
}

absl::StatusOr<int64_t> ResumeTokenCodec::Decode(
    absl::string_view token) const {
  absl::StatusOr<std::string> cursor = codec_.Decode(scope_, token);
  if (!cursor.ok() || cursor->empty()) {
    return absl::InvalidArgumentError(
        "resume_token: not issued by this service, or altered");
  }
  // "<epoch>:<sequence>"; a signed cursor of another form is from a version
  // without epochs: as old as another epoch.
  const std::vector<absl::string_view> parts = absl::StrSplit(*cursor, ':');
  uint64_t epoch = 0;
  int64_t sequence = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &epoch) ||
      !absl::SimpleAtoi(parts[1], &sequence) || epoch != epoch_) {
    return -1;
  }
  return sequence;
}

std::string NewRandomSecret() {
  std::string secret(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return secret;
}

}  // namespace vla
