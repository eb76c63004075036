#include "services/common/access.h"

#include <google/protobuf/message_lite.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"

namespace vla {
namespace {

absl::string_view MethodName(absl::string_view full_method) {
  const size_t slash = full_method.rfind('/');
  return slash == absl::string_view::npos ? full_method
                                          : full_method.substr(slash + 1);
}

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         out.data());
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// mtime (ns) and size folded into one number that changes when the file
// does; 0 if the file is missing.
int64_t FileStamp(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec + static_cast<int64_t>(st.st_size) * 31 +
         static_cast<int64_t>(st.st_ino) * 17;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kReader, Role::kWriter, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "role: unknown role \"", name, "\"; choose from reader, writer, admin"));
}

Role RequiredRole(absl::string_view full_method) {
  const absl::string_view method = MethodName(full_method);
  if (method == "Ingest" || method == "IngestBatch" ||
      method == "RecordCheckIn") {
    return Role::kWriter;
  }
  for (absl::string_view prefix : {"Get", "List", "Watch"}) {
    if (absl::StartsWith(method, prefix)) return Role::kReader;
  }
  return Role::kAdmin;
}

bool IsIngestMethod(absl::string_view full_method) {
  const absl::string_view method = MethodName(full_method);
  return method == "Ingest" || method == "IngestBatch";
}

std::string Sha256Hex(absl::string_view data) {
  const auto hash = Sha256(data);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(hash.data()), hash.size()));
}

absl::StatusOr<std::vector<TokenAuthenticator::Entry>>
TokenAuthenticator::Parse(absl::string_view text) {
  std::vector<Entry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    // Never echo a line: it might hold a token pasted by mistake.
    const std::string where = absl::StrCat("tokens file line ", line_number);
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": expected \"<role> <name> <sha256-hex-of-token>\""));
    }
    auto role = ParseRole(fields[0]);
    if (!role.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", role.status().message()));
    }
    const absl::string_view hex = fields[2];
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdefABCDEF") !=
                                absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ": the third field must be the 64 hex digits of the token's "
          "SHA-256 (vlad --hash_token prints it)"));
    }
    Entry entry;
    const std::string bytes = absl::HexStringToBytes(hex);
    std::copy(bytes.begin(), bytes.end(), entry.hash.begin());
    entry.principal = Principal{std::string(fields[1]), *role};
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>>
TokenAuthenticator::FromText(absl::string_view text) {
  auto entries = Parse(text);
  if (!entries.ok()) return entries.status();
  auto auth = std::unique_ptr<TokenAuthenticator>(new TokenAuthenticator());
  auth->entries_ = *std::move(entries);
  return auth;
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>>
TokenAuthenticator::FromFile(const std::string& path,
                             absl::Duration reload_interval) {
  const int64_t stamp = FileStamp(path);
  auto text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("auth_tokens_file: ", text.status().message()));
  }
  auto entries = Parse(*text);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "auth_tokens_file: ", path, ": ", entries.status().message()));
  }
  auto auth = std::unique_ptr<TokenAuthenticator>(new TokenAuthenticator());
  auth->entries_ = *std::move(entries);
  auth->path_ = path;
  auth->reload_interval_ = reload_interval;
  auth->last_check_ = absl::Now();
  auth->file_stamp_ = stamp;
  return auth;
}

void TokenAuthenticator::AddToken(absl::string_view token,
                                  Principal principal) {
  std::lock_guard<std::mutex> lock(mu_);
  extra_.push_back(Entry{Sha256(token), std::move(principal)});
}

void TokenAuthenticator::MaybeReloadLocked() {
  if (path_.empty()) return;
  const absl::Time now = absl::Now();
  if (now - last_check_ < reload_interval_) return;
  last_check_ = now;
  const int64_t stamp = FileStamp(path_);
  if (stamp == file_stamp_) return;
  auto text = ReadFile(path_);
  absl::StatusOr<std::vector<Entry>> entries =
      text.ok() ? Parse(*text) : text.status();
  if (!entries.ok()) {
    Log(LogLevel::kError, "tokens file not reloaded; keeping the old tokens",
        {{"file", path_}, {"error", entries.status().ToString()}});
    return;
  }
  file_stamp_ = stamp;
  entries_ = *std::move(entries);
  Log(LogLevel::kInfo, "tokens file reloaded",
      {{"file", path_}, {"tokens", absl::StrCat(entries_.size())}});
}

std::optional<Principal> TokenAuthenticator::Authenticate(
    absl::string_view token) {
  const auto hash = Sha256(token);
  std::lock_guard<std::mutex> lock(mu_);
  MaybeReloadLocked();
  const Entry* match = nullptr;
  for (const auto* list : {&entries_, &extra_}) {
    for (const Entry& entry : *list) {
      const bool equal =
          CRYPTO_memcmp(entry.hash.data(), hash.data(), hash.size()) == 0;
      if (equal && match == nullptr) match = &entry;
    }
  }
  if (match == nullptr) return std::nullopt;
  return match->principal;
}

grpc::Status AccessGuard::Check(
    grpc::ServerContextBase* ctx, absl::string_view method,
    const google::protobuf::MessageLite* request) const {
  if (policy_ == nullptr) return grpc::Status::OK;
  const std::string full_method = absl::StrCat("/", service_, "/", method);
  if (policy_->authenticator != nullptr) {
    const auto& metadata = ctx->client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: missing; send \"authorization: "
                          "Bearer <token>\"");
    }
    const absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kBearer = "bearer ";
    if (value.size() <= kBearer.size() ||
        !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: expected \"Bearer <token>\"");
    }
    const std::optional<Principal> principal =
        policy_->authenticator->Authenticate(value.substr(kBearer.size()));
    if (!principal.has_value()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "authorization: unknown token");
    }
    const Role required = RequiredRole(full_method);
    if (principal->role < required) {
      return grpc::Status(
          grpc::StatusCode::PERMISSION_DENIED,
          absl::StrCat(method, ": needs role ", RoleName(required), "; \"",
                       principal->name, "\" has role ",
                       RoleName(principal->role)));
    }
  }
  if (request != nullptr) {
    const bool ingest = IsIngestMethod(full_method);
    const int64_t limit =
        ingest ? policy_->max_ingest_request_bytes : policy_->max_request_bytes;
    const int64_t size = static_cast<int64_t>(request->ByteSizeLong());
    if (size > limit) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat(method, ": request is ", size,
                                       " bytes; the limit is ", limit, " (",
                                       ingest ? "--max_ingest_message_bytes"
                                              : "--max_message_bytes",
                                       ")"));
    }
  }
  return grpc::Status::OK;
}

namespace {

class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string* header) : header_(header) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
BearerTokenInterceptor(std::string token) {
  return std::make_unique<BearerInterceptorFactory>(std::move(token));
}

}  // namespace vla
