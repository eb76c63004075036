// TLS for the HTTP listener from the same PEM files as the gRPC port
// (--tls_cert, --tls_key, --tls_client_ca), re-read when they change, as
// gRPC's file watcher does: each new connection's handshake uses the files
// as they were at most `refresh` ago; open connections keep theirs.
#ifndef VLA_SERVICES_HTTP_TLS_FILES_H_
#define VLA_SERVICES_HTTP_TLS_FILES_H_

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vla::http {

class TlsFiles {
 public:
  // Reads the files once; an error names the file. `client_ca` empty: no
  // client certificates asked for; else they are required (mutual TLS).
  static absl::StatusOr<std::unique_ptr<TlsFiles>> Load(std::string cert,
                                                        std::string key,
                                                        std::string client_ca,
                                                        absl::Duration refresh);
  ~TlsFiles();

  // Sets up `ctx` (a server context): certificate, key, client
  // verification, and a per-handshake hook that installs reloaded files.
  absl::Status Configure(SSL_CTX* ctx);

 private:
  struct Material;  // parsed certificate chain, key and CA store
  TlsFiles() = default;
  // The current material, re-read when due and the files changed.
  std::shared_ptr<Material> Current();
  static int OnCertificate(SSL* ssl, void* self);

  std::string cert_, key_, client_ca_;
  absl::Duration refresh_;
  std::mutex mu_;
  std::shared_ptr<Material> material_;
  absl::Time next_check_;
  long long stamp_ = 0;
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_TLS_FILES_H_
