// What every client binary (vlactl, vla-governance-bot) shares on its command
// line: the connection flags, defined once on CLI11, and the exit codes.
//
//   CLI::App app{"what it does"};
//   client::ConnectionOptions connection;
//   client::AddConnectionFlags(&app, &connection);
//   try {
//     app.parse(argc, argv);
//   } catch (const CLI::ParseError& e) {
//     return client::ExitForParseError(app, e);
//   }
#ifndef VLA_CLIENTS_LIB_FLAGS_H_
#define VLA_CLIENTS_LIB_FLAGS_H_

#include <grpcpp/support/status.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/lib/client.h"

namespace vla::client {

// Exit codes that scripts can rely on, the same for every client binary.
enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,        // bad command line or connection options
  kExitServerError = 2,  // the server failed (INTERNAL, UNKNOWN, ...)
  kExitNotFound = 3,     // NOT_FOUND: a named resource or file is missing
  kExitInvalid = 4,      // refused input: a bad document, INVALID_ARGUMENT,
                         // FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED,
                         // OUT_OF_RANGE
  kExitUnavailable = 5,  // UNAVAILABLE or DEADLINE_EXCEEDED: not reachable
  kExitDenied = 6,       // UNAUTHENTICATED or PERMISSION_DENIED
  kExitRejected = 7,     // ingest, import: some records skipped or rejected
};

// The exit code for a failed call's status (kExitOk for OK).
int ExitCodeFor(absl::StatusCode code);
inline int ExitCodeFor(const grpc::Status& status) {
  return ExitCodeFor(static_cast<absl::StatusCode>(status.error_code()));
}

// The table above as help text ("Exit codes:\n  0  success\n...").
extern const char kExitCodesHelp[];

// Adds the connection flags to `app`, bound to `options`: --server, --token,
// --tls, --ca-file, --cert-file, --key-file, --server-name-override and
// --deadline (each also with '_' for '-'). `options` starts as
// ConnectionOptions::FromEnv(): a flag given overrides its VLA_* variable,
// which overrides the default. A --deadline that is not a positive duration
// fails the parse.
void AddConnectionFlags(CLI::App* app, ConnectionOptions* options);

// CLI11 names for a flag: "--ca-file,--ca_file", with "-o," first when
// `short_name` is set.
std::string FlagNames(const std::string& name, char short_name = 0);

// Prints what a failed parse says (help on stdout for --help, else
// "PROGRAM: message" on stderr) and returns the exit code (kExitOk for
// --help, else kExitUsage).
int ExitForParseError(const CLI::App& app, const CLI::ParseError& error);

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_FLAGS_H_
