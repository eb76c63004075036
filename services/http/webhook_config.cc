#include "services/http/webhook_config.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/names.h"

namespace vla::http {
namespace {

absl::StatusOr<importers::StatusPhase> ParsePhase(absl::string_view s) {
  using P = importers::StatusPhase;
  static const std::pair<absl::string_view, P> kPhases[] = {
      {"open", P::kOpen},       {"active", P::kActive},
      {"waiting", P::kWaiting}, {"resolved", P::kResolved},
      {"closed", P::kClosed},   {"cancelled", P::kCancelled}};
  for (const auto& [name, phase] : kPhases) {
    if (s == name) return phase;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "phase \"", s.substr(0, 40),
      "\" is not one of open, active, waiting, resolved, closed, cancelled"));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace

absl::StatusOr<WebhookConfig> WebhookConfig::Parse(absl::string_view file,
                                                   absl::string_view text) {
  WebhookConfig config;
  WebhookSource* source = nullptr;
  int line_no = 0;
  std::vector<std::pair<WebhookSource*, int>> opened;  // source, its line
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    const auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":", line_no, ": ", why));
    };
    // Only whole lines are comments: a secret may hold '#'.
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.front() == '[') {
      if (line.back() != ']') return error("a section is written [name]");
      const absl::string_view name = line.substr(1, line.size() - 2);
      if (name == "jira") {
        source = &config.jira;
      } else if (name == "servicenow") {
        source = &config.servicenow;
      } else {
        return error(absl::StrCat("unknown section [", name.substr(0, 40),
                                  "]; choose [jira] or [servicenow]"));
      }
      if (source->enabled) return error("section given twice");
      source->enabled = true;
      opened.emplace_back(source, line_no);
      continue;
    }
    if (source == nullptr) return error("a setting before any [section]");
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return error("expected KEY = VALUE");
    }
    const absl::string_view left =
        absl::StripAsciiWhitespace(line.substr(0, eq));
    const absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(eq + 1));
    const size_t space = left.find(' ');
    const absl::string_view key = left.substr(0, space);
    const absl::string_view arg =
        space == absl::string_view::npos
            ? absl::string_view()
            : absl::StripAsciiWhitespace(left.substr(space + 1));
    importers::ImportOptions& o = source->options;
    const bool mapping = key == "team" || key == "status" || key == "service";
    if (mapping == arg.empty()) {
      // Only the key is quoted: what follows it may be a misplaced secret.
      return error(mapping ? absl::StrCat(key, ": write ", key,
                                          " <source name> = <value>")
                           : absl::StrCat("\"", key.substr(0, 40), "\": write ",
                                          key.substr(0, 40), " = <value>"));
    }
    if (value.empty()) return error(absl::StrCat(key, ": empty value"));
    if (key == "secret") {
      source->secret = std::string(value);
    } else if (key == "secret_file") {
      auto secret = ReadSecretFile(std::string(value));
      if (!secret.ok()) {
        return error(absl::StrCat("secret_file: ", secret.status().message()));
      }
      if (secret->empty()) return error("secret_file: the file is empty");
      source->secret = *std::move(secret);
    } else if (key == "value_stream") {
      absl::string_view id = value;
      absl::ConsumePrefix(&id, "valueStreams/");
      if (auto s = ValidateId("value_stream", id); !s.ok()) {
        return error(s.message());
      }
      o.value_stream = std::string(value);
    } else if (key == "time_zone") {
      absl::TimeZone zone;
      if (!absl::LoadTimeZone(std::string(value), &zone)) {
        return error(absl::StrCat("time_zone: \"", value.substr(0, 60),
                                  "\" is not a known IANA time zone"));
      }
      o.time_zone = std::string(value);
    } else if (key == "team_field") {
      o.jira.team_field = std::string(value);
    } else if (key == "sla_field") {
      o.jira.sla_field = std::string(value);
    } else if (key == "team") {
      absl::string_view id = value;
      absl::ConsumePrefix(&id, "teams/");
      if (auto s = ValidateId("team", id); !s.ok()) return error(s.message());
      o.team_map[std::string(arg)] = std::string(value);
    } else if (key == "status") {
      auto phase = ParsePhase(value);
      if (!phase.ok()) return error(phase.status().message());
      o.jira.status_map[std::string(arg)] = *phase;
    } else if (key == "service") {
      o.service_map[std::string(arg)] = std::string(value);
    } else {
      return error(absl::StrCat("unknown setting \"", key.substr(0, 40), "\""));
    }
  }
  for (const auto& [s, line] : opened) {
    if (s->secret.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, ":", line, ": [", s == &config.jira ? "jira" : "servicenow",
          "] needs a secret (secret = ... or secret_file = ...)"));
    }
  }
  if (!config.jira.enabled && !config.servicenow.enabled) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": no [jira] or [servicenow] section"));
  }
  return config;
}

absl::StatusOr<WebhookConfig> WebhookConfig::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("webhook_config: cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(path, text.str());
}

}  // namespace vla::http
