// Command-line flags for ConnectionOptions, shared by every client binary:
// --server, --token, --tls, --ca_file, --cert_file, --key_file, --deadline,
// --server_name_override. A flag that is set overrides the VLA_* environment
// variable (ConnectionOptions::FromEnv), which overrides the default.
#ifndef VLA_CLIENTS_LIB_FLAGS_H_
#define VLA_CLIENTS_LIB_FLAGS_H_

#include "clients/lib/client.h"

namespace vla::client {

// ConnectionOptions from the environment and the flags (call after
// absl::ParseCommandLine).
ConnectionOptions ConnectionOptionsFromFlags();

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_FLAGS_H_
