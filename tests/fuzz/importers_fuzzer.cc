// Fuzzes the ServiceNow and Jira importers. The first byte selects the
// importer: 0 ServiceNow incidents, 1 ServiceNow incidents and an audit
// export (the rest split at the first NUL byte), 2 Jira. Whatever the input,
// the importers must return a result or an error, never crash.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/importers/importers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  using vla::importers::ImportResult;
  using vla::importers::InputFile;
  const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  vla::importers::ImportOptions options;
  options.value_stream = "incident";
  options.team_map = {{"Service Desk", "service-desk"}};
  options.jira.sla_field = "Time to resolution";

  absl::StatusOr<ImportResult> result;
  switch (data[0] % 3) {
    case 0:
      result = ImportServiceNow({"incidents", text}, std::nullopt, options);
      break;
    case 1: {
      const size_t nul = text.find('\0');
      const absl::string_view incidents = text.substr(0, nul);
      const absl::string_view audit = nul == absl::string_view::npos
                                          ? absl::string_view()
                                          : text.substr(nul + 1);
      result = ImportServiceNow({"incidents", incidents},
                                InputFile{"audit", audit}, options);
      break;
    }
    default:
      result = ImportJira({"issues", text}, options);
      break;
  }
  if (!result.ok()) return 0;
  // The counts agree with the result.
  if (result->counts.events != static_cast<int>(result->events.size()) ||
      result->counts.skipped > result->counts.records) {
    __builtin_trap();
  }
  for (const auto& e : result->errors) (void)e.ToString();
  for (const auto& w : result->warnings) (void)w.ToString();
  return 0;
}
