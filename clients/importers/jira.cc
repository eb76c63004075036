// The Jira issue importer (README.md, "Jira").
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/importers/import_util.h"
#include "clients/importers/importers.h"
#include "common/status_util.h"

namespace vla::importers {
namespace {

using internal::Context;
using internal::ItemBuilder;
using internal::Lower;
using Json = nlohmann::json;

// The default status mapping (README.md, "Jira"), by lower-case name.
const std::map<std::string, StatusPhase>& DefaultStatuses() {
  using P = StatusPhase;
  static const auto* const kStatuses = new std::map<std::string, P>{
      {"open", P::kOpen},
      {"new", P::kOpen},
      {"to do", P::kOpen},
      {"todo", P::kOpen},
      {"backlog", P::kOpen},
      {"selected for development", P::kOpen},
      {"ready", P::kOpen},
      {"reopened", P::kOpen},
      // Jira Service Management: waiting for the agent, i.e. in the queue.
      {"waiting for support", P::kOpen},
      {"in progress", P::kActive},
      {"in review", P::kActive},
      {"review", P::kActive},
      {"code review", P::kActive},
      {"in development", P::kActive},
      {"in test", P::kActive},
      {"testing", P::kActive},
      {"work in progress", P::kActive},
      {"investigating", P::kActive},
      {"under investigation", P::kActive},
      {"implementing", P::kActive},
      {"escalated", P::kActive},
      {"waiting for customer", P::kWaiting},
      {"waiting for approval", P::kWaiting},
      {"awaiting approval", P::kWaiting},
      {"waiting for vendor", P::kWaiting},
      {"waiting for third party", P::kWaiting},
      {"pending", P::kWaiting},
      {"on hold", P::kWaiting},
      {"blocked", P::kWaiting},
      {"waiting", P::kWaiting},
      {"done", P::kResolved},
      {"resolved", P::kResolved},
      {"fixed", P::kResolved},
      {"completed", P::kResolved},
      {"closed", P::kClosed},
      {"cancelled", P::kCancelled},
      {"canceled", P::kCancelled},
      {"won't do", P::kCancelled},
      {"declined", P::kCancelled},
      {"rejected", P::kCancelled},
      {"abandoned", P::kCancelled},
  };
  return *kStatuses;
}

v1::ItemType TypeOf(absl::string_view issue_type) {
  static const auto* const kTypes = new std::map<std::string, v1::ItemType>{
      {"bug", v1::ITEM_TYPE_DEFECT},
      {"defect", v1::ITEM_TYPE_DEFECT},
      {"story", v1::ITEM_TYPE_FEATURE},
      {"epic", v1::ITEM_TYPE_FEATURE},
      {"feature", v1::ITEM_TYPE_FEATURE},
      {"new feature", v1::ITEM_TYPE_FEATURE},
      {"improvement", v1::ITEM_TYPE_FEATURE},
      {"incident", v1::ITEM_TYPE_INCIDENT},
      {"service request", v1::ITEM_TYPE_REQUEST},
      {"service request with approvals", v1::ITEM_TYPE_REQUEST},
      {"problem", v1::ITEM_TYPE_PROBLEM},
      {"change", v1::ITEM_TYPE_CHANGE},
  };
  auto it = kTypes->find(Lower(issue_type));
  return it == kTypes->end() ? v1::ITEM_TYPE_UNSPECIFIED : it->second;
}

// The string at `key` of an object; empty when absent or not a string.
std::string Str(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The object at `key`; a null json when absent.
const Json& Obj(const Json& object, const std::string& key) {
  static const Json* const kNull = new Json();
  if (!object.is_object()) return *kNull;
  auto it = object.find(key);
  return it == object.end() ? *kNull : *it;
}

// A team-like value: a string, or an object's name, value, title or
// displayName (Atlassian team, select list, user), or the first of a list.
std::string TeamText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    for (const char* key : {"name", "value", "title", "displayName"}) {
      std::string s = Str(v, key);
      if (!s.empty()) return s;
    }
  }
  if (v.is_array()) {
    for (const Json& e : v) {
      std::string s = TeamText(e);
      if (!s.empty()) return s;
    }
  }
  return "";
}

// One change of a field, from the changelog.
struct Change {
  absl::Time time;
  std::string from;
  std::string to;
};

class JiraImport {
 public:
  JiraImport(const Context& context, const InputFile& file,
             ImportResult& result)
      : context_(context),
        options_(context.options().jira),
        file_(file),
        result_(result) {}

  // `doc`: the search response or an array of issues.
  absl::Status Run(const Json& doc);
  // An issue without status changes starts in its current status (a webhook
  // at creation: the later changelog will show that status as the first
  // change's `fromString`), instead of being left in the queue.
  void set_start_in_current_status(bool on) { start_in_current_ = on; }

 private:
  // The key of `fields` for a field named by id or display name.
  std::string FieldId(const std::string& field) const;
  // Builds one issue's events; an error skips it.
  absl::Status Issue(const Json& issue, absl::string_view key, int index);
  StatusPhase Phase(absl::string_view status, const Json& current,
                    absl::string_view key, int index,
                    std::set<std::string>& warned);
  void Warn(int index, absl::string_view key, std::string reason) {
    result_.warnings.push_back(RowError{std::string(file_.name), 0, index,
                                        std::string(key), std::move(reason)});
  }

  const Context& context_;
  const JiraOptions& options_;
  const InputFile& file_;
  ImportResult& result_;
  std::map<std::string, std::string> names_;  // field id -> display name
  std::string team_id_;
  std::string sla_id_;
  int without_changelog_ = 0;
  bool start_in_current_ = false;
};

std::string JiraImport::FieldId(const std::string& field) const {
  if (field.empty() || names_.count(field)) return field;
  const std::string wanted = Lower(field);
  for (const auto& [id, name] : names_) {
    if (Lower(name) == wanted) return id;
  }
  return field;
}

// The phase of a status name: the status map, the defaults, else the
// status category when `current` (the issue's status object) is that
// status; nullopt when none says.
std::optional<StatusPhase> KnownPhase(const JiraOptions& options,
                                      absl::string_view status,
                                      const Json& current) {
  const std::string name = Lower(status);
  for (const auto& [k, phase] : options.status_map) {
    if (Lower(k) == name) return phase;
  }
  if (auto it = DefaultStatuses().find(name); it != DefaultStatuses().end()) {
    return it->second;
  }
  if (Lower(Str(current, "name")) == name) {
    const std::string category = Str(Obj(current, "statusCategory"), "key");
    if (category == "new") return StatusPhase::kOpen;
    if (category == "indeterminate") return StatusPhase::kActive;
    if (category == "done") return StatusPhase::kResolved;
  }
  return std::nullopt;
}

StatusPhase JiraImport::Phase(absl::string_view status, const Json& current,
                              absl::string_view key, int index,
                              std::set<std::string>& warned) {
  if (auto phase = KnownPhase(options_, status, current)) return *phase;
  const std::string name = Lower(status);
  if (warned.insert(name).second) {
    Warn(index, key,
         absl::StrCat("status \"", status.substr(0, 60),
                      "\" is not in the status mapping; treated as active"));
  }
  return StatusPhase::kActive;
}

absl::Status JiraImport::Issue(const Json& issue, absl::string_view key,
                               int index) {
  const auto field_error = [](absl::string_view field, const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
  };
  if (auto s = internal::CheckItemKey(key); !s.ok()) {
    return field_error("key", s);
  }
  const Json& fields = Obj(issue, "fields");
  if (!fields.is_object()) {
    return absl::InvalidArgumentError("fields: required object");
  }
  auto created =
      internal::ParseTimestamp(Str(fields, "created"), context_.zone());
  if (!created.ok()) return field_error("fields.created", created.status());
  // The resolution date, when something says the issue is resolved: the
  // resolution field, or a current status of the resolved or closed phase
  // (README.md, "Jira": Jira Server can carry a stale resolutiondate on an
  // issue that is open again).
  std::optional<absl::Time> resolved;
  std::set<std::string> warned;
  const Json& current = Obj(fields, "status");
  if (const std::string r = Str(fields, "resolutiondate"); !r.empty()) {
    auto t = internal::ParseTimestamp(r, context_.zone());
    if (!t.ok()) return field_error("fields.resolutiondate", t.status());
    const Json& resolution_field = Obj(fields, "resolution");
    const bool has_resolution =
        resolution_field.is_object() && !Str(resolution_field, "name").empty();
    const StatusPhase now =
        Phase(Str(current, "name"), current, key, index, warned);
    if (*t < *created) {
      Warn(index, key,
           absl::StrCat("resolutiondate ", r.substr(0, 40),
                        " is before created; ignored"));
    } else if (!has_resolution && now != StatusPhase::kResolved &&
               now != StatusPhase::kClosed) {
      Warn(index, key,
           absl::StrCat("resolutiondate is set but the issue has no "
                        "resolution and its status \"",
                        Str(current, "name").substr(0, 60),
                        "\" is not done; ignored"));
    } else {
      resolved = *t;
    }
  }

  // The changelog, in time order.
  std::vector<Change> statuses, teams;
  int histories_used = 0;
  const Json& changelog = Obj(issue, "changelog");
  if (changelog.is_object()) {
    const Json& histories = Obj(changelog, "histories");
    if (!histories.is_null() && !histories.is_array()) {
      return absl::InvalidArgumentError("changelog.histories: not an array");
    }
    const std::string team_field = Lower(options_.team_field);
    // A team field given by id is named in the changelog by its display
    // name (known from the export's `names`).
    const auto named = names_.find(team_id_);
    const std::string team_name =
        named == names_.end() ? team_field : Lower(named->second);
    int h = 0;
    static const Json* const kNoList = new Json(Json::array());
    for (const Json& history : histories.is_array() ? histories : *kNoList) {
      const std::string where = absl::StrCat("changelog.histories[", h++, "]");
      auto time =
          internal::ParseTimestamp(Str(history, "created"), context_.zone());
      if (!time.ok()) {
        return field_error(absl::StrCat(where, ".created"), time.status());
      }
      const Json& items = Obj(history, "items");
      if (!items.is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".items: required array"));
      }
      ++histories_used;
      for (const Json& item : items) {
        const std::string field = Lower(Str(item, "field"));
        const std::string field_id = Str(item, "fieldId");
        Change change{*time, Str(item, "fromString"), Str(item, "toString")};
        if (field == "status" || field_id == "status") {
          statuses.push_back(std::move(change));
        } else if (!team_field.empty() &&
                   (field == team_field || field == team_name ||
                    (!field_id.empty() && field_id == team_id_))) {
          teams.push_back(std::move(change));
        }
      }
    }
    const Json& total = Obj(changelog, "total");
    if (total.is_number_integer() &&
        total.get<int64_t>() > static_cast<int64_t>(histories.size())) {
      Warn(index, key,
           absl::StrCat("the changelog holds ", histories.size(), " of ",
                        total.get<int64_t>(),
                        " histories; fetch the whole changelog"));
    }
  }
  const auto by_time = [](const Change& a, const Change& b) {
    return a.time < b.time;
  };
  std::stable_sort(statuses.begin(), statuses.end(), by_time);
  std::stable_sort(teams.begin(), teams.end(), by_time);

  const std::string issue_type = Str(Obj(fields, "issuetype"), "name");
  ItemBuilder b(context_, "jira", key, TypeOf(issue_type));
  const Json& components = Obj(fields, "components");
  if (components.is_array() && !components.empty()) {
    b.set_service(context_.Service(Str(components.front(), "name")));
  }
  b.AddLabel("source", "jira");
  b.AddLabel("issue_type", issue_type);
  b.AddLabel("priority", Str(Obj(fields, "priority"), "name"));
  b.AddLabel("project", Str(Obj(fields, "project"), "key"));

  bool sla_met = false;
  if (!sla_id_.empty()) {
    const Json& sla = Obj(fields, sla_id_);
    int cycles = 0;
    bool breached = false;
    const auto cycle = [&](const Json& c) {
      if (!c.is_object()) return;
      ++cycles;
      const Json& flag = Obj(c, "breached");
      breached |= flag.is_boolean() && flag.get<bool>();
    };
    const Json& completed = Obj(sla, "completedCycles");
    if (completed.is_array()) {
      for (const Json& c : completed) cycle(c);
    }
    cycle(Obj(sla, "ongoingCycle"));
    sla_met = cycles > 0 && !breached;
  }
  b.set_resolution(sla_met, /*first_contact=*/false);

  b.Add(*created, v1::EVENT_KIND_CREATED);

  // Custody: the team when created (the first change's old value, else the
  // current one), then every change.
  const std::string initial_team =
      teams.empty() ? TeamText(Obj(fields, team_id_)) : teams.front().from;
  const auto assign = [&](absl::Time t,
                          absl::string_view group) -> absl::Status {
    if (group.empty()) return absl::OkStatus();
    auto team = context_.Team(group);
    if (!team.ok()) return field_error(options_.team_field, team.status());
    b.Assign(t, *team);
    return absl::OkStatus();
  };
  if (!options_.team_field.empty()) {
    VLA_RETURN_IF_ERROR(assign(*created, initial_team));
    for (const Change& c : teams) VLA_RETURN_IF_ERROR(assign(c.time, c.to));
  }

  // Status: from the status the issue was created in, through every change.
  if (!statuses.empty()) {
    StatusPhase phase = StatusPhase::kOpen;
    const StatusPhase first =
        Phase(statuses.front().from, current, key, index, warned);
    b.Transition(*created, phase, first,
                 internal::WaitReason(statuses.front().from));
    phase = first;
    for (const Change& c : statuses) {
      const StatusPhase to = Phase(c.to, current, key, index, warned);
      b.Transition(c.time, phase, to, internal::WaitReason(c.to));
      phase = to;
    }
  } else if (start_in_current_) {
    const std::string name = Str(current, "name");
    b.Transition(*created, StatusPhase::kOpen,
                 Phase(name, current, key, index, warned),
                 internal::WaitReason(name));
  } else if (Phase(Str(current, "name"), current, key, index, warned) ==
                 StatusPhase::kCancelled &&
             !b.Has(v1::EVENT_KIND_CANCELLED)) {
    b.Add(resolved.value_or(*created), v1::EVENT_KIND_CANCELLED);
  }
  // The resolution date stands in for a resolution the changelog lacks.
  if (resolved && !b.Has(v1::EVENT_KIND_RESOLVED) &&
      !b.Has(v1::EVENT_KIND_CANCELLED)) {
    b.Add(*resolved, v1::EVENT_KIND_RESOLVED);
  }
  const std::string resolution = Lower(Str(Obj(fields, "resolution"), "name"));
  if (resolved && !resolution.empty() && !b.Has(v1::EVENT_KIND_CANCELLED) &&
      std::any_of(
          options_.cancelled_resolutions.begin(),
          options_.cancelled_resolutions.end(),
          [&](const std::string& r) { return Lower(r) == resolution; })) {
    b.Add(*resolved, v1::EVENT_KIND_CANCELLED);
  }
  b.AppendTo(result_);
  result_.counts.history_records += histories_used;
  if (!changelog.is_object()) ++without_changelog_;
  return absl::OkStatus();
}

// The JSON text of `file`; INVALID_ARGUMENT naming it.
absl::StatusOr<Json> ParseJson(const InputFile& file) {
  try {
    return Json::parse(file.text.begin(), file.text.end());
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name, ": not valid JSON: ", e.what()));
  }
}

absl::Status JiraImport::Run(const Json& doc) {
  const Json* issues = &doc;
  if (doc.is_object()) {
    issues = &Obj(doc, "issues");
    const Json& names = Obj(doc, "names");
    if (names.is_object()) {
      for (const auto& [id, name] : names.items()) {
        if (name.is_string()) names_[id] = name.get<std::string>();
      }
    }
  }
  if (!issues->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_.name,
        ": expected an object with an \"issues\" array, or an array"));
  }
  team_id_ = FieldId(options_.team_field);
  sla_id_ = FieldId(options_.sla_field);
  std::map<std::string, int> imported;  // key -> index
  int index = 0;
  for (const Json& issue : *issues) {
    const int i = index++;
    ++result_.counts.records;
    const std::string key = Str(issue, "key");
    const size_t warnings = result_.warnings.size();
    absl::Status s = absl::OkStatus();
    if (!issue.is_object()) {
      s = absl::InvalidArgumentError("not a JSON object");
    } else if (auto seen = imported.find(key); seen != imported.end()) {
      s = absl::InvalidArgumentError(
          absl::StrCat("key: duplicate of the issue at index ", seen->second));
    } else {
      s = Issue(issue, key, i);
    }
    if (!s.ok()) {
      result_.warnings.resize(warnings);  // only the error speaks for it
      result_.errors.push_back(RowError{std::string(file_.name), 0, i, key,
                                        std::string(s.message())});
      ++result_.counts.skipped;
      continue;
    }
    imported.emplace(key, i);
    ++result_.counts.items;
  }
  if (without_changelog_ > 0) {
    Warn(-1, "",
         absl::StrCat(without_changelog_,
                      " issues have no changelog (export with "
                      "expand=changelog): their status and team history "
                      "is unknown"));
  }
  internal::CollectTeams(result_);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportResult> ImportJira(const InputFile& issues,
                                        const ImportOptions& options) {
  VLA_ASSIGN_OR_RETURN(Context context, Context::Make(options));
  VLA_ASSIGN_OR_RETURN(Json doc, ParseJson(issues));
  ImportResult result;
  JiraImport import(context, issues, result);
  VLA_RETURN_IF_ERROR(import.Run(doc));
  return result;
}

absl::StatusOr<ImportResult> ImportJiraWebhook(const InputFile& delivery,
                                               const ImportOptions& options) {
  VLA_ASSIGN_OR_RETURN(Context context, Context::Make(options));
  VLA_ASSIGN_OR_RETURN(Json doc, ParseJson(delivery));
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(delivery.name, ": ", why));
  };
  if (!doc.is_object()) return bad("expected a JSON object");
  ImportResult result;
  const std::string event = Str(doc, "webhookEvent");
  if (event != "jira:issue_created" && event != "jira:issue_updated" &&
      event != "jira:issue_deleted") {
    result.ignored = absl::StrCat("webhookEvent \"", event.substr(0, 60),
                                  "\" is not an issue event");
    return result;
  }
  const Json& issue = Obj(doc, "issue");
  const Json& fields = Obj(issue, "fields");
  if (!fields.is_object() || Str(issue, "key").empty()) {
    return bad("issue: required, with key and fields");
  }
  const std::string key = Str(issue, "key");
  VLA_RETURN_IF_ERROR(internal::CheckItemKey(key));

  if (event == "jira:issue_deleted") {
    // Gone from Jira: an open item is dropped (CANCELLED when deleted); a
    // resolved one keeps its resolution.
    const Json& when = Obj(doc, "timestamp");
    if (!when.is_number_integer()) return bad("timestamp: required (ms)");
    const Json& status = Obj(fields, "status");
    const std::optional<StatusPhase> phase =
        KnownPhase(options.jira, Str(status, "name"), status);
    if (phase == StatusPhase::kResolved || phase == StatusPhase::kClosed ||
        phase == StatusPhase::kCancelled) {
      result.ignored = "deleted after its resolution";
      return result;
    }
    ItemBuilder b(context, "jira", key,
                  TypeOf(Str(Obj(fields, "issuetype"), "name")));
    b.AddLabel("source", "jira");
    b.Add(absl::FromUnixMillis(when.get<int64_t>()), v1::EVENT_KIND_CANCELLED);
    b.AppendTo(result);
    result.counts.records = result.counts.items = 1;
    return result;
  }

  // The issue as the importer would see it, with this change as its only
  // history at the issue's `updated` time (Jira stamps the change group and
  // the issue with the same instant), so the events at that instant get the
  // ids a later import of the full changelog gives them.
  const bool created = event == "jira:issue_created";
  const std::string at = Str(fields, created ? "created" : "updated");
  auto instant = internal::ParseTimestamp(at, context.zone());
  if (!instant.ok()) {
    return bad(absl::StrCat(
        created ? "issue.fields.created: " : "issue.fields.updated: ",
        instant.status().message()));
  }
  Json copy = issue;
  Json histories = Json::array();
  if (!created) {
    const Json& items = Obj(Obj(doc, "changelog"), "items");
    histories.push_back(
        {{"created", at}, {"items", items.is_array() ? items : Json::array()}});
  }
  copy["changelog"] = {{"histories", histories}};
  JiraImport import(context, delivery, result);
  import.set_start_in_current_status(created);
  VLA_RETURN_IF_ERROR(import.Run(Json::array({copy})));
  if (!result.errors.empty()) {
    return bad(absl::StrCat(result.errors.front().key, ": ",
                            result.errors.front().reason));
  }
  internal::KeepEventsAt(*instant, result);
  if (result.events.empty()) result.ignored = "no change that makes an event";
  return result;
}

}  // namespace vla::importers
