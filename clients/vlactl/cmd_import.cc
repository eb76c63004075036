// import servicenow|jira: ITSM exports to work item events (through
// clients/importers), checked against the VMDB and ingested.
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/importers/importers.h"
#include "clients/lib/ingester.h"
#include "clients/vlactl/cli.h"
#include "clients/vlactl/progress.h"
#include "clients/vlactl/records.h"
#include "clients/vlactl/vmdb_client.h"
#include "common/status_util.h"

namespace vla::vlactl {
namespace {

using importers::ImportOptions;
using importers::ImportResult;
using importers::InputFile;
using importers::RowError;
using importers::StatusPhase;

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no such file or not readable"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "--flag 'Source name=value'" pairs into `out`.
absl::Status ParsePairs(const Context& ctx, const std::string& flag,
                        std::map<std::string, std::string>* out) {
  for (const std::string& pair : ctx.GetAll(flag)) {
    const size_t eq = pair.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": \"", pair, "\" is not NAME=VALUE"));
    }
    (*out)[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return absl::OkStatus();
}

absl::StatusOr<StatusPhase> ParsePhase(const std::string& text) {
  static const auto* phases = new std::map<std::string, StatusPhase>{
      {"open", StatusPhase::kOpen},
      {"active", StatusPhase::kActive},
      {"waiting", StatusPhase::kWaiting},
      {"resolved", StatusPhase::kResolved},
      {"closed", StatusPhase::kClosed},
      {"cancelled", StatusPhase::kCancelled},
      {"canceled", StatusPhase::kCancelled}};
  auto it = phases->find(absl::AsciiStrToLower(text));
  if (it == phases->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--status-map: \"", text,
                     "\" is not a phase (open, active, waiting, resolved, "
                     "closed or cancelled)"));
  }
  return it->second;
}

absl::StatusOr<ImportOptions> ParseOptions(const Context& ctx) {
  ImportOptions options;
  options.value_stream = ctx.Get("value-stream");
  if (options.value_stream.empty()) {
    return absl::InvalidArgumentError("--value-stream is required");
  }
  options.time_zone = ctx.Get("time-zone", options.time_zone);
  VLA_RETURN_IF_ERROR(ParsePairs(ctx, "team-map", &options.team_map));
  VLA_RETURN_IF_ERROR(ParsePairs(ctx, "service-map", &options.service_map));
  options.jira.team_field = ctx.Get("team-field", options.jira.team_field);
  options.jira.sla_field = ctx.Get("sla-field");
  std::map<std::string, std::string> status_map;
  VLA_RETURN_IF_ERROR(ParsePairs(ctx, "status-map", &status_map));
  for (const auto& [status, phase] : status_map) {
    VLA_ASSIGN_OR_RETURN(options.jira.status_map[status], ParsePhase(phase));
  }
  return options;
}

// The teams the events name that the VMDB does not know; with `create`,
// creates them as provider teams instead (returned in *created).
absl::Status CheckTeams(VmdbClient& vmdb, const std::vector<std::string>& teams,
                        bool create, std::vector<std::string>* created) {
  const KindInfo& kind = *FindKind("team");
  std::vector<std::string> missing;
  for (const std::string& name : teams) {
    auto team = VmdbClient::NewResource(kind);
    const grpc::Status s = vmdb.Get(kind, name, team.get());
    if (s.ok()) continue;
    if (s.error_code() != grpc::StatusCode::NOT_FOUND) return FromGrpcStatus(s);
    if (!create) {
      missing.push_back(name);
      continue;
    }
    v1::Team resource;
    const std::string id = name.substr(name.find('/') + 1);
    resource.set_display_name(id);
    resource.set_description("Created by vlactl import.");
    resource.set_kind(v1::TEAM_KIND_PROVIDER);
    const grpc::Status c = vmdb.Create(kind, id, resource, team.get());
    if (!c.ok() && c.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      return FromGrpcStatus(c);
    }
    created->push_back(name);
  }
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "the events name teams the server does not know: ",
        absl::StrJoin(missing, ", "),
        " (create them with `vlactl apply`, map the source groups to existing "
        "teams with --team-map, or pass --create-teams); nothing was sent"));
  }
  return absl::OkStatus();
}

// Ingests `events` (all, or those at `indexes`); the rejections' indexes are
// into `events`.
absl::StatusOr<client::IngestTotals> SendEvents(
    Context& ctx, const std::vector<v1::WorkItemEvent>& events,
    const client::IngestOptions& options, ProgressLine& progress,
    const std::vector<int64_t>* indexes = nullptr) {
  client::Ingester ingester(ctx.channel(), ctx.options(), options);
  const size_t n = indexes ? indexes->size() : events.size();
  for (size_t i = 0; i < n; ++i) {
    VLA_RETURN_IF_ERROR(ingester.Add(events[indexes ? (*indexes)[i] : i]));
    progress.Update([&](double secs) {
      return absl::StrCat("import: ", i + 1, " of ", n, " events sent (",
                          Number((i + 1) / secs, 0), "/s)");
    });
  }
  VLA_ASSIGN_OR_RETURN(client::IngestTotals totals, ingester.Finish());
  if (indexes) {
    for (client::IngestRejection& r : totals.rejected) {
      r.record_index = (*indexes)[r.record_index];
    }
  }
  return totals;
}

// The evaluator learns of teams created a moment ago through its VMDB feed,
// so their first ASSIGNED events may come back as "not a known team": sends
// those again until accepted or for about ten seconds (resending is safe:
// ingest deduplicates by event_id).
absl::Status ResendForNewTeams(Context& ctx,
                               const std::vector<v1::WorkItemEvent>& events,
                               const std::vector<std::string>& created,
                               const client::IngestOptions& options,
                               ProgressLine& progress,
                               client::IngestTotals* totals) {
  const std::set<std::string> created_set(created.begin(), created.end());
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<int64_t> again;
    std::vector<client::IngestRejection> kept;
    for (client::IngestRejection& r : totals->rejected) {
      if (created_set.count(events[r.record_index].team()) > 0 &&
          absl::StrContains(r.reason, "is not a known team")) {
        again.push_back(r.record_index);
      } else {
        kept.push_back(std::move(r));
      }
    }
    if (again.empty()) return absl::OkStatus();
    if (!SleepUnlessInterrupted(0.2)) {
      return absl::CancelledError("interrupted");
    }
    VLA_ASSIGN_OR_RETURN(client::IngestTotals more,
                         SendEvents(ctx, events, options, progress, &again));
    totals->accepted += more.accepted;
    totals->duplicates += more.duplicates;
    totals->rejected = std::move(kept);
    for (client::IngestRejection& r : more.rejected) {
      totals->rejected.push_back(std::move(r));
    }
  }
  return absl::OkStatus();
}

nlohmann::json RowErrorsJson(const std::vector<RowError>& errors) {
  nlohmann::json out = nlohmann::json::array();
  for (const RowError& e : errors) {
    nlohmann::json j = {{"file", e.file}, {"reason", e.reason}};
    if (e.line > 0) j["line"] = e.line;
    if (e.index >= 0) j["index"] = e.index;
    if (!e.key.empty()) j["key"] = e.key;
    out.push_back(std::move(j));
  }
  return out;
}

int RunImport(Context& ctx) {
  if (ctx.args().size() != 1 ||
      (ctx.args()[0] != "servicenow" && ctx.args()[0] != "jira")) {
    return ctx.Usage("import: say which source: servicenow or jira");
  }
  const bool servicenow = ctx.args()[0] == "servicenow";
  const std::string path = ctx.Get("filename");
  if (path.empty()) return ctx.Usage("import: -f FILE is required");
  if (!servicenow && ctx.Has("audit")) {
    return ctx.Usage(
        "import jira: --audit is for servicenow (Jira exports "
        "carry their changelog)");
  }
  auto options = ParseOptions(ctx);
  if (!options.ok())
    return ctx.Usage(absl::StrCat("import: ", options.status().message()));
  client::IngestOptions ingest_options;
  if (ctx.Has("batch-size") &&
      (!absl::SimpleAtoi(ctx.Get("batch-size"), &ingest_options.batch_size) ||
       ingest_options.batch_size < 1)) {
    return ctx.Usage("import: --batch-size must be a positive number");
  }

  auto text = ReadWholeFile(path);
  if (!text.ok()) return ctx.Fail(text.status());
  std::optional<std::string> audit_text;
  if (ctx.Has("audit")) {
    auto audit = ReadWholeFile(ctx.Get("audit"));
    if (!audit.ok()) return ctx.Fail(audit.status());
    audit_text = *std::move(audit);
  }
  const std::string audit_path = ctx.Get("audit");
  absl::StatusOr<ImportResult> result =
      servicenow ? importers::ImportServiceNow(
                       {path, *text},
                       audit_text ? std::optional<InputFile>(
                                        InputFile{audit_path, *audit_text})
                                  : std::nullopt,
                       *options)
                 : importers::ImportJira({path, *text}, *options);
  if (!result.ok()) return ctx.Fail(result.status());
  const importers::ImportCounts& counts = result->counts;

  const bool dry_run = ctx.Has("dry-run");
  const std::string emit = ctx.Get("emit");
  std::vector<std::string> created;
  std::optional<client::IngestTotals> totals;
  ProgressLine progress(ctx.err());
  if (!emit.empty()) {
    std::ofstream out(emit, std::ios::trunc);
    for (const v1::WorkItemEvent& e : result->events) {
      out << RecordToLine(e) << "\n";
    }
    out.close();
    if (!out) {
      return ctx.Fail(
          absl::NotFoundError(absl::StrCat("--emit: cannot write ", emit)));
    }
  } else if (!dry_run && !result->events.empty()) {
    // The value stream and the teams first: otherwise every event would be
    // rejected one by one.
    VmdbClient vmdb(ctx.channel(), ctx.options());
    const KindInfo& vs_kind = *FindKind("valuestream");
    auto stream = VmdbClient::NewResource(vs_kind);
    const std::string vs = result->events.front().value_stream();
    if (grpc::Status s = vmdb.Get(vs_kind, vs, stream.get()); !s.ok()) {
      return ctx.Fail(s);
    }
    if (absl::Status s =
            CheckTeams(vmdb, result->teams, ctx.Has("create-teams"), &created);
        !s.ok()) {
      return ctx.Fail(s);
    }
    auto sent = SendEvents(ctx, result->events, ingest_options, progress);
    if (!sent.ok()) return ctx.Fail(sent.status());
    totals = *std::move(sent);
    if (!created.empty()) {
      auto retried = ResendForNewTeams(ctx, result->events, created,
                                       ingest_options, progress, &*totals);
      if (!retried.ok()) return ctx.Fail(retried);
    }
    progress.Finish();
  }

  const bool rejected = totals && !totals->rejected.empty();
  const int code = result->errors.empty() && !rejected ? client::kExitOk
                                                       : client::kExitRejected;
  if (ctx.format() != Format::kTable) {
    nlohmann::json report = {{"source", ctx.args()[0]},
                             {"records", counts.records},
                             {"items", counts.items},
                             {"skipped", RowErrorsJson(result->errors)},
                             {"warnings", RowErrorsJson(result->warnings)},
                             {"events", counts.events},
                             {"teams", result->teams},
                             {"teams_created", created}};
    if (audit_text) {
      report["history"] = {{"records", counts.history_records},
                           {"skipped", counts.history_skipped},
                           {"unmatched", counts.history_unmatched}};
    }
    if (totals) {
      report["accepted"] = totals->accepted;
      report["duplicates"] = totals->duplicates;
      report["rejected"] = nlohmann::json::array();
      for (const client::IngestRejection& r : totals->rejected) {
        const v1::WorkItemEvent& e = result->events[r.record_index];
        report["rejected"].push_back({{"event_id", e.event_id()},
                                      {"item_id", e.item_id()},
                                      {"reason", r.reason}});
      }
    }
    PrintDocuments(ctx.out(), ctx.format(), {JsonDump(report)}, false);
    return code;
  }
  std::ostream& out = ctx.out();
  out << path << (audit_text ? absl::StrCat(" + ", audit_path) : "") << ": "
      << counts.records << " records, " << counts.items << " items imported, "
      << counts.skipped << " skipped, " << counts.events << " events\n";
  if (audit_text) {
    out << audit_path << ": " << counts.history_records
        << " history rows used, " << counts.history_skipped << " skipped, "
        << counts.history_unmatched << " for no imported item\n";
  }
  for (const RowError& e : result->errors) {
    out << "  skipped " << e.ToString() << "\n";
  }
  for (const RowError& e : result->warnings) {
    out << "  warning " << e.ToString() << "\n";
  }
  if (!created.empty()) {
    out << "teams created: " << absl::StrJoin(created, ", ") << "\n";
  }
  if (!emit.empty()) {
    out << emit << ": " << result->events.size()
        << " events written (send them with `vlactl ingest -f " << emit
        << "`)\n";
  } else if (dry_run) {
    out << "dry run: nothing sent; the events name "
        << absl::StrJoin(result->teams, ", ") << "\n";
  } else if (totals) {
    out << "ingest: accepted " << totals->accepted << ", duplicates "
        << totals->duplicates << ", rejected " << totals->rejected.size()
        << " (" << Number(progress.Seconds(), 1) << "s)\n";
    for (const client::IngestRejection& r : totals->rejected) {
      out << "  rejected " << result->events[r.record_index].event_id() << ": "
          << r.reason << "\n";
    }
  }
  return code;
}

}  // namespace

std::vector<Command> ImportCommands() {
  return {
      {"import",
       "import servicenow|jira -f FILE --value-stream ID [FLAGS]",
       "Import an ITSM export as work item events and ingest them.",
       "servicenow: an incident table export (CSV or JSON) with number, "
       "opened_at,\nresolved_at, closed_at, assignment_group, state, ...; "
       "--audit adds the\nsys_audit export for the assignment and state "
       "history.\njira: the JSON of /rest/api/2/search?expand=changelog (or "
       "an array of issues).\n\n"
       "Every event gets a stable id, so importing the same file again adds "
       "nothing\n(all duplicates). Malformed records are skipped and listed "
       "with their line.\nThe value stream and every team the events name "
       "must exist first: source\ngroups map to teams/<slug of the name> "
       "unless --team-map says otherwise.\nNothing is sent when one is "
       "missing (or pass --create-teams). Exit code 7\nwhen a record was "
       "skipped or an event rejected. Field mappings:\nclients/importers/"
       "README.md.\n\nExamples:\n"
       "  vlactl import servicenow -f incident.csv --audit sys_audit.csv \\\n"
       "      --value-stream incident --team-map 'Service Desk=service-desk'\n"
       "  vlactl import jira -f issues.json --value-stream delivery "
       "--team-field customfield_10001\n",
       {{"filename", 'f', "FILE", "the export to import"},
        {"value-stream", 0, "ID", "value stream of the events (required)"},
        {"audit", 0, "FILE", "servicenow: the sys_audit export (CSV or JSON)"},
        {"time-zone", 0, "ZONE",
         "IANA zone of times without an offset (default UTC)"},
        {"team-map", 0, "GROUP=TEAM",
         "source group (name or sys_id) to team id; repeatable"},
        {"service-map", 0, "SOURCE=SERVICE",
         "source service to the events' service; repeatable"},
        {"team-field", 0, "FIELD",
         "jira: the field holding the team (default Team)"},
        {"sla-field", 0, "FIELD",
         "jira: the JSM SLA field that sets made_sla on resolution"},
        {"status-map", 0, "STATUS=PHASE",
         "jira: status to open|active|waiting|resolved|closed|cancelled; "
         "repeatable"},
        {"create-teams", 0, "", "create missing teams as provider teams"},
        {"dry-run", 0, "", "convert and report, send nothing"},
        {"emit", 0, "FILE",
         "write the events as JSON Lines for `vlactl ingest`, send nothing"},
        {"batch-size", 0, "N", "events per batch (default 500)"}},
       true,
       RunImport},
  };
}

}  // namespace vla::vlactl
