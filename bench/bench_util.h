// Small pieces the benchmarks share: percentiles, process memory and CPU,
// channels with their own TCP connections, closed-loop call phases.
#ifndef VLA_BENCH_BENCH_UTIL_H_
#define VLA_BENCH_BENCH_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace vla::bench {

// The nearest-rank `p` quantile (p in [0, 1]) of sorted `values`; 0 if empty.
template <typename T>
T Percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return T();
  const size_t i =
      static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

// Field `key` (e.g. VmRSS, VmHWM) of /proc/PID/status in KiB (pid 0: this
// process); -1 if absent.
inline int64_t ProcStatusKib(pid_t pid, absl::string_view key) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l(line);
    if (!absl::StartsWith(l, key) || l.size() <= key.size() ||
        l[key.size()] != ':') {
      continue;
    }
    l.remove_prefix(key.size() + 1);
    std::vector<absl::string_view> words =
        absl::StrSplit(l, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int64_t kib = 0;
    if (!words.empty() && absl::SimpleAtoi(words[0], &kib)) return kib;
  }
  return -1;
}

// User + system CPU seconds used so far by process `pid` (0: this process),
// from /proc/PID/stat; -1 if unreadable.
inline double ProcCpuSeconds(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/stat")
                            : absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(line).substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

// `count` channels to `target`, each with its own TCP connection (gRPC would
// otherwise share one subchannel between channels with equal arguments).
// `max_message_bytes` > 0 raises both message size limits; with
// `wait_connected` each channel is connected (up to 10 s) before it is
// returned.
inline std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count, int max_message_bytes = 0,
    bool wait_connected = false) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("vla.bench.channel", i);  // Keeps the channels distinct.
    if (max_message_bytes > 0) {
      args.SetMaxReceiveMessageSize(max_message_bytes);
      args.SetMaxSendMessageSize(max_message_bytes);
    }
    auto channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    if (wait_connected) {
      channel->WaitForConnected(std::chrono::system_clock::now() +
                                std::chrono::seconds(10));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

// One phase of closed-loop calls: how many were made and how long they took.
struct PhaseResult {
  std::string name;
  int64_t calls = 0;  // calls started in the measured window
  double seconds = 0;
  double rate = 0;  // calls per second
  double p50_us = 0;
  double p99_us = 0;
  int64_t errors = 0;  // non-OK calls, warm-up included
  std::string first_error;
};

// One call: `thread` and `n` (the thread's call counter, warm-up included)
// pick what to send. Returns the call's status (or an error of its own for a
// wrong answer).
using CallFn = std::function<grpc::Status(int thread, int64_t n)>;

// Runs `call` in a closed loop on `threads` threads: a warm-up of
// `warmup_s`, then a measured window of `seconds`. A call counts if it
// started in the window.
inline PhaseResult RunPhase(const std::string& name, int threads,
                            double warmup_s, double seconds,
                            const CallFn& call) {
  using Clock = std::chrono::steady_clock;
  struct ThreadResult {
    std::vector<int64_t> latencies_ns;
    int64_t errors = 0;
    std::string first_error;
  };
  std::vector<ThreadResult> results(threads);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point warmup_end, end;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ThreadResult& r = results[t];
      r.latencies_ns.reserve(1 << 16);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (int64_t n = 0;; ++n) {
        const Clock::time_point start = Clock::now();
        if (start >= end) break;
        const grpc::Status status = call(t, n);
        const Clock::time_point stop = Clock::now();
        if (!status.ok()) {
          if (r.errors++ == 0) {
            r.first_error =
                absl::StrCat(status.error_code(), ": ", status.error_message());
          }
        } else if (start >= warmup_end) {
          r.latencies_ns.push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start)
                  .count());
        }
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const Clock::time_point t0 = Clock::now();
  warmup_end = t0 + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(warmup_s));
  end = warmup_end + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(seconds));
  go.store(true, std::memory_order_release);
  for (auto& w : workers) w.join();

  PhaseResult p;
  p.name = name;
  p.seconds = seconds;
  std::vector<int64_t> all;
  for (const ThreadResult& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    p.errors += r.errors;
    if (p.first_error.empty()) p.first_error = r.first_error;
  }
  std::sort(all.begin(), all.end());
  p.calls = static_cast<int64_t>(all.size());
  p.rate = static_cast<double>(p.calls) / seconds;
  p.p50_us = static_cast<double>(Percentile(all, 0.50)) / 1000.0;
  p.p99_us = static_cast<double>(Percentile(all, 0.99)) / 1000.0;
  return p;
}

// "NAME calls=... rate=... p50=... p99=... errors=..." (and the first error).
inline std::string PhaseLine(const PhaseResult& p) {
  std::string line = absl::StrFormat(
      "%-13s calls=%-8lld rate=%9.0f calls/s  p50=%8.1f us  p99=%8.1f us  "
      "errors=%lld",
      p.name, static_cast<long long>(p.calls), p.rate, p.p50_us, p.p99_us,
      static_cast<long long>(p.errors));
  if (p.errors > 0) absl::StrAppend(&line, " (first: ", p.first_error, ")");
  return line;
}

}  // namespace vla::bench

#endif  // VLA_BENCH_BENCH_UTIL_H_
