// Shared test helpers: status matchers, temporary folders, deadlines.
#ifndef VLA_TESTS_TEST_UTIL_H_
#define VLA_TESTS_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla::testing {

// A folder under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

// The whole content of the file at `path` ("" if it cannot be read).
std::string ReadFile(const std::string& path);

// What a shell command did: its exit code (-1 if it did not exit) and
// output.
struct CommandResult {
  int code = -1;
  std::string out;
  std::string err;
};
// Runs `command` with /bin/sh, its stdout and stderr captured in files of
// `dir` (for the real binaries in end-to-end tests).
CommandResult RunCommand(const std::string& command, const TempDir& dir);

// A context with a 10 s deadline, so that a hung call fails the test.
std::unique_ptr<grpc::ClientContext> Ctx();

// Retries `fn` until it returns true or 10 s pass (services follow each
// other asynchronously).
bool Eventually(const std::function<bool()>& fn);

MATCHER_P(IsCode, code, "") {
  if (arg.error_code() == code) return true;
  *result_listener << "status is " << arg.error_code() << ": "
                   << arg.error_message();
  return false;
}

MATCHER_P2(IsCodeWith, code, substring, "") {
  if (arg.error_code() == code &&
      arg.error_message().find(substring) != std::string::npos) {
    return true;
  }
  *result_listener << "status is " << arg.error_code() << ": "
                   << arg.error_message();
  return false;
}

MATCHER_P2(AbslIsCodeWith, code, substring, "") {
  if (arg.code() == code &&
      std::string(arg.message()).find(substring) != std::string::npos) {
    return true;
  }
  *result_listener << "status is " << arg.ToString();
  return false;
}

#define VLA_EXPECT_OK(expr)                                       \
  do {                                                            \
    const ::grpc::Status vla_s_ = (expr);                         \
    EXPECT_TRUE(vla_s_.ok())                                      \
        << vla_s_.error_code() << ": " << vla_s_.error_message(); \
  } while (false)
#define VLA_ASSERT_OK(expr)                                       \
  do {                                                            \
    const ::grpc::Status vla_s_ = (expr);                         \
    ASSERT_TRUE(vla_s_.ok())                                      \
        << vla_s_.error_code() << ": " << vla_s_.error_message(); \
  } while (false)

}  // namespace vla::testing

#endif  // VLA_TESTS_TEST_UTIL_H_
