// vla-governance-bot: tells governance when value goes red. Follows the
// objective and VLA status streams of `vlad` and reports, one line each on
// stdout (and to --webhook-url), every objective entering AT_RISK, OFF_TRACK
// or MISSED, every VLA entering BREACHED, every new watermelon and every new
// dispute. With --once, prints the current red list and exits; with
// --report month|quarter|year, prints (and posts) the period report of every
// VLA as Markdown and exits.
//
// Exit codes: those of every client (clients/lib/flags.h): 0 fine (--once:
// the list was printed; or stopped by SIGINT/SIGTERM); 1 bad flags or
// connection options; 5 the server is unreachable (--once); 4 or 6 the
// server refused the request (a bad filter; UNAUTHENTICATED,
// PERMISSION_DENIED).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "absl/strings/str_join.h"
#include "clients/bot/bot.h"
#include "clients/bot/webhook.h"
#include "clients/lib/flags.h"
#include "common/enum_names.h"

int main(int argc, char** argv) {
  using vla::client::FlagNames;
  CLI::App app(
      "Reports value that goes red (objectives, VLAs) on stdout and to a chat "
      "webhook.",
      "vla-governance-bot");
  app.footer(vla::client::kExitCodesHelp);
  vla::client::ConnectionOptions connection;
  vla::client::AddConnectionFlags(&app, &connection);
  vla::bot::BotOptions options;
  bool once = false;
  std::string report;
  app.add_option(FlagNames("webhook-url"), options.webhook_url,
                 "also POST each message here as {\"text\": \"...\"} "
                 "(application/json): Slack, Teams, Mattermost incoming "
                 "webhooks")
      ->type_name("URL");
  app.add_flag(FlagNames("once"), once,
               "print the current red list (objectives AT_RISK/OFF_TRACK/"
               "MISSED, VLAs BREACHED/AT_RISK, watermelons, disputed) and "
               "exit");
  app.add_option(FlagNames("report"), report,
                 "print the per-period compliance report of every ACTIVE VLA "
                 "(the last six periods, the current one included) as "
                 "Markdown, post it to --webhook-url as one message, and "
                 "exit (implies --once)")
      ->type_name("month|quarter|year");
  app.add_option(FlagNames("state-file"), options.state_file,
                 "file keeping the objective stream's resume token, so that "
                 "a restarted bot gets what it missed")
      ->type_name("FILE");
  app.add_option(FlagNames("objective-filter"), options.objective_filter,
                 "filter of the objective stream, e.g. owner = "
                 "\"teams/desk\"")
      ->type_name("FILTER");
  app.add_option(FlagNames("vla-filter"), options.vla_filter,
                 "filter of the VLA stream, e.g. value_stream = "
                 "\"valueStreams/incident\"")
      ->type_name("FILTER");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return vla::client::ExitForParseError(app, e);
  }
  const google::protobuf::EnumValueDescriptor* period = nullptr;
  if (!report.empty()) {
    period = vla::FindEnumValue(vla::v1::CalendarPeriod_descriptor(), report);
    if (period == nullptr || period->number() == 0) {
      std::cerr << "vla-governance-bot: --report: \"" << report
                << "\" is not month, quarter or year\n";
      return vla::client::kExitUsage;
    }
    once = true;
  }
  // SIGINT and SIGTERM stop the watching bot: blocked here, before gRPC
  // starts its threads (they inherit the mask), and taken by sigwait below.
  // --once keeps their default action.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (!once) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto channel = vla::client::MakeChannel(connection);
  if (!channel.ok()) {
    std::cerr << "vla-governance-bot: " << channel.status() << "\n";
    return vla::client::kExitUsage;
  }
  vla::bot::GovernanceBot bot(*channel, connection, options);

  if (period != nullptr) {
    auto text = bot.PeriodReportsNow(
        static_cast<vla::v1::CalendarPeriod>(period->number()));
    if (!text.ok()) {
      std::cerr << "vla-governance-bot: " << connection.address << ": "
                << text.status() << "\n";
      return vla::client::ExitCodeFor(text.status().code());
    }
    if (text->empty()) *text = "No ACTIVE VLA to report on.\n";
    std::cout << *text;
    std::cout.flush();
    if (!options.webhook_url.empty()) {
      absl::Status s = vla::bot::PostWebhook(options.webhook_url, *text);
      if (!s.ok()) std::cerr << "vla-governance-bot: " << s << "\n";
    }
    return 0;
  }
  if (once) {
    auto red = bot.RedListNow();
    if (!red.ok()) {
      std::cerr << "vla-governance-bot: " << connection.address << ": "
                << red.status() << "\n";
      return vla::client::ExitCodeFor(red.status().code());
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
    return vla::client::ExitCodeFor(result.code());
  }
  return 0;
}
