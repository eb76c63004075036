// The ServiceNow incident importer (README.md, "ServiceNow").
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/importers/import_util.h"
#include "clients/importers/importers.h"
#include "clients/importers/records.h"
#include "common/status_util.h"

namespace vla::importers {
namespace {

using internal::Cell;
using internal::Context;
using internal::ItemBuilder;
using internal::Lower;
using internal::Record;
using internal::Table;

// Columns of list-view exports (labels) and audit exports, under the field
// names the importer reads.
std::string ColumnName(absl::string_view raw) {
  static const auto* const kAliases = new std::map<std::string, std::string>{
      {"opened", "opened_at"},     {"resolved", "resolved_at"},
      {"closed", "closed_at"},     {"service", "business_service"},
      {"channel", "contact_type"}, {"on_hold_reason", "hold_reason"},
      {"field_name", "fieldname"}, {"old_value", "oldvalue"},
      {"new_value", "newvalue"},   {"document_key", "documentkey"},
      {"table_name", "tablename"}, {"created", "sys_created_on"},
  };
  std::string name = internal::NormalColumn(raw);
  auto it = kAliases->find(name);
  return it == kAliases->end() ? name : it->second;
}

// Boolean columns that may carry the first-contact verdict, in order of
// preference (instances name their custom field differently).
constexpr absl::string_view kFirstContactColumns[] = {
    "first_contact",
    "first_contact_resolution",
    "u_first_contact",
    "u_first_contact_resolution",
    "u_fcr",
    "first_call_resolution",
    "u_first_call_resolution"};

// The phase of an incident state, by choice value or label.
std::optional<StatusPhase> StatePhase(absl::string_view state) {
  const std::string s = Lower(state);
  if (s == "1" || s == "new") return StatusPhase::kOpen;
  if (s == "2" || s == "in progress" || s == "active" || s == "assigned" ||
      s == "work in progress") {
    return StatusPhase::kActive;
  }
  if (s == "3" || s == "on hold" || absl::StartsWith(s, "awaiting") ||
      absl::StartsWith(s, "pending")) {
    return StatusPhase::kWaiting;
  }
  if (s == "6" || s == "resolved") return StatusPhase::kResolved;
  if (s == "7" || s == "closed") return StatusPhase::kClosed;
  if (s == "8" || s == "canceled" || s == "cancelled") {
    return StatusPhase::kCancelled;
  }
  return std::nullopt;
}

// The WAITING reason for a state and (when audited) its on-hold reason, by
// choice value or label.
std::string HoldReason(absl::string_view state, absl::string_view hold) {
  static const auto* const kHoldReasons =
      new std::map<std::string, std::string>{{"1", "customer"},
                                             {"3", "problem"},
                                             {"4", "vendor"},
                                             {"5", "change"}};
  const std::string h = Lower(hold);
  if (!h.empty()) {
    auto it = kHoldReasons->find(h);
    return it != kHoldReasons->end() ? it->second : internal::WaitReason(h);
  }
  const std::string s = Lower(state);
  if (s.empty() || s == "3") return "on-hold";
  return internal::WaitReason(s);
}

// INC -> INCIDENT, PRB -> PROBLEM, CHG -> CHANGE, REQ/RITM/SCTASK -> REQUEST.
v1::ItemType TypeOf(absl::string_view number) {
  const std::string n = absl::AsciiStrToUpper(number);
  if (absl::StartsWith(n, "PRB")) return v1::ITEM_TYPE_PROBLEM;
  if (absl::StartsWith(n, "CHG")) return v1::ITEM_TYPE_CHANGE;
  if (absl::StartsWith(n, "REQ") || absl::StartsWith(n, "RITM") ||
      absl::StartsWith(n, "SCTASK")) {
    return v1::ITEM_TYPE_REQUEST;
  }
  return v1::ITEM_TYPE_INCIDENT;
}

// "1 - Critical" -> "P1"; anything else as written.
std::string Priority(absl::string_view priority) {
  const absl::string_view p = absl::StripAsciiWhitespace(priority);
  if (!p.empty() && absl::ascii_isdigit(static_cast<unsigned char>(p[0])) &&
      (p.size() == 1 ||
       !absl::ascii_isdigit(static_cast<unsigned char>(p[1])))) {
    return absl::StrCat("P", p.substr(0, 1));
  }
  return std::string(p);
}

// A time cell: the stored value of a display-value object is UTC; other
// text is in `zone`.
absl::StatusOr<absl::Time> CellTime(const Cell& cell, absl::TimeZone zone) {
  return internal::ParseTimestamp(cell.value,
                                  cell.stored ? absl::UTCTimeZone() : zone);
}

bool IsSysId(absl::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isxdigit(static_cast<unsigned char>(c));
         });
}

// One incident row, checked.
struct Incident {
  const Record* record = nullptr;
  std::string number;
  absl::Time opened;
  std::optional<absl::Time> resolved;
  std::optional<absl::Time> closed;
  std::string group;  // a `teams/...` name, or empty when unassigned
  bool sla_met = false;
  bool first_contact = false;
  int reopen_count = 0;
  std::optional<StatusPhase> state;
  std::string state_text;
};

// One audit row that applies to an incident, checked.
struct AuditRow {
  const Record* record = nullptr;
  absl::Time time;
  std::string field;
  std::string old_value;
  std::string new_value;
};

class ServiceNowImport {
 public:
  ServiceNowImport(const Context& context, ImportResult& result)
      : context_(context), result_(result) {}

  absl::Status Run(const InputFile& incidents,
                   const std::optional<InputFile>& audit);

 private:
  void Warn(const InputFile& file, const Record* record, absl::string_view key,
            std::string reason) {
    result_.warnings.push_back(RowError{
        std::string(file.name), record ? record->line : 0,
        record ? record->index : -1, std::string(key), std::move(reason)});
  }
  void Fail(const InputFile& file, const Record& record, absl::string_view key,
            std::string reason) {
    result_.errors.push_back(RowError{std::string(file.name), record.line,
                                      record.index, std::string(key),
                                      std::move(reason)});
  }

  // Puts errors[from..] (one file's) in record order.
  void SortByRecord(size_t from) {
    std::stable_sort(
        result_.errors.begin() + from, result_.errors.end(),
        [](const RowError& a, const RowError& b) { return a.index < b.index; });
  }

  // A time cell: the stored value of a display-value object is UTC; other
  // text is in the configured zone.
  absl::StatusOr<absl::Time> Time(const Cell& cell) const {
    return CellTime(cell, context_.zone());
  }
  absl::StatusOr<std::optional<absl::Time>> OptionalTime(
      const Cell& cell) const {
    if (absl::StripAsciiWhitespace(cell.value).empty()) return std::nullopt;
    VLA_ASSIGN_OR_RETURN(absl::Time t, Time(cell));
    return t;
  }
  // The team of an assignment group value (name, or sys_id when known).
  absl::StatusOr<std::string> GroupTeam(absl::string_view value) const;

  absl::StatusOr<Incident> ParseIncident(const Record& record) const;
  void ReadAudit(const InputFile& file);
  void Build(const InputFile& file, const Incident& incident);

  const Context& context_;
  ImportResult& result_;
  Table table_;
  Table audit_table_;
  std::vector<Incident> incidents_;
  std::map<std::string, size_t> by_key_;  // number and sys_id -> incidents_
  std::map<std::string, std::string> group_names_;  // sys_id -> name
  std::vector<std::vector<AuditRow>> audit_rows_;   // per incidents_
  bool has_first_contact_ = false;
  std::string first_contact_column_;
};

absl::StatusOr<std::string> ServiceNowImport::GroupTeam(
    absl::string_view value) const {
  const absl::string_view v = absl::StripAsciiWhitespace(value);
  if (context_.HasTeamMapping(v)) return context_.Team(v);
  if (auto it = group_names_.find(std::string(v)); it != group_names_.end()) {
    return context_.Team(it->second);
  }
  if (IsSysId(v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sys_id ", v,
        " has no known group name; export display values or map it in "
        "team_map"));
  }
  return context_.Team(v);
}

absl::StatusOr<Incident> ServiceNowImport::ParseIncident(
    const Record& record) const {
  Incident in;
  in.record = &record;
  const auto field_error = [](absl::string_view field, const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
  };
  in.number =
      std::string(absl::StripAsciiWhitespace(record.Get("number").display));
  if (auto s = internal::CheckItemKey(in.number); !s.ok()) {
    return field_error("number", s);
  }
  auto opened = Time(record.Get("opened_at"));
  if (!opened.ok()) return field_error("opened_at", opened.status());
  in.opened = *opened;
  auto resolved = OptionalTime(record.Get("resolved_at"));
  if (!resolved.ok()) return field_error("resolved_at", resolved.status());
  in.resolved = *resolved;
  auto closed = OptionalTime(record.Get("closed_at"));
  if (!closed.ok()) return field_error("closed_at", closed.status());
  in.closed = *closed;
  auto sla = internal::ParseBool(record.Get("made_sla").value);
  if (!sla.ok()) return field_error("made_sla", sla.status());
  in.sla_met = *sla;
  if (has_first_contact_) {
    auto fc = internal::ParseBool(record.Get(first_contact_column_).value);
    if (!fc.ok()) return field_error(first_contact_column_, fc.status());
    in.first_contact = *fc;
  }
  auto reassignments =
      internal::ParseCount(record.Get("reassignment_count").value);
  if (!reassignments.ok()) {
    return field_error("reassignment_count", reassignments.status());
  }
  auto reopens = internal::ParseCount(record.Get("reopen_count").value);
  if (!reopens.ok()) return field_error("reopen_count", reopens.status());
  in.reopen_count = *reopens;
  const Cell& group = record.Get("assignment_group");
  if (!absl::StripAsciiWhitespace(group.value).empty()) {
    // A sys_id mapping wins over the name.
    auto team = context_.HasTeamMapping(group.value)
                    ? context_.Team(group.value)
                    : GroupTeam(group.display);
    if (!team.ok()) return field_error("assignment_group", team.status());
    in.group = *team;
  }
  const Cell& state = record.Get("state");
  in.state_text = std::string(absl::StripAsciiWhitespace(state.display));
  if (!in.state_text.empty()) {
    in.state = StatePhase(state.display);
    if (!in.state) in.state = StatePhase(state.value);
  }
  return in;
}

void ServiceNowImport::ReadAudit(const InputFile& file) {
  const size_t first_error = result_.errors.size();
  audit_rows_.resize(incidents_.size());
  result_.errors.insert(result_.errors.end(), audit_table_.errors.begin(),
                        audit_table_.errors.end());
  result_.counts.history_skipped +=
      static_cast<int>(audit_table_.errors.size());
  for (const Record& record : audit_table_.records) {
    const std::string table = Lower(record.Get("tablename").value);
    std::optional<size_t> target;
    if (table.empty() || table == "incident") {
      for (absl::string_view column : {"number", "documentkey"}) {
        auto it = by_key_.find(
            std::string(absl::StripAsciiWhitespace(record.Get(column).value)));
        if (it != by_key_.end()) {
          target = it->second;
          break;
        }
      }
    }
    if (!target) {
      ++result_.counts.history_unmatched;
      continue;
    }
    AuditRow row;
    row.record = &record;
    row.field = Lower(record.Get("fieldname").value);
    if (row.field != "assignment_group" && row.field != "state" &&
        row.field != "incident_state" && row.field != "hold_reason") {
      continue;
    }
    auto time = Time(record.Get("sys_created_on"));
    if (!time.ok()) {
      Fail(file, record, incidents_[*target].number,
           absl::StrCat("sys_created_on: ", time.status().message()));
      ++result_.counts.history_skipped;
      continue;
    }
    row.time = *time;
    // Group values are sys_ids in a real sys_audit export, names in some
    // other exports; state values are choice values ("6") or labels.
    row.old_value =
        std::string(absl::StripAsciiWhitespace(record.Get("oldvalue").value));
    row.new_value =
        std::string(absl::StripAsciiWhitespace(record.Get("newvalue").value));
    if (row.field == "assignment_group") {
      bool ok = true;
      for (std::string* v : {&row.old_value, &row.new_value}) {
        if (v->empty()) continue;
        auto team = GroupTeam(*v);
        if (!team.ok()) {
          Fail(file, record, incidents_[*target].number,
               absl::StrCat(v == &row.old_value ? "oldvalue: " : "newvalue: ",
                            team.status().message()));
          ok = false;
          break;
        }
        *v = *team;
      }
      if (!ok) {
        ++result_.counts.history_skipped;
        continue;
      }
    }
    ++result_.counts.history_records;
    audit_rows_[*target].push_back(std::move(row));
  }
  SortByRecord(first_error);
  for (auto& rows : audit_rows_) {
    std::stable_sort(
        rows.begin(), rows.end(),
        [](const AuditRow& a, const AuditRow& b) { return a.time < b.time; });
  }
}

void ServiceNowImport::Build(const InputFile& file, const Incident& in) {
  ItemBuilder b(context_, "snow", in.number, TypeOf(in.number));
  const Record& record = *in.record;
  b.set_service(context_.Service(record.Get("business_service").display));
  b.AddLabel("source", "servicenow");
  b.AddLabel("priority", Priority(record.Get("priority").display));
  b.AddLabel("category", record.Get("category").display);
  b.AddLabel("contact_type", record.Get("contact_type").display);
  b.AddLabel("reassignment_count", record.Get("reassignment_count").value);
  b.AddLabel("reopen_count", record.Get("reopen_count").value);
  b.set_resolution(in.sla_met, in.first_contact);

  b.Add(in.opened, v1::EVENT_KIND_CREATED);

  static const std::vector<AuditRow> kNoRows;
  const std::vector<AuditRow>& audit =
      audit_rows_.empty() ? kNoRows : audit_rows_[&in - incidents_.data()];
  std::vector<const AuditRow*> groups, states, holds;
  for (const AuditRow& row : audit) {
    if (row.field == "assignment_group") groups.push_back(&row);
    if (row.field == "state") states.push_back(&row);
    if (row.field == "hold_reason") holds.push_back(&row);
  }
  if (states.empty()) {
    for (const AuditRow& row : audit) {
      if (row.field == "incident_state") states.push_back(&row);
    }
  }

  // Custody: the audited changes, or the final group from the start.
  if (!groups.empty()) {
    if (!groups.front()->old_value.empty()) {
      b.Assign(in.opened, groups.front()->old_value);
    }
    for (const AuditRow* row : groups) {
      if (!row->new_value.empty()) b.Assign(row->time, row->new_value);
    }
  } else if (!in.group.empty()) {
    b.Assign(in.opened, in.group);
  }

  if (!states.empty()) {
    // The audited state changes.
    const auto phase_of = [&](const AuditRow& row, absl::string_view value) {
      auto phase = StatePhase(value);
      if (!phase) {
        Warn(file, &record, in.number,
             absl::StrCat("state \"", value.substr(0, 60), "\" (audit at ",
                          absl::FormatTime(row.time),
                          ") is unknown; treated as In Progress"));
        return StatusPhase::kActive;
      }
      return *phase;
    };
    StatusPhase phase = StatusPhase::kOpen;
    if (!states.front()->old_value.empty()) {
      const StatusPhase first =
          phase_of(*states.front(), states.front()->old_value);
      b.Transition(in.opened, phase, first,
                   HoldReason(states.front()->old_value, ""));
      phase = first;
    }
    for (const AuditRow* row : states) {
      const StatusPhase to = phase_of(*row, row->new_value);
      std::string hold;
      for (const AuditRow* h : holds) {
        if (h->time == row->time) hold = h->new_value;
      }
      b.Transition(row->time, phase, to, HoldReason(row->new_value, hold));
      phase = to;
    }
    if (in.resolved &&
        (phase == StatusPhase::kOpen || phase == StatusPhase::kActive ||
         phase == StatusPhase::kWaiting)) {
      Warn(file, &record, in.number,
           "the audited state history ends open but resolved_at is set; the "
           "audit may be incomplete");
    }
  } else {
    // From the columns alone: no waits, reopens placed at opened_at.
    if (in.reopen_count > 0) b.Add(in.opened, v1::EVENT_KIND_REOPENED);
    const bool open_now = in.state && (*in.state == StatusPhase::kOpen ||
                                       *in.state == StatusPhase::kActive ||
                                       *in.state == StatusPhase::kWaiting);
    if (!in.state_text.empty() && !in.state) {
      Warn(file, &record, in.number,
           absl::StrCat("state \"", in.state_text.substr(0, 60),
                        "\" is unknown; resolved_at and closed_at decide"));
    }
    if (in.state == StatusPhase::kCancelled) {
      b.Add(in.closed.value_or(in.resolved.value_or(in.opened)),
            v1::EVENT_KIND_CANCELLED);
    } else if (open_now) {
      if (in.resolved || in.closed) {
        Warn(file, &record, in.number,
             absl::StrCat("state is ", in.state_text,
                          " but resolved_at or closed_at is set; the item "
                          "is imported as open"));
      }
    } else {
      if (in.resolved || in.closed) {
        b.Add(in.resolved.value_or(*in.closed), v1::EVENT_KIND_RESOLVED);
      }
      if (in.closed) b.Add(*in.closed, v1::EVENT_KIND_CLOSED);
    }
  }
  b.AppendTo(result_);
}

absl::Status ServiceNowImport::Run(const InputFile& incidents,
                                   const std::optional<InputFile>& audit) {
  VLA_ASSIGN_OR_RETURN(table_, internal::ReadTable(incidents, ColumnName));
  for (absl::string_view column : {"number", "opened_at"}) {
    if (!table_.columns.count(std::string(column))) {
      return absl::InvalidArgumentError(
          absl::StrCat(incidents.name, ": no \"", column, "\" column"));
    }
  }
  for (absl::string_view column :
       {"resolved_at", "closed_at", "assignment_group", "made_sla"}) {
    if (!table_.columns.count(std::string(column))) {
      Warn(incidents, nullptr, "",
           absl::StrCat("no \"", column, "\" column; see README.md"));
    }
  }
  for (absl::string_view column : kFirstContactColumns) {
    if (table_.columns.count(std::string(column))) {
      has_first_contact_ = true;
      first_contact_column_ = std::string(column);
      break;
    }
  }
  if (audit) {
    VLA_ASSIGN_OR_RETURN(audit_table_, internal::ReadTable(*audit, ColumnName));
    for (absl::string_view column :
         {"fieldname", "newvalue", "sys_created_on"}) {
      if (!audit_table_.columns.count(std::string(column))) {
        return absl::InvalidArgumentError(
            absl::StrCat(audit->name, ": no \"", column, "\" column"));
      }
    }
    if (!audit_table_.columns.count("documentkey") &&
        !audit_table_.columns.count("number")) {
      return absl::InvalidArgumentError(absl::StrCat(
          audit->name, ": no \"documentkey\" or \"number\" column"));
    }
  }

  result_.counts.records = table_.total;
  result_.errors = table_.errors;
  incidents_.reserve(table_.records.size());
  for (const Record& record : table_.records) {
    // Group names by sys_id, from display-value objects.
    const Cell& group = record.Get("assignment_group");
    if (IsSysId(group.value) && group.display != group.value) {
      group_names_.emplace(group.value, group.display);
    }
  }
  for (const Record& record : table_.records) {
    auto incident = ParseIncident(record);
    const std::string number(
        absl::StripAsciiWhitespace(record.Get("number").display));
    if (!incident.ok()) {
      Fail(incidents, record, number, std::string(incident.status().message()));
      continue;
    }
    auto [it, added] = by_key_.emplace(number, incidents_.size());
    if (!added) {
      const Incident& first = incidents_[it->second];
      Fail(incidents, record, number,
           absl::StrCat("number: duplicate of the record at ",
                        first.record->line > 0
                            ? absl::StrCat("line ", first.record->line)
                            : absl::StrCat("index ", first.record->index)));
      continue;
    }
    const std::string sys_id(
        absl::StripAsciiWhitespace(record.Get("sys_id").value));
    if (!sys_id.empty()) by_key_.emplace(sys_id, incidents_.size());
    incidents_.push_back(std::move(*incident));
  }
  SortByRecord(0);
  result_.counts.skipped = table_.total - static_cast<int>(incidents_.size());
  result_.counts.items = static_cast<int>(incidents_.size());
  if (audit) ReadAudit(*audit);
  for (const Incident& incident : incidents_) Build(incidents, incident);
  internal::CollectTeams(result_);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportResult> ImportServiceNow(
    const InputFile& incidents, const std::optional<InputFile>& audit,
    const ImportOptions& options) {
  VLA_ASSIGN_OR_RETURN(Context context, Context::Make(options));
  ImportResult result;
  ServiceNowImport import(context, result);
  VLA_RETURN_IF_ERROR(import.Run(incidents, audit));
  return result;
}

absl::StatusOr<ImportResult> ImportServiceNowWebhook(
    const InputFile& delivery, const ImportOptions& options) {
  using Json = nlohmann::json;
  VLA_ASSIGN_OR_RETURN(Context context, Context::Make(options));
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(delivery.name, ": ", why));
  };
  Json record;
  try {
    record = Json::parse(delivery.text.begin(), delivery.text.end());
  } catch (const Json::exception& e) {
    return bad(absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!record.is_object()) return bad("expected a JSON object (the record)");
  Json changes = Json::array();
  std::string operation = "update";
  if (auto it = record.find("vla_changes"); it != record.end()) {
    if (!it->is_array()) return bad("vla_changes: expected an array");
    changes = *it;
    record.erase(it);
  }
  if (auto it = record.find("vla_operation"); it != record.end()) {
    operation = it->is_string() ? it->get<std::string>() : "";
    record.erase(it);
  }
  if (operation != "insert" && operation != "update") {
    return bad("vla_operation: expected \"insert\" or \"update\"");
  }
  // The record as a one-row export, its changes as its audit rows.
  const std::string incidents = Json::array({record}).dump();
  std::string audit;
  if (!changes.empty()) {
    const auto updated = record.find("sys_updated_on");
    const auto number = record.find("number");
    if (updated == record.end() || number == record.end()) {
      return bad("sys_updated_on and number: required with vla_changes");
    }
    Json rows = Json::array();
    for (const Json& change : changes) {
      if (!change.is_object()) return bad("vla_changes: expected objects");
      Json row = change;
      row["number"] = *number;
      row["sys_created_on"] = *updated;
      rows.push_back(std::move(row));
    }
    audit = rows.dump();
  }
  ImportResult result;
  {
    ServiceNowImport import(context, result);
    VLA_RETURN_IF_ERROR(import.Run(
        {delivery.name, incidents},
        audit.empty() ? std::nullopt
                      : std::optional<InputFile>({delivery.name, audit})));
  }
  if (!result.errors.empty()) {
    return bad(absl::StrCat(result.errors.front().key, ": ",
                            result.errors.front().reason));
  }
  if (operation == "update") {
    VLA_ASSIGN_OR_RETURN(
        Table table,
        internal::ReadTable({delivery.name, incidents}, ColumnName));
    auto instant =
        CellTime(table.records.front().Get("sys_updated_on"), context.zone());
    if (!instant.ok()) {
      return bad(absl::StrCat("sys_updated_on: ", instant.status().message()));
    }
    internal::KeepEventsAt(*instant, result);
  }
  if (result.events.empty()) result.ignored = "no change that makes an event";
  return result;
}

}  // namespace vla::importers
