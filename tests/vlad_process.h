// VladProcess: the real `vlad` binary in a child process, for end-to-end
// tests and benchmarks. Start() runs it on 127.0.0.1:0 over a data folder,
// waits for the port it reports and for health SERVING.
//
//   VladProcess vlad(VLAD_PATH, dir.path());
//   VLA_RETURN_IF_ERROR(vlad.Start());
//   auto channel = grpc::CreateChannel(vlad.address(), ...);
//   vlad.Signal(SIGKILL);
//   vlad.Wait();
#ifndef VLA_TESTS_VLAD_PROCESS_H_
#define VLA_TESTS_VLAD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace vla::testing {

class VladProcess {
 public:
  // `extra_args` are appended to --listen, --data_dir, --port_file,
  // --shutdown_grace=3s and --min_free_bytes=0 (a later flag wins). The child's
  // stderr goes to DATA_DIR/vlad.log.
  VladProcess(std::string binary, std::string data_dir,
              std::vector<std::string> extra_args = {});
  // Kills a running child with SIGKILL.
  ~VladProcess();
  VladProcess(const VladProcess&) = delete;
  VladProcess& operator=(const VladProcess&) = delete;

  // Starts the child and waits (up to `within`) until it serves. A restart
  // listens on the port of the previous run, so clients can reconnect.
  absl::Status Start(absl::Duration within = absl::Seconds(15));
  void Signal(int sig);
  // SIGKILL, and waits for the child.
  void Kill();
  // Waits for the child to exit; returns its wait status.
  int Wait();

  pid_t pid() const { return pid_; }
  // The port of the running (or last) child.
  int port() const { return port_; }
  // "127.0.0.1:PORT".
  std::string address() const;
  // The --http_listen port of the running child (0 without one).
  int http_port() const { return http_port_; }

 private:
  std::string binary_;
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
  int port_ = 0;
  int http_port_ = 0;
};

}  // namespace vla::testing

#endif  // VLA_TESTS_VLAD_PROCESS_H_
