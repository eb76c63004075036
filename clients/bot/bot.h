// The governance bot's plumbing: follows
// OkrStatusService.WatchObjectiveStatuses and
// EvaluationService.WatchVlaStatuses, reconnecting with backoff, and reports
// each transition of TransitionTracker on stdout and to a webhook.
//
//   GovernanceBot bot(channel, connection, options);
//   std::thread t([&] { bot.Run(); });
//   ... bot.Stop(); t.join();
#ifndef VLA_CLIENTS_BOT_BOT_H_
#define VLA_CLIENTS_BOT_BOT_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/bot/transitions.h"
#include "clients/lib/client.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"

namespace vla::bot {

struct BotOptions {
  // POST {"text": ...} here for each message; empty: stdout only.
  std::string webhook_url;
  // Keeps the objective stream's resume token across runs; empty: none.
  std::string state_file;
  // Filters of the two streams (see api.md).
  std::string objective_filter;
  std::string vla_filter;
  // Between broken streams (max_attempts 0: forever).
  client::RetryPolicy reconnect = {.max_attempts = 0,
                                   .initial_backoff = absl::Milliseconds(200),
                                   .max_backoff = absl::Seconds(10)};
};

class GovernanceBot {
 public:
  GovernanceBot(std::shared_ptr<grpc::Channel> channel,
                client::ConnectionOptions connection, BotOptions options);

  // Follows both streams until Stop(), reporting every transition. The
  // first snapshot of each stream is the baseline: nothing is reported for
  // it. Returns OK after Stop(), or the error that no reconnect can cure
  // (INVALID_ARGUMENT filter, UNAUTHENTICATED, PERMISSION_DENIED, ...).
  absl::Status Run();
  // Ends Run(); thread-safe.
  void Stop();

  // The current red list (RedList), paging through both List methods.
  absl::StatusOr<std::vector<std::string>> RedListNow();

  // The period report (client::ReportMarkdown: the last six periods, the
  // current one included) of every ACTIVE VLA that matches the VLA filter,
  // one after another; "" when there is none.
  absl::StatusOr<std::string> PeriodReportsNow(v1::CalendarPeriod period);

  // Prints `message` as one line on stdout and posts it to the webhook
  // (3 attempts; a failure is logged, not fatal). Thread-safe.
  void Report(const std::string& message);

 private:
  void WatchObjectives();
  void WatchVlas();
  // Registers the context of a stream so that Stop() can cancel it; false
  // when stopping.
  bool Attach(grpc::ClientContext* ctx);
  void Detach(grpc::ClientContext* ctx);
  // Sleeps the backoff before reconnect `n`; false when stopping.
  bool Backoff(int n);
  // After a stream ended: false (and Stop()) when `status` is fatal.
  bool Recoverable(absl::string_view stream, const grpc::Status& status);
  // Every VLA status that matches the VLA filter, all pages.
  absl::StatusOr<std::vector<v1::VlaStatus>> ListVlas(
      const client::RetryPolicy& retry);
  std::string LoadResumeToken();
  void SaveResumeToken(const std::string& token);

  std::unique_ptr<v1::OkrStatusService::Stub> okr_;
  std::unique_ptr<v1::EvaluationService::Stub> evaluation_;
  const client::ConnectionOptions connection_;
  const BotOptions options_;

  std::mutex mu_;  // guards stopped_, contexts_
  std::condition_variable cv_;
  bool stopped_ = false;
  absl::Status fatal_;
  std::vector<grpc::ClientContext*> contexts_;

  std::mutex tracker_mu_;
  TransitionTracker tracker_;
  std::mutex out_mu_;  // one message at a time on stdout and the webhook
};

}  // namespace vla::bot

#endif  // VLA_CLIENTS_BOT_BOT_H_
