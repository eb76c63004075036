// The progress line of long-running commands (ingest, import): at most once a
// second on stderr, rewritten in place on a terminal, one line each time
// otherwise; nothing at all for runs shorter than a second.
#ifndef VLA_CLIENTS_VLACTL_PROGRESS_H_
#define VLA_CLIENTS_VLACTL_PROGRESS_H_

#include <unistd.h>

#include <chrono>
#include <ostream>
#include <string>

namespace vla::vlactl {

class ProgressLine {
 public:
  explicit ProgressLine(std::ostream& err)
      : err_(err), tty_(isatty(STDERR_FILENO) == 1) {}

  // Shows text(seconds since the start) when a second has passed since the
  // last line.
  template <typename TextFn>
  void Update(TextFn text) {
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    shown_ = true;
    err_ << (tty_ ? "\r" : "") << text(Seconds()) << (tty_ ? "" : "\n")
         << std::flush;
  }

  // Ends the line on a terminal.
  void Finish() {
    if (shown_ && tty_) err_ << "\n";
    shown_ = false;
  }

  double Seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& err_;
  const bool tty_;
  const Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
  bool shown_ = false;
};

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_PROGRESS_H_
