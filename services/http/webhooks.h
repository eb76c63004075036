// POST /v1/webhooks/jira and /v1/webhooks/servicenow: a delivery is checked
// (its secret first, before the body is looked at), mapped by the importers'
// code (clients/importers/importers.h, ImportJiraWebhook /
// ImportServiceNowWebhook) and stored with EvaluationService.IngestBatch
// before it is acknowledged. Event ids are the importers' stable ids, so a
// retried delivery, or a later file import of the same change, counts once.
//
// Secrets: Jira signs the body, `X-Hub-Signature: sha256=<hex HMAC-SHA256
// of the body under the secret>`; ServiceNow sends the shared secret in
// `X-VLA-Webhook-Token`. Both compared in constant time.
#ifndef VLA_SERVICES_HTTP_WEBHOOKS_H_
#define VLA_SERVICES_HTTP_WEBHOOKS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/metrics.h"
#include "services/http/transcoder.h"
#include "services/http/webhook_config.h"
#include "vla/v1/evaluation.grpc.pb.h"

namespace vla::http {

// The request as the handler sees it.
struct WebhookRequest {
  std::string source;  // "jira" or "servicenow" (the last path segment)
  QueryParams query;
  // A header by name (case-insensitive); "" when absent.
  std::function<std::string(absl::string_view)> header;
  absl::string_view body;
  std::string request_id;
};

struct WebhookReply {
  int http_status = 200;
  std::string json;  // the body
};

class Webhooks {
 public:
  // `evaluator`: a channel on which IngestBatch is allowed (the server's
  // in-process channel with its own token). `metrics` may be null.
  Webhooks(WebhookConfig config, std::shared_ptr<grpc::Channel> evaluator,
           metrics::Registry* metrics);

  // 200 {"events", "accepted", "duplicates", "ignored"} when stored (or
  // nothing to store); 401 for a missing or wrong secret; 404 for a source
  // that is not configured; 400 for a malformed delivery (nothing stored)
  // or rejected records (the others are stored: retrying stores nothing
  // twice); 503 when the evaluator cannot store now (retry).
  WebhookReply Handle(const WebhookRequest& request);

 private:
  absl::Status CheckSecret(const WebhookSource& source,
                           const WebhookRequest& request) const;
  void Count(const std::string& source, absl::string_view result);

  WebhookConfig config_;
  std::unique_ptr<v1::EvaluationService::Stub> stub_;
  metrics::Registry* metrics_;
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_WEBHOOKS_H_
