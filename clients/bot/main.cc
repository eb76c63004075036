// vla-governance-bot: tells governance when value goes red. Follows the
// objective and VLA status streams of `vlad` and reports, one line each on
// stdout (and to --webhook_url), every objective entering AT_RISK, OFF_TRACK
// or MISSED, every VLA entering BREACHED, every new watermelon and every new
// dispute. With --once, prints the current red list and exits.
//
// Exit codes: 0 fine (--once: the list was printed); 1 bad flags or
// connection options; 2 the server is unreachable (--once); 3 the server
// refused the request (bad filter, UNAUTHENTICATED, PERMISSION_DENIED, ...).
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "clients/bot/bot.h"
#include "clients/bot/webhook.h"
#include "clients/lib/flags.h"

ABSL_FLAG(std::string, webhook_url, "",
          "If set, each message is also POSTed here as {\"text\": \"...\"} "
          "(application/json): Slack, Teams, Mattermost incoming webhooks.");
ABSL_FLAG(bool, once, false,
          "Print the current red list (objectives AT_RISK/OFF_TRACK/MISSED, "
          "VLAs BREACHED/AT_RISK, watermelons, disputed) and exit.");
ABSL_FLAG(std::string, state_file, "",
          "File keeping the objective stream's resume token, so that a "
          "restarted bot gets what it missed.");
ABSL_FLAG(std::string, objective_filter, "",
          "Filter of the objective stream, e.g. owner = \"teams/desk\".");
ABSL_FLAG(std::string, vla_filter, "",
          "Filter of the VLA stream, e.g. value_stream = "
          "\"valueStreams/incident\".");

namespace {

constexpr int kExitConfig = 1;
constexpr int kExitUnreachable = 2;
constexpr int kExitRefused = 3;

int ExitCode(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
                 s.code() == absl::StatusCode::kDeadlineExceeded
             ? kExitUnreachable
             : kExitRefused;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Reports value that goes red (objectives, VLAs) on stdout and to a "
      "chat webhook.\nUsage: vla-governance-bot [--server=HOST:PORT] "
      "[--webhook_url=URL] [--state_file=FILE] [--once]");
  absl::ParseCommandLine(argc, argv);
  // SIGINT and SIGTERM stop the watching bot: blocked here, before gRPC
  // starts its threads (they inherit the mask), and taken by sigwait below.
  // --once keeps their default action.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (!absl::GetFlag(FLAGS_once)) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const vla::client::ConnectionOptions connection =
      vla::client::ConnectionOptionsFromFlags();
  auto channel = vla::client::MakeChannel(connection);
  if (!channel.ok()) {
    std::cerr << "vla-governance-bot: " << channel.status() << "\n";
    return kExitConfig;
  }
  vla::bot::BotOptions options;
  options.webhook_url = absl::GetFlag(FLAGS_webhook_url);
  options.state_file = absl::GetFlag(FLAGS_state_file);
  options.objective_filter = absl::GetFlag(FLAGS_objective_filter);
  options.vla_filter = absl::GetFlag(FLAGS_vla_filter);
  vla::bot::GovernanceBot bot(*channel, connection, options);

  if (absl::GetFlag(FLAGS_once)) {
    auto red = bot.RedListNow();
    if (!red.ok()) {
      std::cerr << "vla-governance-bot: " << connection.address << ": "
                << red.status() << "\n";
      return ExitCode(red.status());
    }
    if (red->empty()) {
      std::cout << "All clear: no objective or VLA is red." << std::endl;
      return 0;
    }
    for (const std::string& line : *red) std::cout << line << "\n";
    std::cout.flush();
    if (!options.webhook_url.empty()) {
      absl::Status s =
          vla::bot::PostWebhook(options.webhook_url, absl::StrJoin(*red, "\n"));
      if (!s.ok()) std::cerr << "vla-governance-bot: " << s << "\n";
    }
    return 0;
  }

  absl::Status result;
  std::thread runner([&] {
    result = bot.Run();
    kill(getpid(), SIGTERM);  // a fatal error: wake the main thread
  });
  int sig = 0;
  sigwait(&signals, &sig);
  bot.Stop();
  runner.join();
  if (!result.ok()) {
    std::cerr << "vla-governance-bot: " << result << "\n";
    return kExitRefused;
  }
  return 0;
}
