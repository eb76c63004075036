// vlactl: a kubectl-style command-line client for vlad. See `vlactl --help`
// and clients/README.md.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "clients/vlactl/cli.h"

namespace vla::vlactl {
namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted.store(true); }

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"server", 0, "HOST:PORT",
       "server address (env VLA_SERVER; default 127.0.0.1:50051)"},
      {"token", 0, "TOKEN", "bearer token (env VLA_TOKEN)"},
      {"tls", 0, "", "use TLS (implied by the three file flags)"},
      {"ca-file", 0, "FILE", "PEM root certificates (env VLA_CA_FILE)"},
      {"cert-file", 0, "FILE",
       "PEM client certificate for mTLS (env VLA_CERT_FILE)"},
      {"key-file", 0, "FILE", "PEM client key for mTLS (env VLA_KEY_FILE)"},
      {"server-name-override", 0, "NAME",
       "TLS: check the server certificate against NAME"},
      {"deadline", 0, "DURATION", "deadline of each call (default 30s)"},
      {"help", 'h', "", "show help"},
  };
  return *flags;
}

const FlagSpec kOutputFlag{"output", 'o', "FORMAT",
                           "table (default), json or yaml"};

const std::vector<Command>& AllCommands() {
  static const auto* commands = [] {
    auto* all = new std::vector<Command>;
    for (auto group : {ResourceCommands(), StatusCommands(), IngestCommands(),
                       ImportCommands(), DemoCommands()}) {
      for (Command& c : group) all->push_back(std::move(c));
    }
    return all;
  }();
  return *commands;
}

void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& flags) {
  for (const FlagSpec& f : flags) {
    std::string left = "  ";
    if (f.short_name != 0)
      absl::StrAppend(&left, "-", std::string(1, f.short_name), ", ");
    absl::StrAppend(&left, "--", f.name);
    if (!f.value_name.empty()) absl::StrAppend(&left, " ", f.value_name);
    if (left.size() < 30) left.resize(30, ' ');
    out << left << " " << f.help << "\n";
  }
}

constexpr char kExitCodes[] = R"(Exit codes:
  0  success
  1  usage error (unknown command or flag, missing argument)
  2  server error (INTERNAL, UNKNOWN, ...)
  3  not found (a named resource or file does not exist)
  4  refused input (a bad document; INVALID_ARGUMENT, FAILED_PRECONDITION,
     ALREADY_EXISTS, ABORTED from the server)
  5  server unreachable (UNAVAILABLE, DEADLINE_EXCEEDED)
  6  not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
  7  ingest or import finished but skipped or rejected some records
)";

void PrintMainHelp(std::ostream& out) {
  out << "vlactl: manage and watch Value Level Agreements on a vlad server.\n\n"
         "Usage: vlactl COMMAND [ARGS] [FLAGS]\n\nCommands:\n";
  for (const Command& c : AllCommands()) {
    std::string left = absl::StrCat("  ", c.name);
    left.resize(14, ' ');
    out << left << c.summary << "\n";
  }
  out << "\nKinds: team, valuestream (vs), kvi, vla, objective (singular or "
         "plural).\n\nGlobal flags:\n";
  PrintFlags(out, GlobalFlags());
  out << "\n"
      << kExitCodes
      << "\nRun `vlactl COMMAND --help` for a command's arguments and "
         "flags.\n";
}

void PrintCommandHelp(std::ostream& out, const Command& c) {
  out << "Usage: vlactl " << c.usage << "\n\n" << c.summary << "\n";
  if (!c.help.empty()) out << "\n" << c.help;
  if (!c.help.empty() && c.help.back() != '\n') out << "\n";
  std::vector<FlagSpec> flags = c.flags;
  if (c.takes_output) flags.push_back(kOutputFlag);
  if (!flags.empty()) {
    out << "\nFlags:\n";
    PrintFlags(out, flags);
  }
  out << "\nGlobal flags:\n";
  PrintFlags(out, GlobalFlags());
  out << "\n" << kExitCodes;
}

const FlagSpec* FindFlag(const std::vector<const std::vector<FlagSpec>*>& sets,
                         absl::string_view name, char short_name) {
  for (const auto* set : sets) {
    for (const FlagSpec& f : *set) {
      if ((short_name != 0 && f.short_name == short_name) ||
          (short_name == 0 && f.name == name)) {
        return &f;
      }
    }
  }
  return nullptr;
}

int Main(int argc, char** argv) {
  std::vector<std::string> argv_rest(argv + 1, argv + argc);
  if (argv_rest.empty()) {
    PrintMainHelp(std::cerr);
    return kExitUsage;
  }
  // The command is the first argument that is not a flag.
  const Command* command = nullptr;
  for (size_t i = 0; i < argv_rest.size(); ++i) {
    const std::string& a = argv_rest[i];
    if (absl::StartsWith(a, "-")) {  // skip a global flag's value too
      const std::string name =
          absl::StrReplaceAll(a.substr(a.find_first_not_of('-')), {{"_", "-"}});
      const FlagSpec* f = FindFlag({&GlobalFlags()}, name, 0);
      if ((f != nullptr && !f->value_name.empty()) || a == "-o") ++i;
      continue;
    }
    for (const Command& c : AllCommands()) {
      if (c.name == a) command = &c;
    }
    if (command == nullptr && a != "help") {
      std::cerr << "vlactl: unknown command \"" << a
                << "\" (see vlactl --help)\n";
      return kExitUsage;
    }
    break;
  }
  if (command == nullptr) {
    const bool help =
        !argv_rest.empty() && (argv_rest[0] == "--help" ||
                               argv_rest[0] == "-h" || argv_rest[0] == "help");
    PrintMainHelp(help ? std::cout : std::cerr);
    return help ? kExitOk : kExitUsage;
  }

  std::vector<FlagSpec> own = command->flags;
  if (command->takes_output) own.push_back(kOutputFlag);
  const std::vector<const std::vector<FlagSpec>*> sets = {&own, &GlobalFlags()};
  std::vector<std::string> args;
  std::multimap<std::string, std::string> flags;
  bool seen_command = false;
  for (size_t i = 0; i < argv_rest.size(); ++i) {
    const std::string& a = argv_rest[i];
    if (a == "--") {
      for (++i; i < argv_rest.size(); ++i) args.push_back(argv_rest[i]);
      break;
    }
    if (a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9') ||
        a[1] == '.') {  // -5 is a value
      if (!seen_command && a == command->name) {
        seen_command = true;
      } else {
        args.push_back(a);
      }
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    const FlagSpec* spec = nullptr;
    if (a[1] == '-') {
      name = a.substr(2);
      if (const size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
      name = absl::StrReplaceAll(name, {{"_", "-"}});
      spec = FindFlag(sets, name, 0);
    } else if (a.size() == 2) {
      spec = FindFlag(sets, "", a[1]);
    } else {  // -ojson
      spec = FindFlag(sets, "", a[1]);
      if (spec != nullptr && !spec->value_name.empty())
        value = a.substr(2);
      else
        spec = nullptr;
    }
    if (spec == nullptr) {
      std::cerr << "vlactl " << command->name << ": unknown flag " << a
                << " (see vlactl " << command->name << " --help)\n";
      return kExitUsage;
    }
    if (spec->name == "help") {
      PrintCommandHelp(std::cout, *command);
      return kExitOk;
    }
    if (spec->value_name.empty()) {
      if (value.has_value() && *value != "true" && *value != "false") {
        std::cerr << "vlactl: --" << spec->name << " takes no value\n";
        return kExitUsage;
      }
      flags.emplace(spec->name, value.value_or("true"));
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= argv_rest.size()) {
        std::cerr << "vlactl: --" << spec->name << " needs a value ("
                  << spec->value_name << ")\n";
        return kExitUsage;
      }
      value = argv_rest[++i];
    }
    flags.emplace(spec->name, *value);
  }

  auto last = [&](const std::string& name) -> const std::string* {
    auto range = flags.equal_range(name);
    if (range.first == range.second) return nullptr;
    return &std::prev(range.second)->second;
  };
  Format format = Format::kTable;
  if (const std::string* o = last("output")) {
    auto f = ParseFormat(*o);
    if (!f.ok()) {
      std::cerr << "vlactl: " << f.status().message() << "\n";
      return kExitUsage;
    }
    format = *f;
  }
  client::ConnectionOptions options = client::ConnectionOptions::FromEnv();
  if (const std::string* v = last("server")) options.address = *v;
  if (const std::string* v = last("token")) options.token = *v;
  if (const std::string* v = last("tls")) options.tls = *v == "true";
  if (const std::string* v = last("ca-file")) options.ca_file = *v;
  if (const std::string* v = last("cert-file")) options.cert_file = *v;
  if (const std::string* v = last("key-file")) options.key_file = *v;
  if (const std::string* v = last("server-name-override")) {
    options.server_name_override = *v;
  }
  if (const std::string* v = last("deadline")) {
    if (!absl::ParseDuration(*v, &options.deadline) ||
        options.deadline <= absl::ZeroDuration()) {
      std::cerr << "vlactl: --deadline: \"" << *v
                << "\" is not a positive duration (like 30s)\n";
      return kExitUsage;
    }
  }
  Context ctx(std::move(args), std::move(flags), format, std::move(options));
  return command->run(ctx);
}

}  // namespace

int ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
      return kExitInvalid;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    default:
      return kExitServerError;
  }
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

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
      std::exit(kExitUsage);
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
  return ExitCodeFor(status.code());
}

int Context::Fail(const grpc::Status& status) { return Fail(FromGrpc(status)); }

int Context::Usage(const std::string& message) {
  err() << "vlactl: " << message << "\n";
  return kExitUsage;
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
