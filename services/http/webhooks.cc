#include "services/http/webhooks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/status_util.h"
#include "services/common/access.h"
#include "services/common/request_id.h"

namespace vla::http {
namespace {

// Equal in time independent of where they differ (both hashed first, so
// the lengths leak nothing either).
bool SecretEquals(absl::string_view a, absl::string_view b) {
  const std::string ha = Sha256Hex(a);
  const std::string hb = Sha256Hex(b);
  return CRYPTO_memcmp(ha.data(), hb.data(), ha.size()) == 0;
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(out), len));
}

WebhookReply Error(const absl::Status& status) {
  return {HttpStatusOf(status.code()), ErrorJson(status)};
}

}  // namespace

Webhooks::Webhooks(WebhookConfig config,
                   std::shared_ptr<grpc::Channel> evaluator,
                   metrics::Registry* metrics)
    : config_(std::move(config)),
      stub_(v1::EvaluationService::NewStub(std::move(evaluator))),
      metrics_(metrics) {}

void Webhooks::Count(const std::string& source, absl::string_view result) {
  if (metrics_ == nullptr) return;
  metrics_
      ->GetCounter("vla_webhook_deliveries_total",
                   "Webhook deliveries by source and result (stored, "
                   "ignored, unauthenticated, malformed, rejected, failed).",
                   {{"source", source}, {"result", std::string(result)}})
      .Increment();
}

absl::Status Webhooks::CheckSecret(const WebhookSource& source,
                                   const WebhookRequest& request) const {
  if (request.source == "jira") {
    const std::string header = request.header("X-Hub-Signature");
    absl::string_view signature = header;
    if (!absl::ConsumePrefix(&signature, "sha256=")) {
      return absl::UnauthenticatedError(
          "X-Hub-Signature: required, as sha256=<hex HMAC-SHA256 of the body "
          "under the webhook secret>");
    }
    if (!SecretEquals(absl::AsciiStrToLower(signature),
                      HmacSha256Hex(source.secret, request.body))) {
      return absl::UnauthenticatedError(
          "X-Hub-Signature: does not match the body and the secret");
    }
    return absl::OkStatus();
  }
  const std::string token = request.header("X-VLA-Webhook-Token");
  if (token.empty()) {
    return absl::UnauthenticatedError("X-VLA-Webhook-Token: required");
  }
  if (!SecretEquals(token, source.secret)) {
    return absl::UnauthenticatedError("X-VLA-Webhook-Token: wrong token");
  }
  return absl::OkStatus();
}

WebhookReply Webhooks::Handle(const WebhookRequest& request) {
  const WebhookSource* source = request.source == "jira" ? &config_.jira
                                : request.source == "servicenow"
                                    ? &config_.servicenow
                                    : nullptr;
  if (source == nullptr || !source->enabled) {
    return Error(absl::NotFoundError(absl::StrCat(
        "no webhook \"", request.source.substr(0, 40),
        "\" is configured (--webhook_config: [jira], [servicenow])")));
  }
  const std::string& name = request.source;
  if (absl::Status s = CheckSecret(*source, request); !s.ok()) {
    Count(name, "unauthenticated");
    return Error(s);
  }
  importers::ImportOptions options = source->options;
  for (const auto& [key, value] : request.query) {
    if (key == "valueStream" || key == "value_stream") {
      options.value_stream = value;
    } else {
      Count(name, "malformed");
      return Error(absl::InvalidArgumentError(
          absl::StrCat("query parameter ", key.substr(0, 40),
                       ": unknown (only valueStream is accepted)")));
    }
  }
  if (options.value_stream.empty()) {
    Count(name, "malformed");
    return Error(absl::InvalidArgumentError(
        "valueStream: required (query parameter, or value_stream in "
        "--webhook_config)"));
  }
  const importers::InputFile delivery{"body", request.body};
  absl::StatusOr<importers::ImportResult> mapped =
      name == "jira" ? importers::ImportJiraWebhook(delivery, options)
                     : importers::ImportServiceNowWebhook(delivery, options);
  if (!mapped.ok()) {
    Count(name, "malformed");
    return Error(mapped.status());
  }
  if (mapped->events.empty()) {
    Count(name, "ignored");
    return {200,
            absl::StrCat(R"({"events":0,"accepted":"0","duplicates":"0",)",
                         R"("ignored":)", JsonQuote(mapped->ignored), "}")};
  }
  v1::IngestRequest ingest;
  for (v1::WorkItemEvent& e : mapped->events) {
    *ingest.add_work_item_events() = std::move(e);
  }
  grpc::ClientContext ctx;
  ctx.AddMetadata(kRequestIdKey, request.request_id);
  v1::IngestResponse response;
  const grpc::Status status = stub_->IngestBatch(&ctx, ingest, &response);
  if (!status.ok()) {
    Count(name, "failed");
    return Error(FromGrpcStatus(status));
  }
  if (response.rejected_size() > 0) {
    Count(name, "rejected");
    std::vector<std::string> reasons;
    for (const v1::Rejection& r : response.rejected()) {
      const bool known =
          r.index() >= 0 && r.index() < ingest.work_item_events_size();
      reasons.push_back(absl::StrCat(
          known ? ingest.work_item_events(r.index()).event_id() : "?", ": ",
          r.reason()));
    }
    return Error(absl::InvalidArgumentError(absl::StrCat(
        response.rejected_size(), " of ", ingest.work_item_events_size(),
        " events rejected (the others are stored): ",
        absl::StrJoin(reasons, "; "))));
  }
  Count(name, "stored");
  return {200, absl::StrCat(R"({"events":)", ingest.work_item_events_size(),
                            R"(,"accepted":")", response.accepted(),
                            R"(","duplicates":")", response.duplicates(),
                            R"(","ignored":""})")};
}

}  // namespace vla::http
