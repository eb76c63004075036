// The real `vlad` binary in a child process, for client tests: started on a
// free port, killed, and restarted on the same port and data folder.
// Needs VLAD_PATH defined to the binary.
#ifndef VLA_TESTS_VLAD_PROCESS_H_
#define VLA_TESTS_VLAD_PROCESS_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace vla::testing {

class VladProcess {
 public:
  explicit VladProcess(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  ~VladProcess() { Kill(); }

  // Starts vlad (on the port of the previous run, if any) and waits until it
  // reports its port. Use with ASSERT_NO_FATAL_FAILURE.
  void Start() {
    const std::string port_file = absl::StrCat(data_dir_, "/port");
    unlink(port_file.c_str());
    const std::string listen = absl::StrCat("--listen=127.0.0.1:", port_);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      const std::string log = absl::StrCat(data_dir_, "/vlad.log");
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 2);
      const std::string data = absl::StrCat("--data_dir=", data_dir_);
      const std::string pf = absl::StrCat("--port_file=", port_file);
      execl(VLAD_PATH, VLAD_PATH, listen.c_str(), data.c_str(), pf.c_str(),
            "--shutdown_grace=1s", static_cast<char*>(nullptr));
      _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 400 && port == 0; ++i) {
      std::ifstream in(port_file);
      if (!(in >> port)) {
        port = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    }
    ASSERT_GT(port, 0) << "vlad did not report its port; see " << data_dir_
                       << "/vlad.log";
    port_ = port;
  }

  // SIGKILL, and waits for the process.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  std::string data_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace vla::testing

#endif  // VLA_TESTS_VLAD_PROCESS_H_
