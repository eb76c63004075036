// The --webhook_config file of vlad: which webhook sources are on, their
// secrets and how their data maps (docs/integrations/README.md). Parsed
// and checked at start; an error names the file and line. Secrets are held
// in memory only and never logged or echoed.
//
//   # Comments are whole lines (a secret may hold '#').
//   [jira]
//   # Or: secret = ...
//   secret_file = /run/secrets/jira-webhook
//   # The default of ?valueStream=.
//   value_stream = delivery
//   team_field = customfield_10001
//   sla_field = customfield_10030
//   time_zone = UTC
//   # <source name> = <team id>; status phases: open, active, waiting,
//   # resolved, closed, cancelled.
//   team Network Ops = network
//   status Waiting for QA = waiting
//   service Payments API = payments
//
//   [servicenow]
//   secret_file = /run/secrets/servicenow-webhook
//   value_stream = incident
#ifndef VLA_SERVICES_HTTP_WEBHOOK_CONFIG_H_
#define VLA_SERVICES_HTTP_WEBHOOK_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/importers/importers.h"

namespace vla::http {

struct WebhookSource {
  bool enabled = false;
  // Jira: the HMAC-SHA256 key of X-Hub-Signature; ServiceNow: the token of
  // X-VLA-Webhook-Token. Never empty when enabled.
  std::string secret;
  // value_stream may be empty (then ?valueStream= is required).
  importers::ImportOptions options;
};

struct WebhookConfig {
  WebhookSource jira;
  WebhookSource servicenow;

  // Parses `text`; errors read "FILE:LINE: what is wrong" and never quote a
  // secret. secret_file paths are read relative to the working directory.
  static absl::StatusOr<WebhookConfig> Parse(absl::string_view file,
                                             absl::string_view text);
  static absl::StatusOr<WebhookConfig> FromFile(const std::string& path);
};

}  // namespace vla::http

#endif  // VLA_SERVICES_HTTP_WEBHOOK_CONFIG_H_
