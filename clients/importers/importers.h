// Importers that turn ITSM exports into work item events (domain.md,
// "Incoming data") with stable event ids: importing the same file twice
// yields the same events with the same ids, so the second ingest adds
// nothing. Pure functions over the input text; sending the events is the
// caller's business (e.g. `vlactl import`).
//
//   ImportOptions options;
//   options.value_stream = "incident";
//   absl::StatusOr<ImportResult> r = ImportServiceNow(
//       {"incidents.csv", incidents_text}, InputFile{"audit.csv", audit_text},
//       options);
//   if (!r.ok()) ...;                   // the file as a whole is unusable
//   for (const RowError& e : r->errors) std::cerr << e.ToString() << "\n";
//   ... send r->events; make sure the teams in r->teams exist ...
//
// The field mappings are documented in clients/importers/README.md.
#ifndef VLA_CLIENTS_IMPORTERS_IMPORTERS_H_
#define VLA_CLIENTS_IMPORTERS_IMPORTERS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::importers {

// An input: its name (used in errors and warnings) and its whole text.
// Both must outlive the call that reads them.
struct InputFile {
  absl::string_view name;
  absl::string_view text;
};

// A record that was skipped (ImportResult::errors) or imported with an
// assumption the user should know about (ImportResult::warnings).
struct RowError {
  std::string file;
  // CSV: the physical line (1-based) where the record starts. 0 when not
  // known (JSON input, or the file as a whole).
  int line = 0;
  // 0-based index of the record among the data records (CSV rows after the
  // header, elements of the JSON array); -1 for the file as a whole.
  int index = -1;
  // The item's key (ServiceNow number, Jira key) when known.
  std::string key;
  std::string reason;

  // "file:line: key: reason" (or "file[index]: key: reason" without a line).
  std::string ToString() const;
};

// Where an ITSM status puts a work item; the importers turn a move between
// phases into events (README.md, "Status transitions").
enum class StatusPhase {
  kOpen,       // in a queue, not started (New, To Do)
  kActive,     // being worked on (In Progress)
  kWaiting,    // paused for someone outside (On Hold, Waiting for customer)
  kResolved,   // value delivered (Resolved, Done)
  kClosed,     // terminal after delivery (Closed)
  kCancelled,  // terminal, no value (Canceled, Won't Do)
};

struct JiraOptions {
  // The field that holds the owning team: matched against a changelog item's
  // `field` (display name) or `fieldId`, and read from `fields` by id or,
  // with `names` in the export (expand=names), by display name. The
  // assignee is a person, not a team, and is never used unless named here
  // ("assignee"), e.g. with team_map mapping people to teams.
  std::string team_field = "Team";
  // Status name (matched case-insensitively) to phase; entries here override
  // the default mapping in README.md. A status in neither falls back to its
  // status category when the export shows it (new, indeterminate, done),
  // else it is treated as kActive with a warning.
  std::map<std::string, StatusPhase> status_map;
  // A Jira Service Management SLA field (id or display name, e.g.
  // "customfield_10030" or "Time to resolution"): sla_met on RESOLVED is
  // true when it has cycles and none breached. Unset: sla_met is false.
  std::string sla_field;
  // Resolutions (case-insensitive) that mean the work was dropped: the
  // issue also gets a CANCELLED at its resolution date.
  std::vector<std::string> cancelled_resolutions = {
      "Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Declined",
      "Rejected", "Cancelled", "Canceled",  "Withdrawn",        "Obsolete"};
};

struct ImportOptions {
  // The value stream of every event: "incident" or "valueStreams/incident".
  // Required.
  std::string value_stream;
  // IANA zone of times written without a UTC offset (ServiceNow exports
  // times in the exporting user's zone, without saying which). Note: the
  // zone is part of the event ids (they hold UTC times).
  std::string time_zone = "UTC";
  // Source group (ServiceNow assignment group name or sys_id, Jira team) to
  // team id ("network" or "teams/network"). A group not listed maps to the
  // slug of its name: "Network Ops (EMEA)" -> "teams/network-ops-emea".
  std::map<std::string, std::string> team_map;
  // Source service (ServiceNow business_service, Jira component) to the
  // `service` of the events; a service not listed is used as written.
  std::map<std::string, std::string> service_map;
  JiraOptions jira;
};

struct ImportCounts {
  int records = 0;            // data records read (rows, issues)
  int items = 0;              // items imported (records minus skipped)
  int skipped = 0;            // records skipped, each with an error
  int events = 0;             // events produced
  int history_records = 0;    // audit rows or changelog histories used
  int history_skipped = 0;    // audit rows skipped, each with an error
  int history_unmatched = 0;  // audit rows for no imported item
};

struct ImportResult {
  // Per item in input order, each item's events in time order (equal times
  // in the order the item's life implies; the evaluator keeps that order).
  std::vector<v1::WorkItemEvent> events;
  // Records (or history rows) that were skipped: nothing is dropped
  // silently.
  std::vector<RowError> errors;
  // Records imported with an assumption (unknown status, inconsistent
  // columns, truncated changelog, missing optional column).
  std::vector<RowError> warnings;
  // Every `teams/...` name the events refer to, sorted: these teams must
  // exist before the events are ingested.
  std::vector<std::string> teams;
  ImportCounts counts;
  // Webhooks: why a delivery makes no events (an event type that is not
  // about issues, a deletion after resolution, ...); empty otherwise.
  std::string ignored;
};

// A ServiceNow incident export (CSV or JSON, detected from the first
// character) with an optional sys_audit export (CSV or JSON) for the
// assignment and state history. INVALID_ARGUMENT when an input as a whole is
// unusable (not CSV/JSON, no `number` or `opened_at` column) or an option is
// invalid; malformed records are reported in `errors` and skipped.
absl::StatusOr<ImportResult> ImportServiceNow(
    const InputFile& incidents, const std::optional<InputFile>& audit,
    const ImportOptions& options);

// A Jira issue export: the JSON of the REST search endpoint with
// expand=changelog (`{"issues": [...]}`), or a plain array of issues.
absl::StatusOr<ImportResult> ImportJira(const InputFile& issues,
                                        const ImportOptions& options);

// Webhooks: one delivery of a live change, mapped by the same code as the
// file importers above, keeping only the events at the instant of the
// change, so that a delivery and a later import of the same change give the
// same event ids and count once (README.md, "Webhooks"). A non-OK status
// (INVALID_ARGUMENT naming the field) means the delivery is malformed;
// nothing of it should be stored.

// A Jira webhook delivery: `webhookEvent` jira:issue_created (the issue's
// events at `fields.created`, starting in its current status),
// jira:issue_updated (the events of `changelog.items` at `fields.updated`)
// or jira:issue_deleted (CANCELLED at `timestamp` unless the issue is
// resolved). Other event types set `ignored`. Webhook payloads carry no
// field names: give jira.team_field and jira.sla_field as field ids.
absl::StatusOr<ImportResult> ImportJiraWebhook(const InputFile& delivery,
                                               const ImportOptions& options);

// A ServiceNow delivery (the business rule of
// docs/integrations/servicenow.md): one incident record as the Table API
// renders it, with `vla_operation` ("insert" or "update") and, for an
// update, `vla_changes`: the changed fields as sys_audit rows
// (`fieldname`, `oldvalue`, `newvalue`) at the record's `sys_updated_on`.
// An insert gives the record's events as a one-row export would; an update
// the events its audit rows give at `sys_updated_on`.
absl::StatusOr<ImportResult> ImportServiceNowWebhook(
    const InputFile& delivery, const ImportOptions& options);

}  // namespace vla::importers

#endif  // VLA_CLIENTS_IMPORTERS_IMPORTERS_H_
