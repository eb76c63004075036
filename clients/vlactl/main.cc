// vlactl: a kubectl-style command-line client for vlad. See `vlactl --help`
// and clients/README.md. The command line is parsed by CLI11 from the
// command table (cli.h); the connection flags and exit codes are the client
// library's (clients/lib/flags.h), shared with the other client binaries.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "clients/vlactl/cli.h"
#include "common/status_util.h"

namespace vla::vlactl {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

constexpr char kProgram[] = "vlactl";

const std::vector<Command>& AllCommands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>;
    for (auto group : {ResourceCommands(), StatusCommands(), HistoryCommands(),
                       IngestCommands(), ImportCommands(), DemoCommands()}) {
      for (Command& c : group) all->push_back(std::move(c));
    }
    return all;
  }();
  return *commands;
}

// CLI11's help layout with the command table's own usage line
// ("Usage: vlactl get KIND/ID...").
class CommandFormatter : public CLI::Formatter {
 public:
  explicit CommandFormatter(std::string usage) : usage_(std::move(usage)) {}
  std::string make_usage(const CLI::App*, std::string) const override {
    return absl::StrCat("Usage: ", kProgram, " ", usage_, "\n");
  }

 private:
  std::string usage_;
};

// What the parse of one command's line collects for its Context.
struct Parsed {
  std::vector<std::string> args;
  std::multimap<std::string, std::string> flags;
  std::string output;
};

// Adds `c` to `app` as a subcommand whose flags and arguments land in `out`.
void AddCommand(CLI::App* app, const Command& c, Parsed* out) {
  CLI::App* sub = app->add_subcommand(c.name, c.summary);
  sub->formatter(std::make_shared<CommandFormatter>(c.usage));
  sub->footer(
      absl::StrCat(c.help, c.help.empty() ? "" : "\n", client::kExitCodesHelp));
  for (const FlagSpec& f : c.flags) {
    const std::string names = client::FlagNames(f.name, f.short_name);
    const std::string name = f.name;
    if (f.value_name.empty()) {
      sub->add_flag_function(
          names, [out, name](int64_t) { out->flags.emplace(name, "true"); },
          f.help);
      continue;
    }
    sub->add_option_function<std::vector<std::string>>(
           names,
           [out, name](const std::vector<std::string>& values) {
             for (const std::string& v : values) out->flags.emplace(name, v);
           },
           f.help)
        ->type_name(f.value_name)
        ->allow_extra_args(false);
  }
  if (c.takes_output) {
    sub->add_option("-o,--output", out->output,
                    c.rows ? "table (default), json, yaml, csv or markdown"
                           : "table (default), json or yaml")
        ->type_name("FORMAT");
  }
  sub->add_option("args", out->args, "arguments (see Usage)");
}

int Main(int argc, char** argv) {
  CLI::App app(
      "vlactl: manage and watch Value Level Agreements on a vlad "
      "server.",
      kProgram);
  app.require_subcommand(1);
  app.fallthrough();  // the connection flags may follow the command
  app.footer(absl::StrCat(
      "Kinds: team, valuestream (vs), kvi, vla, objective (singular or "
      "plural).\n\n",
      client::kExitCodesHelp,
      "\nRun `vlactl COMMAND --help` for a command's arguments and flags."));
  client::ConnectionOptions options;
  client::AddConnectionFlags(&app, &options);
  Parsed parsed;
  for (const Command& c : AllCommands()) AddCommand(&app, c, &parsed);
  if (argc == 2 && std::strcmp(argv[1], "help") == 0) {
    std::cout << app.help();
    return client::kExitOk;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (argc == 1) std::cerr << app.help();
    return client::ExitForParseError(app, e);
  }
  const std::string chosen = app.get_subcommands().front()->get_name();
  const Command* command = nullptr;
  for (const Command& c : AllCommands()) {
    if (c.name == chosen) command = &c;
  }
  Format format = Format::kTable;
  if (!parsed.output.empty()) {
    auto f = ParseFormat(parsed.output);
    if (!f.ok()) {
      std::cerr << kProgram << ": " << f.status().message() << "\n";
      return client::kExitUsage;
    }
    format = *f;
    if (!IsDocumentFormat(format) && format != Format::kTable &&
        !command->rows) {
      std::cerr << kProgram << ": --output " << parsed.output << ": "
                << command->name
                << " prints table, json or yaml (csv and markdown: report, "
                   "history, series)\n";
      return client::kExitUsage;
    }
  }
  Context ctx(std::move(parsed.args), std::move(parsed.flags), format,
              std::move(options));
  return command->run(ctx);
}

}  // namespace

Context::Context(std::vector<std::string> args,
                 std::multimap<std::string, std::string> flags, Format format,
                 client::ConnectionOptions options)
    : args_(std::move(args)),
      flags_(std::move(flags)),
      format_(format),
      options_(std::move(options)),
      color_(UseColor(STDOUT_FILENO)) {}

std::string Context::Get(const std::string& flag,
                         const std::string& fallback) const {
  auto range = flags_.equal_range(flag);
  if (range.first == range.second) return fallback;
  return std::prev(range.second)->second;
}

std::vector<std::string> Context::GetAll(const std::string& flag) const {
  std::vector<std::string> all;
  auto range = flags_.equal_range(flag);
  for (auto it = range.first; it != range.second; ++it) {
    all.push_back(it->second);
  }
  return all;
}

std::shared_ptr<grpc::Channel> Context::channel() {
  if (channel_ == nullptr) {
    auto channel = client::MakeChannel(options_);
    if (!channel.ok()) {
      std::cerr << "vlactl: " << channel.status().message() << "\n";
      std::exit(client::kExitUsage);
    }
    channel_ = *channel;
  }
  return channel_;
}

int Context::Fail(const absl::Status& status) {
  std::string message(status.message());
  if (status.code() == absl::StatusCode::kUnavailable) {
    absl::StrAppend(&message, " (is vlad running at ", options_.address,
                    "? set --server or VLA_SERVER)");
  }
  err() << "vlactl: " << message << "\n";
  return client::ExitCodeFor(status.code());
}

int Context::Fail(const grpc::Status& status) {
  return Fail(FromGrpcStatus(status));
}

int Context::Usage(const std::string& message) {
  err() << "vlactl: " << message << "\n";
  return client::kExitUsage;
}

void InstallInterruptHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool Interrupted() { return g_interrupted.load(); }

bool SleepUnlessInterrupted(double seconds) {
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (Interrupted()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !Interrupted();
}

CancelOnInterrupt::CancelOnInterrupt(grpc::ClientContext* ctx)
    : thread_([this, ctx] {
        while (!done_.load()) {
          if (Interrupted()) {
            ctx->TryCancel();
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }) {}

CancelOnInterrupt::~CancelOnInterrupt() {
  done_.store(true);
  thread_.join();
}

}  // namespace vla::vlactl

int main(int argc, char** argv) { return vla::vlactl::Main(argc, argv); }
