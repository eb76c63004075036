#include "tests/vlad_process.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace vla::testing {

VladProcess::VladProcess(std::string binary, std::string data_dir,
                         std::vector<std::string> extra_args)
    : binary_(std::move(binary)),
      data_dir_(std::move(data_dir)),
      extra_args_(std::move(extra_args)) {}

VladProcess::~VladProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string VladProcess::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

absl::Status VladProcess::Start(absl::Duration within) {
  const absl::Time deadline = absl::Now() + within;
  const std::string port_file = absl::StrCat(data_dir_, "/port");
  unlink(port_file.c_str());
  std::vector<std::string> args = {
      binary_, absl::StrCat("--listen=127.0.0.1:", port_),
      absl::StrCat("--data_dir=", data_dir_),
      absl::StrCat("--port_file=", port_file), "--shutdown_grace=3s",
      // Tests do not depend on how full the machine's disk is (a test of the
      // reserve passes its own --min_free_bytes: the last one counts).
      "--min_free_bytes=0"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = absl::StrCat(data_dir_, "/vlad.log");
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  port_ = 0;
  http_port_ = 0;
  while (port_ == 0 && absl::Now() < deadline) {
    std::ifstream in(port_file);
    if (!(in >> port_)) {
      port_ = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } else if (!(in >> http_port_)) {
      http_port_ = 0;
    }
  }
  if (port_ == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("vlad did not report its port; see ", log));
  }
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(
      absl::ToChronoTime(std::max(deadline, absl::Now() + absl::Seconds(5))));
  ctx.set_wait_for_ready(true);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = health->Check(&ctx, req, &resp);
  if (!s.ok() ||
      resp.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat("vlad is not serving: ", s.error_message()));
  }
  return absl::OkStatus();
}

void VladProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int VladProcess::Wait() {
  int status = 0;
  if (pid_ > 0) waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

void VladProcess::Kill() {
  Signal(SIGKILL);
  Wait();
}

}  // namespace vla::testing
