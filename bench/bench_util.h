// Small pieces the benchmarks share: percentiles, process memory, channels
// with their own TCP connections.
#ifndef VLA_BENCH_BENCH_UTIL_H_
#define VLA_BENCH_BENCH_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
inline std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("vla.bench.channel", i);  // Keeps the channels distinct.
    channels.push_back(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

}  // namespace vla::bench

#endif  // VLA_BENCH_BENCH_UTIL_H_
