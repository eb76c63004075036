#include "services/server/security.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "services/common/access.h"

namespace vla {
namespace {

using grpc::experimental::FileWatcherCertificateProvider;

absl::Status CheckReadable(const std::string& path, absl::string_view flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  return absl::OkStatus();
}

unsigned int RefreshSeconds(const ServerOptions& options) {
  return static_cast<unsigned int>(
      std::max<int64_t>(1, absl::ToInt64Seconds(options.tls_refresh_interval)));
}

bool TlsEnabled(const ServerOptions& options) {
  return !options.tls_cert.empty() || !options.tls_key.empty();
}

absl::Status CheckTlsFiles(const ServerOptions& options) {
  if (options.tls_cert.empty() || options.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert, tls_key: set both, or neither for plaintext");
  }
  VLA_RETURN_IF_ERROR(CheckReadable(options.tls_cert, "tls_cert"));
  VLA_RETURN_IF_ERROR(CheckReadable(options.tls_key, "tls_key"));
  if (!options.tls_client_ca.empty()) {
    VLA_RETURN_IF_ERROR(CheckReadable(options.tls_client_ca, "tls_client_ca"));
  }
  if (!options.tls_peer_ca.empty()) {
    VLA_RETURN_IF_ERROR(CheckReadable(options.tls_peer_ca, "tls_peer_ca"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerOptions& options) {
  if (!TlsEnabled(options)) {
    if (!options.tls_client_ca.empty()) {
      return absl::InvalidArgumentError(
          "tls_client_ca: needs tls_cert and tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  VLA_RETURN_IF_ERROR(CheckTlsFiles(options));
  auto provider = std::make_shared<FileWatcherCertificateProvider>(
      options.tls_key, options.tls_cert, options.tls_client_ca,
      RefreshSeconds(options));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.tls_client_ca.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakePeerChannel(
    const std::string& address, const ServerOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (TlsEnabled(options)) {
    VLA_RETURN_IF_ERROR(CheckTlsFiles(options));
    const std::string& ca = !options.tls_peer_ca.empty()
                                ? options.tls_peer_ca
                                : options.tls_client_ca;
    auto provider = std::make_shared<FileWatcherCertificateProvider>(
        options.tls_key, options.tls_cert, ca, RefreshSeconds(options));
    grpc::experimental::TlsChannelCredentialsOptions tls;
    tls.set_certificate_provider(provider);
    tls.watch_identity_key_cert_pairs();
    if (!ca.empty()) tls.watch_root_certs();  // else the system roots
    credentials = grpc::experimental::TlsCredentials(tls);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (!options.peer_token_file.empty()) {
    VLA_ASSIGN_OR_RETURN(
        std::string token,
        ReadTokenFile(options.peer_token_file, "peer_token_file"));
    interceptors.push_back(BearerTokenInterceptor(std::move(token)));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address, credentials, grpc::ChannelArguments(), std::move(interceptors));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path,
                                          absl::string_view flag) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read a token from ", path));
  }
  std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": the first line of ", path, " is empty"));
  }
  return token;
}

}  // namespace vla
