// Access control and per-method request limits for the gRPC services.
//
// Roles (api.md): reader = Get*/List*/Watch*, writer = reader + Ingest,
// IngestBatch, RecordCheckIn, admin = everything. RequiredRole() is the one
// table that maps a full method name to the role it needs.
//
// Tokens come from a file (the Kubernetes Secret), one per line:
//   <role> <name> <sha256-hex-of-token>
// e.g. `admin vlactl 9f86d081884c7d65...`. Only the SHA-256 of each token is
// kept, in the file and in memory; `vlad --hash_token` prints the hash of a
// token read from stdin. Empty lines and lines starting with '#' are skipped.
//
// Every service method starts with
//   if (auto* r = guard_.Reject<grpc::ServerUnaryReactor>(ctx, __func__, req))
//     return r;
// which checks the caller's `authorization: Bearer <token>` against the
// method's role and the request's size against the method's limit, and
// answers the call itself (UNAUTHENTICATED, PERMISSION_DENIED,
// RESOURCE_EXHAUSTED) when either fails. tests/auth_test.cc calls every
// method of every service, so a method without the check fails that test.
#ifndef VLA_SERVICES_COMMON_ACCESS_H_
#define VLA_SERVICES_COMMON_ACCESS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace vla {

enum class Role { kReader = 1, kWriter = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);
absl::StatusOr<Role> ParseRole(absl::string_view name);

// The role a method needs; `full_method` is "/package.Service/Method".
// Get*, List*, Watch*: reader; Ingest, IngestBatch, RecordCheckIn: writer;
// anything else (Create*, Update*, Delete*, new methods): admin.
Role RequiredRole(absl::string_view full_method);

// Ingest and IngestBatch may carry bigger requests than other methods.
bool IsIngestMethod(absl::string_view full_method);

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Who a token belongs to.
struct Principal {
  std::string name;
  Role role = Role::kReader;
};

// Token hashes mapped to principals, from a tokens file. The file is read
// again when it changes (checked at most once per `reload_interval`), so
// rotating a Secret needs no restart; a file that no longer parses keeps
// the previous tokens (and is logged, without its contents).
class TokenAuthenticator {
 public:
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromFile(
      const std::string& path, absl::Duration reload_interval);
  // Parses the tokens file format; errors name the line.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> FromText(
      absl::string_view text);

  // Adds a token that is valid besides those of the file (the server's own
  // in-process token); kept across reloads.
  void AddToken(absl::string_view token, Principal principal);

  // The principal of `token`, if any. Compares hashes in constant time and
  // looks at every entry, so timing tells nothing about which one matched.
  std::optional<Principal> Authenticate(absl::string_view token);

 private:
  struct Entry {
    std::array<unsigned char, 32> hash;
    Principal principal;
  };
  static absl::StatusOr<std::vector<Entry>> Parse(absl::string_view text);
  void MaybeReloadLocked();

  std::mutex mu_;
  std::vector<Entry> entries_;  // from the file
  std::vector<Entry> extra_;    // AddToken
  std::string path_;
  absl::Duration reload_interval_;
  absl::Time last_check_;
  int64_t file_stamp_ = 0;  // mtime and size of the file last read
};

// What a server enforces on every call; shared by its services.
struct AccessPolicy {
  // Null: authentication is off (development).
  std::shared_ptr<TokenAuthenticator> authenticator;
  // Largest serialized request per method (bytes); ingest methods have
  // their own limit.
  int64_t max_request_bytes = 4 << 20;
  int64_t max_ingest_request_bytes = 16 << 20;
};

// The check each method of one service runs first.
class AccessGuard {
 public:
  // `policy` may be null (no checks) and must outlive the guard.
  AccessGuard(const AccessPolicy* policy, absl::string_view service_full_name)
      : policy_(policy), service_(service_full_name) {}

  // OK, or why `method` (the bare name, e.g. "GetTeam") may not run.
  // Works for callback and async calls alike.
  grpc::Status Check(grpc::ServerContextBase* ctx, absl::string_view method,
                     const google::protobuf::MessageLite* request) const;

  // Null if the call may proceed; else a reactor that finishes the call with
  // the error. `Reactor` is the method's reactor type.
  template <typename Reactor>
  Reactor* Reject(grpc::CallbackServerContext* ctx, absl::string_view method,
                  const google::protobuf::MessageLite* request = nullptr) {
    grpc::Status status = Check(ctx, method, request);
    if (status.ok()) return nullptr;
    return new Rejected<Reactor>(std::move(status));
  }

 private:
  template <typename Reactor>
  class Rejected final : public Reactor {
   public:
    explicit Rejected(grpc::Status status) { this->Finish(std::move(status)); }
    void OnDone() override { delete this; }
  };

  const AccessPolicy* policy_;
  std::string service_;
};

// Client side: adds `authorization: Bearer <token>` to every call of a
// channel (works on plaintext channels too, unlike call credentials).
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
BearerTokenInterceptor(std::string token);

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_ACCESS_H_
