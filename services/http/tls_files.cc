#include "services/http/tls_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vla::http {

struct TlsFiles::Material {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // intermediates
  EVP_PKEY* key = nullptr;
  X509_STORE* store = nullptr;  // client CAs; null without mutual TLS
  ~Material() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_STORE_free(store);
  }
};

namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

long long Stamp(const std::string& path) {
  struct stat st;
  if (path.empty() || stat(path.c_str(), &st) != 0) return 0;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000 +
         st.st_mtim.tv_nsec + static_cast<long long>(st.st_size) * 31 +
         static_cast<long long>(st.st_ino) * 17;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsFiles>> TlsFiles::Load(
    std::string cert, std::string key, std::string client_ca,
    absl::Duration refresh) {
  auto files = std::unique_ptr<TlsFiles>(new TlsFiles());
  files->cert_ = std::move(cert);
  files->key_ = std::move(key);
  files->client_ca_ = std::move(client_ca);
  files->refresh_ = refresh;
  if (files->Current() == nullptr) {
    return absl::InvalidArgumentError(
        "http TLS: cannot load --tls_cert/--tls_key/--tls_client_ca (see the "
        "log)");
  }
  return files;
}

TlsFiles::~TlsFiles() = default;

std::shared_ptr<TlsFiles::Material> TlsFiles::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  if (material_ != nullptr && now < next_check_) return material_;
  next_check_ = now + refresh_;
  const long long stamp =
      Stamp(cert_) + 3 * Stamp(key_) + 7 * Stamp(client_ca_);
  if (material_ != nullptr && stamp == stamp_) return material_;
  auto m = std::make_shared<Material>();
  std::string error;
  if (BIO* bio = BIO_new_file(cert_.c_str(), "r")) {
    m->leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    m->chain = sk_X509_new_null();
    while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      sk_X509_push(m->chain, extra);
    }
    ERR_clear_error();  // the loop ends on "no start line"
    BIO_free(bio);
  }
  if (m->leaf == nullptr) error = absl::StrCat("tls_cert: cannot read ", cert_);
  if (error.empty()) {
    if (BIO* bio = BIO_new_file(key_.c_str(), "r")) {
      m->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
    }
    if (m->key == nullptr) {
      error = absl::StrCat("tls_key: cannot read ", key_);
    } else if (X509_check_private_key(m->leaf, m->key) != 1) {
      error = "tls_key: does not match tls_cert";
    }
  }
  if (error.empty() && !client_ca_.empty()) {
    m->store = X509_STORE_new();
    if (X509_STORE_load_file(m->store, client_ca_.c_str()) != 1) {
      error = absl::StrCat("tls_client_ca: cannot read ", client_ca_, ": ",
                           OpenSslError());
    }
  }
  if (!error.empty()) {
    ERR_clear_error();
    // Keep serving with the files read before (a rotation half written).
    Log(LogLevel::kError, "http TLS files not loaded", {{"error", error}});
    return material_;
  }
  if (material_ != nullptr) Log(LogLevel::kInfo, "http TLS files reloaded");
  material_ = std::move(m);
  stamp_ = stamp;
  return material_;
}

absl::Status TlsFiles::Configure(SSL_CTX* ctx) {
  std::shared_ptr<Material> m = Current();
  if (m == nullptr) return absl::InvalidArgumentError("http TLS: no files");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_cert_and_key(ctx, m->leaf, m->key, m->chain, 1) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http TLS: ", OpenSslError()));
  }
  if (m->store != nullptr) {
    SSL_CTX_set1_verify_cert_store(ctx, m->store);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  SSL_CTX_set_cert_cb(ctx, &TlsFiles::OnCertificate, this);
  return absl::OkStatus();
}

int TlsFiles::OnCertificate(SSL* ssl, void* self) {
  std::shared_ptr<Material> m = static_cast<TlsFiles*>(self)->Current();
  if (m == nullptr) return 0;
  if (SSL_use_cert_and_key(ssl, m->leaf, m->key, m->chain, 1) != 1) return 0;
  if (m->store != nullptr) SSL_set1_verify_cert_store(ssl, m->store);
  return 1;
}

}  // namespace vla::http
