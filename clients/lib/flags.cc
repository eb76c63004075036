#include "clients/lib/flags.h"

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

namespace vla::client {

const char kExitCodesHelp[] = R"(Exit codes:
  0  success
  1  usage error (unknown command or flag, missing argument, bad connection
     options)
  2  server error (INTERNAL, UNKNOWN, ...)
  3  not found (a named resource or file does not exist)
  4  refused input (a bad document; INVALID_ARGUMENT, FAILED_PRECONDITION,
     ALREADY_EXISTS, ABORTED from the server)
  5  server unreachable (UNAVAILABLE, DEADLINE_EXCEEDED)
  6  not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
  7  ingest or import finished but skipped or rejected some records
)";

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

std::string FlagNames(const std::string& name, char short_name) {
  std::string names;
  if (short_name != 0)
    names = absl::StrCat("-", std::string(1, short_name), ",");
  absl::StrAppend(&names, "--", name);
  const std::string underscored = absl::StrReplaceAll(name, {{"-", "_"}});
  if (underscored != name) absl::StrAppend(&names, ",--", underscored);
  return names;
}

void AddConnectionFlags(CLI::App* app, ConnectionOptions* options) {
  *options = ConnectionOptions::FromEnv();
  const std::string group = "Connection";
  app->add_option(FlagNames("server"), options->address,
                  "HOST:PORT of vlad (env VLA_SERVER; default 127.0.0.1:50051)")
      ->type_name("HOST:PORT")
      ->group(group);
  app->add_option(FlagNames("token"), options->token,
                  "bearer token sent as `authorization: Bearer <token>` (env "
                  "VLA_TOKEN)")
      ->type_name("TOKEN")
      ->group(group);
  app->add_flag(FlagNames("tls"), options->tls,
                "use TLS (implied by the three file flags and their env "
                "variables)")
      ->group(group);
  app->add_option(FlagNames("ca-file"), options->ca_file,
                  "PEM root certificates for TLS (env VLA_CA_FILE; default "
                  "the system roots)")
      ->type_name("FILE")
      ->group(group);
  app->add_option(FlagNames("cert-file"), options->cert_file,
                  "PEM client certificate chain for mTLS (env VLA_CERT_FILE)")
      ->type_name("FILE")
      ->group(group);
  app->add_option(FlagNames("key-file"), options->key_file,
                  "PEM private key of --cert-file (env VLA_KEY_FILE)")
      ->type_name("FILE")
      ->group(group);
  app->add_option(FlagNames("server-name-override"),
                  options->server_name_override,
                  "TLS: check the server certificate against NAME")
      ->type_name("NAME")
      ->group(group);
  app->add_option_function<std::string>(
         FlagNames("deadline"),
         [options](const std::string& text) {
           absl::Duration d;
           if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
             throw CLI::ValidationError(
                 "--deadline", absl::StrCat("\"", text,
                                            "\" is not a positive duration "
                                            "(like 30s)"));
           }
           options->deadline = d;
         },
         "deadline of each unary call (default 30s)")
      ->type_name("DURATION")
      ->group(group);
}

int ExitForParseError(const CLI::App& app, const CLI::ParseError& error) {
  if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    // --help (on the command it was given to).
    app.exit(error, std::cout, std::cerr);
    return kExitOk;
  }
  std::cerr << app.get_name() << ": " << error.what() << "\n";
  return kExitUsage;
}

}  // namespace vla::client
