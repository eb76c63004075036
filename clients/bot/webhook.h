// Posts a message to a chat webhook (Slack, Teams, Mattermost and the like):
// HTTP POST of {"text": "..."} as application/json.
#ifndef VLA_CLIENTS_BOT_WEBHOOK_H_
#define VLA_CLIENTS_BOT_WEBHOOK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace vla::bot {

// One POST; UNAVAILABLE naming the URL when it cannot be delivered or the
// answer is not 2xx.
absl::Status PostWebhook(const std::string& url, const std::string& text,
                         absl::Duration timeout = absl::Seconds(10));

}  // namespace vla::bot

#endif  // VLA_CLIENTS_BOT_WEBHOOK_H_
