// Transport credentials and channels between services: TLS (mutual TLS with
// a client CA) whose certificate files are re-read without a restart, and
// the bearer token a server sends to the services it calls.
#ifndef VLA_SERVICES_SERVER_SECURITY_H_
#define VLA_SERVICES_SERVER_SECURITY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/server/server.h"

namespace vla {

// Plaintext unless options.tls_cert/tls_key are set; then TLS from files
// re-read every tls_refresh_interval, requiring and verifying client
// certificates against tls_client_ca when that is set. Fails at once when a
// file is unreadable.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerOptions& options);

// A channel from this server to another service at `address` (a remote
// vmdb or evaluator): TLS when this server uses TLS (verifying the peer
// with tls_peer_ca, else tls_client_ca, else the system roots, and
// presenting this server's certificate as its client certificate), and the
// token of peer_token_file on every call when that is set.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakePeerChannel(
    const std::string& address, const ServerOptions& options);

// The first line of a token file, whitespace trimmed; errors name `flag`.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag);

}  // namespace vla

#endif  // VLA_SERVICES_SERVER_SECURITY_H_
