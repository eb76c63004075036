// The client library shared by vlactl, the importers and the governance bot:
// how to reach `vlad` (address, TLS or mTLS, bearer token, deadline), and
// retries with exponential backoff for idempotent calls.
//
//   VLA_ASSIGN_OR_RETURN(ConnectionOptions options,
//   ConnectionOptions::FromEnv()); options.address = "vla.example.com:443";  //
//   flags override the env VLA_ASSIGN_OR_RETURN(auto channel,
//   MakeChannel(options)); auto stub = v1::VmdbService::NewStub(channel);
//   v1::Team team;
//   grpc::Status s = CallWithRetry(options, RetryPolicy(),
//       [&](grpc::ClientContext* ctx) { return stub->GetTeam(ctx, req, &team);
//       });
#ifndef VLA_CLIENTS_LIB_CLIENT_H_
#define VLA_CLIENTS_LIB_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vla::client {

// How to reach the server.
struct ConnectionOptions {
  // HOST:PORT (env VLA_SERVER).
  std::string address = "127.0.0.1:50051";
  // TLS; implied by ca_file, cert_file or key_file.
  bool tls = false;
  // PEM root certificates (env VLA_CA_FILE); empty: the system roots.
  std::string ca_file;
  // PEM client certificate chain and its key, for mTLS (env VLA_CERT_FILE,
  // VLA_KEY_FILE); both or neither.
  std::string cert_file;
  std::string key_file;
  // Sent as `authorization: Bearer <token>` when set (env VLA_TOKEN).
  std::string token;
  // Deadline of each unary call (streams have none).
  absl::Duration deadline = absl::Seconds(30);
  // TLS: the name to check the server's certificate against, if it differs
  // from the host in `address`.
  std::string server_name_override;

  // The defaults above, overridden by the VLA_* environment variables.
  static ConnectionOptions FromEnv();
};

// A channel to `options.address`; INVALID_ARGUMENT naming the file when a
// certificate or key file cannot be read, or the field when the options do
// not fit together. The channel reconnects quickly (backoff 100 ms to 2 s)
// so that retries see a restarted server soon.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options);

// A context carrying the bearer token and a deadline of `deadline` from now
// (absl::InfiniteDuration(): none, for streams).
std::unique_ptr<grpc::ClientContext> MakeContext(
    const ConnectionOptions& options, absl::Duration deadline);
// The same with options.deadline.
inline std::unique_ptr<grpc::ClientContext> MakeContext(
    const ConnectionOptions& options) {
  return MakeContext(options, options.deadline);
}

// Exponential backoff with jitter: retry n (1-based) waits
// min(max_backoff, initial_backoff * multiplier^(n-1)), scaled by a random
// factor in [1 - jitter, 1 + jitter].
struct RetryPolicy {
  // Attempts in all, the first included; 0: no limit.
  int max_attempts = 5;
  // No new attempt starts later than this after the first; infinite: no
  // limit.
  absl::Duration total_timeout = absl::InfiniteDuration();
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
  double jitter = 0.2;
};

// The wait before retry `retry` (1-based).
absl::Duration BackoffDelay(const RetryPolicy& policy, int retry,
                            absl::BitGenRef gen);

// Whether a failed call may be repeated: UNAVAILABLE only.
bool IsRetryable(const grpc::Status& status);

// Runs `attempt` until it returns a status that is not retryable or the
// policy is used up, sleeping BackoffDelay between attempts; returns the
// last status.
grpc::Status RetryLoop(const RetryPolicy& policy,
                       absl::FunctionRef<grpc::Status()> attempt);

// Calls `fn(grpc::ClientContext*) -> grpc::Status` with a fresh context
// (MakeContext(options)) on each attempt. Only for idempotent calls: Get,
// List, and creates that carry a request_id.
template <class F>
grpc::Status CallWithRetry(const ConnectionOptions& options,
                           const RetryPolicy& policy, F&& fn) {
  return RetryLoop(policy, [&]() -> grpc::Status {
    std::unique_ptr<grpc::ClientContext> ctx = MakeContext(options);
    return fn(ctx.get());
  });
}

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_CLIENT_H_
