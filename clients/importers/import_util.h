// Pieces both importers share: option checking, time and value parsing,
// team names, the status-phase state machine, and the builder that gives an
// item's events their order and stable ids. Internal to vla_importers.
#ifndef VLA_CLIENTS_IMPORTERS_IMPORT_UTIL_H_
#define VLA_CLIENTS_IMPORTERS_IMPORT_UTIL_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/importers/importers.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::importers::internal {

// Parses an ISO 8601 / RFC 3339 time ("2024-01-02T03:04:05.000+0100",
// "...Z", "...+01:00") or a ServiceNow time ("2024-01-02 03:04:05"). A time
// without a UTC offset is in `zone`. Seconds may have a fraction.
absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text,
                                          absl::TimeZone zone);

// "true"/"false", "yes"/"no", "1"/"0" (any case); empty is false.
absl::StatusOr<bool> ParseBool(absl::string_view text);

// A non-negative integer; empty is 0.
absl::StatusOr<int> ParseCount(absl::string_view text);

// `text` as valid UTF-8 (each invalid byte becomes U+FFFD) of at most
// `max_bytes` bytes (cut at a character boundary).
std::string CleanText(absl::string_view text, size_t max_bytes = 256);

// OK if `key` can be an item id: not empty, at most 200 bytes, valid UTF-8.
absl::Status CheckItemKey(absl::string_view key);

// ASCII lower case, surrounding blanks removed.
std::string Lower(absl::string_view text);

// A display name as an id-like word: lower case, every run of other
// characters than [a-z0-9] becomes one '-', trimmed, at most 63 characters.
// Empty if nothing is left.
std::string Slug(absl::string_view name);

// The reason of a WAITING event for a status name ("Awaiting Caller",
// "Waiting for customer" -> "customer"; vendor, approval, change, problem;
// else the slug of the name: "On Hold" -> "on-hold").
std::string WaitReason(absl::string_view status);

// The events a move from `from` to `to` implies, in order (README.md,
// "Status transitions").
std::vector<v1::EventKind> TransitionEvents(StatusPhase from, StatusPhase to);

// The options after checking, shared by one import run.
class Context {
 public:
  // INVALID_ARGUMENT naming the bad option.
  static absl::StatusOr<Context> Make(const ImportOptions& options);

  const std::string& value_stream() const { return value_stream_; }
  absl::TimeZone zone() const { return zone_; }
  const ImportOptions& options() const { return *options_; }

  // `teams/{id}` for a source group: team_map, else its slug ("team-" in
  // front when it starts with a digit). An error
  // naming the group when its name has no usable slug.
  absl::StatusOr<std::string> Team(absl::string_view group) const;
  // True when team_map names `group` (by name or sys_id).
  bool HasTeamMapping(absl::string_view group) const;
  // The service for a source service (service_map, else as written).
  std::string Service(absl::string_view service) const;

 private:
  std::string value_stream_;
  absl::TimeZone zone_;
  std::map<std::string, std::string> teams_;
  const ImportOptions* options_ = nullptr;
};

// Collects one item's events, then orders them and gives them their ids:
// `{source}:{item_id}:{kind}:{time}:{seq}`, kind in lower case
// ("assigned"), time in UTC as RFC 3339 with only the fraction the source
// had ("2024-03-01T09:15:00Z"), seq counting from 0 among the item's events
// with the same kind and time.
class ItemBuilder {
 public:
  ItemBuilder(const Context& context, absl::string_view source,
              absl::string_view item_id, v1::ItemType type);

  // Text is made valid UTF-8 and cut to 256 bytes (CleanText), as the
  // server wants it; labels with an empty value are left out.
  void set_service(absl::string_view service);
  void AddLabel(absl::string_view key, absl::string_view value);

  v1::WorkItemEvent& Add(absl::Time time, v1::EventKind kind);
  // ASSIGNED to `team` (a `teams/...` name).
  void Assign(absl::Time time, absl::string_view team);
  // The events of a phase change at `time`: WAITING gets `reason`, RESOLVED
  // gets the resolution flags.
  void Transition(absl::Time time, StatusPhase from, StatusPhase to,
                  absl::string_view reason);
  void set_resolution(bool sla_met, bool first_contact) {
    sla_met_ = sla_met;
    first_contact_ = first_contact;
  }

  bool Has(v1::EventKind kind) const;

  // Sorts the events by time (stable), sets the common fields and ids, and
  // appends them to `result.events`.
  void AppendTo(ImportResult& result);

 private:
  struct Pending {
    absl::Time time;
    v1::WorkItemEvent event;
  };
  const Context& context_;
  std::string source_;
  std::string item_id_;
  v1::ItemType type_;
  std::string service_;
  std::map<std::string, std::string> labels_;
  bool sla_met_ = false;
  bool first_contact_ = false;
  std::vector<Pending> events_;
};

// Sorted, distinct team names in `result.events`.
void CollectTeams(ImportResult& result);

// Keeps only the events at `time` (a webhook's change), recounts them and
// collects their teams.
void KeepEventsAt(absl::Time time, ImportResult& result);

}  // namespace vla::importers::internal

#endif  // VLA_CLIENTS_IMPORTERS_IMPORT_UTIL_H_
