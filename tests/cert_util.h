// Throwaway X.509 certificates for TLS tests, made with OpenSSL's C API
// (no `openssl` command needed): a CA, and leaf certificates it signs.
#ifndef VLA_TESTS_CERT_UTIL_H_
#define VLA_TESTS_CERT_UTIL_H_

#include <string>

namespace vla::testing {

struct KeyCert {
  std::string key_pem;
  std::string cert_pem;
};

// A self-signed CA called `name` (P-256 key, valid for a day).
KeyCert MakeCa(const std::string& name);

// A certificate for `name` signed by `ca`, valid for the DNS name
// "localhost" and the IP 127.0.0.1, for servers and clients alike.
KeyCert MakeLeaf(const KeyCert& ca, const std::string& name);

// Writes `contents` to `path` atomically (write, then rename), the way a
// Kubernetes Secret volume updates.
void WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace vla::testing

#endif  // VLA_TESTS_CERT_UTIL_H_
