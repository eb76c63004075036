#include "clients/lib/flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, server, "",
          "HOST:PORT of vlad (default: $VLA_SERVER, else 127.0.0.1:50051).");
ABSL_FLAG(std::string, token, "",
          "Bearer token sent as `authorization: Bearer <token>` (default: "
          "$VLA_TOKEN).");
ABSL_FLAG(bool, tls, false,
          "Use TLS (implied by --ca_file, --cert_file, --key_file and their "
          "environment variables).");
ABSL_FLAG(std::string, ca_file, "",
          "PEM root certificates for TLS (default: $VLA_CA_FILE, else the "
          "system roots).");
ABSL_FLAG(std::string, cert_file, "",
          "PEM client certificate chain for mTLS (default: $VLA_CERT_FILE).");
ABSL_FLAG(std::string, key_file, "",
          "PEM private key of --cert_file (default: $VLA_KEY_FILE).");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(30),
          "Deadline of each unary call.");
ABSL_FLAG(std::string, server_name_override, "",
          "TLS: the name to check the server certificate against.");

namespace vla::client {

ConnectionOptions ConnectionOptionsFromFlags() {
  ConnectionOptions o = ConnectionOptions::FromEnv();
  auto set = [](std::string* field, const std::string& flag) {
    if (!flag.empty()) *field = flag;
  };
  set(&o.address, absl::GetFlag(FLAGS_server));
  set(&o.token, absl::GetFlag(FLAGS_token));
  set(&o.ca_file, absl::GetFlag(FLAGS_ca_file));
  set(&o.cert_file, absl::GetFlag(FLAGS_cert_file));
  set(&o.key_file, absl::GetFlag(FLAGS_key_file));
  set(&o.server_name_override, absl::GetFlag(FLAGS_server_name_override));
  o.tls = o.tls || absl::GetFlag(FLAGS_tls);
  o.deadline = absl::GetFlag(FLAGS_deadline);
  return o;
}

}  // namespace vla::client
