// The plumbing shared by vlactl's commands: flags, the connection, output
// format, exit codes and Ctrl-C.
#ifndef VLA_CLIENTS_VLACTL_CLI_H_
#define VLA_CLIENTS_VLACTL_CLI_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "clients/lib/client.h"
#include "clients/lib/flags.h"
#include "clients/vlactl/output.h"

namespace vla::vlactl {

struct FlagSpec {
  std::string name;        // long name, without "--"
  char short_name = 0;     // e.g. 'f' for -f
  std::string value_name;  // empty: a boolean switch
  std::string help;
};

class Context;

struct Command {
  std::string name;
  std::string usage;    // "get KIND/ID..."
  std::string summary;  // one line
  std::string help;     // more text, may be empty
  std::vector<FlagSpec> flags;
  bool takes_output = false;  // accepts -o
  int (*run)(Context&) = nullptr;
  bool rows = false;  // its output is rows: -o csv and -o markdown too
};

std::vector<Command> ResourceCommands();
std::vector<Command> StatusCommands();
std::vector<Command> IngestCommands();
std::vector<Command> ImportCommands();
std::vector<Command> DemoCommands();
std::vector<Command> HistoryCommands();

class Context {
 public:
  Context(std::vector<std::string> args,
          std::multimap<std::string, std::string> flags, Format format,
          client::ConnectionOptions options);

  const std::vector<std::string>& args() const { return args_; }
  bool Has(const std::string& flag) const { return flags_.count(flag) > 0; }
  // The last value given, or `fallback`.
  std::string Get(const std::string& flag,
                  const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& flag) const;
  Format format() const { return format_; }
  const client::ConnectionOptions& options() const { return options_; }
  // Created on first use.
  std::shared_ptr<grpc::Channel> channel();

  std::ostream& out() { return std::cout; }
  std::ostream& err() { return std::cerr; }
  bool color() const { return color_; }

  // Prints "vlactl: MESSAGE" on stderr and returns the exit code for it.
  int Fail(const absl::Status& status);
  int Fail(const grpc::Status& status);
  int Usage(const std::string& message);

 private:
  std::vector<std::string> args_;
  std::multimap<std::string, std::string> flags_;
  Format format_;
  client::ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  bool color_;
};

// Ctrl-C: set once SIGINT or SIGTERM arrives (after InstallInterruptHandler).
void InstallInterruptHandler();
bool Interrupted();
// Sleeps up to `seconds`, returning early (false) on Ctrl-C.
bool SleepUnlessInterrupted(double seconds);

// Cancels a call (a watch stream) when Ctrl-C arrives, while alive.
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(grpc::ClientContext* ctx);
  ~CancelOnInterrupt();

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_CLI_H_
