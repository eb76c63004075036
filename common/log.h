// Structured logs: one JSON object per line on stderr, e.g.
//   {"time":"2026-11-26T23:59:01.123Z","level":"info","msg":"listening","address":"127.0.0.1:50051"}
//
//   Log(LogLevel::kInfo, "listening", {{"address", address}});
#ifndef VLA_COMMON_LOG_H_
#define VLA_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace vla {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void Log(LogLevel level, absl::string_view message,
         std::initializer_list<std::pair<absl::string_view, std::string>>
             fields = {});

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

}  // namespace vla

#endif  // VLA_COMMON_LOG_H_
