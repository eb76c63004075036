#include "clients/lib/client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vla::client {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// The contents of a PEM file; INVALID_ARGUMENT naming `field` and the file.
absl::StatusOr<std::string> ReadPem(absl::string_view field,
                                    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot read file \"", path, "\""));
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (out.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": file \"", path, "\" is empty"));
  }
  return out.str();
}

}  // namespace

ConnectionOptions ConnectionOptions::FromEnv() {
  ConnectionOptions o;
  if (std::string v = Env("VLA_SERVER"); !v.empty()) o.address = v;
  o.token = Env("VLA_TOKEN");
  o.ca_file = Env("VLA_CA_FILE");
  o.cert_file = Env("VLA_CERT_FILE");
  o.key_file = Env("VLA_KEY_FILE");
  return o;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ConnectionOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError(
        "address: empty (set --server or "
        "VLA_SERVER to HOST:PORT)");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "cert_file, key_file: give both (mTLS) or neither");
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  const bool tls =
      options.tls || !options.ca_file.empty() || !options.cert_file.empty();
  if (!tls) {
    if (!options.server_name_override.empty()) {
      return absl::InvalidArgumentError(
          "server_name_override: only meaningful with TLS");
    }
    return grpc::CreateCustomChannel(options.address,
                                     grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    auto pem = ReadPem("ca_file", options.ca_file);
    if (!pem.ok()) return pem.status();
    ssl.pem_root_certs = *std::move(pem);
  }
  if (!options.cert_file.empty()) {
    auto cert = ReadPem("cert_file", options.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem("key_file", options.key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  if (!options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl),
                                   args);
}

std::unique_ptr<grpc::ClientContext> MakeContext(
    const ConnectionOptions& options, absl::Duration deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (deadline != absl::InfiniteDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  }
  if (!options.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
  return ctx;
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int retry,
                            absl::BitGenRef gen) {
  const double base = absl::ToDoubleSeconds(policy.initial_backoff) *
                      std::pow(policy.multiplier, std::max(0, retry - 1));
  const double capped =
      std::min(base, absl::ToDoubleSeconds(policy.max_backoff));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0);
  const double factor = jitter > 0 ? absl::Uniform(absl::IntervalClosed, gen,
                                                   1 - jitter, 1 + jitter)
                                   : 1.0;
  return absl::Seconds(capped * factor);
}

bool IsRetryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE;
}

grpc::Status RetryLoop(const RetryPolicy& policy,
                       absl::FunctionRef<grpc::Status()> attempt) {
  absl::BitGen gen;
  const absl::Time start = absl::Now();
  for (int n = 1;; ++n) {
    grpc::Status status = attempt();
    if (status.ok() || !IsRetryable(status)) return status;
    if (policy.max_attempts > 0 && n >= policy.max_attempts) return status;
    const absl::Duration wait = BackoffDelay(policy, n, gen);
    if (absl::Now() + wait - start > policy.total_timeout) return status;
    absl::SleepFor(wait);
  }
}

}  // namespace vla::client
