#include "clients/importers/import_util.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "common/names.h"
#include "common/proto_time.h"

namespace vla::importers::internal {
namespace {

constexpr absl::string_view kTeamsPrefix = "teams/";
constexpr absl::string_view kStreamsPrefix = "valueStreams/";

// Reads exactly `n` digits at text[pos..] into *out.
bool Digits(absl::string_view text, size_t& pos, int n, int* out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  *out = v;
  return true;
}

bool Consume(absl::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

absl::Status BadTime(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text.substr(0, 60), "\" is not a time (", why, ")"));
}

absl::string_view KindName(v1::EventKind kind) {
  switch (kind) {
    case v1::EVENT_KIND_CREATED:
      return "created";
    case v1::EVENT_KIND_ASSIGNED:
      return "assigned";
    case v1::EVENT_KIND_WAITING:
      return "waiting";
    case v1::EVENT_KIND_ACTIVE:
      return "active";
    case v1::EVENT_KIND_RESOLVED:
      return "resolved";
    case v1::EVENT_KIND_REOPENED:
      return "reopened";
    case v1::EVENT_KIND_CLOSED:
      return "closed";
    case v1::EVENT_KIND_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

bool IsTerminal(StatusPhase p) {
  return p == StatusPhase::kResolved || p == StatusPhase::kClosed ||
         p == StatusPhase::kCancelled;
}

// `teams/{id}` for a team_map value written as "id" or "teams/id".
absl::StatusOr<std::string> TeamName(absl::string_view field,
                                     absl::string_view value) {
  absl::string_view id = value;
  absl::ConsumePrefix(&id, kTeamsPrefix);
  if (auto s = ValidateId(field, id); !s.ok()) return s;
  return absl::StrCat(kTeamsPrefix, id);
}

}  // namespace

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text,
                                          absl::TimeZone zone) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.empty()) return BadTime(text, "empty");
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(t, pos, 4, &year) || !Consume(t, pos, '-') ||
      !Digits(t, pos, 2, &month) || !Consume(t, pos, '-') ||
      !Digits(t, pos, 2, &day)) {
    return BadTime(text, "expected YYYY-MM-DD");
  }
  if (!Consume(t, pos, 'T') && !Consume(t, pos, ' ') && !Consume(t, pos, 't')) {
    return BadTime(text, "expected a time after the date");
  }
  if (!Digits(t, pos, 2, &hour) || !Consume(t, pos, ':') ||
      !Digits(t, pos, 2, &minute) || !Consume(t, pos, ':') ||
      !Digits(t, pos, 2, &second)) {
    return BadTime(text, "expected HH:MM:SS");
  }
  absl::Duration fraction = absl::ZeroDuration();
  if (Consume(t, pos, '.') || Consume(t, pos, ',')) {
    int64_t nanos = 0;
    int digits = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (t[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return BadTime(text, "empty fraction of a second");
    for (int i = digits; i < 9; ++i) nanos *= 10;
    fraction = absl::Nanoseconds(nanos);
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute ||
      civil.second() != second) {
    return BadTime(text, "a field is out of range");
  }
  if (pos == t.size()) return absl::FromCivil(civil, zone) + fraction;
  absl::Duration offset = absl::ZeroDuration();
  if (t[pos] == 'Z' || t[pos] == 'z') {
    ++pos;
  } else if (t[pos] == '+' || t[pos] == '-') {
    const int sign = t[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!Digits(t, pos, 2, &oh)) return BadTime(text, "bad UTC offset");
    if (pos < t.size()) {
      Consume(t, pos, ':');
      if (!Digits(t, pos, 2, &om)) return BadTime(text, "bad UTC offset");
    }
    if (oh > 23 || om > 59) return BadTime(text, "bad UTC offset");
    offset = sign * (absl::Hours(oh) + absl::Minutes(om));
  } else {
    return BadTime(text, "unexpected text after the time");
  }
  if (pos != t.size()) return BadTime(text, "unexpected text after the time");
  return absl::FromCivil(civil, absl::UTCTimeZone()) - offset + fraction;
}

absl::StatusOr<bool> ParseBool(absl::string_view text) {
  const std::string v = Lower(text);
  if (v.empty() || v == "false" || v == "no" || v == "0") return false;
  if (v == "true" || v == "yes" || v == "1") return true;
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text.substr(0, 40), "\" is not true or false"));
}

absl::StatusOr<int> ParseCount(absl::string_view text) {
  const absl::string_view v = absl::StripAsciiWhitespace(text);
  if (v.empty()) return 0;
  int n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text.substr(0, 40), "\" is not a non-negative integer"));
  }
  return n;
}

std::string CleanText(absl::string_view text, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    // Length and lowest code point of the sequence that starts with c.
    size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    }
    bool valid = len > 0 && i + len <= text.size();
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; valid && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      valid = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    valid =
        valid && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    const absl::string_view piece =
        valid ? text.substr(i, len) : absl::string_view("\xEF\xBF\xBD");
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece.data(), piece.size());
    i += valid ? len : 1;
  }
  return out;
}

absl::Status CheckItemKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("required");
  if (key.size() > 200) {
    return absl::InvalidArgumentError("longer than 200 bytes");
  }
  if (CleanText(key, key.size()) != key) {
    return absl::InvalidArgumentError("not valid UTF-8");
  }
  return absl::OkStatus();
}

std::string Lower(absl::string_view text) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
}

std::string Slug(absl::string_view name) {
  std::string out;
  bool dash = false;
  for (char c : name) {
    c = absl::ascii_tolower(static_cast<unsigned char>(c));
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && !out.empty()) out.push_back('-');
      dash = false;
      out.push_back(c);
    } else {
      dash = true;
    }
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string WaitReason(absl::string_view status) {
  const std::string s = Lower(status);
  for (absl::string_view who : {"customer", "caller", "user", "reporter"}) {
    if (absl::StrContains(s, who)) return "customer";
  }
  for (absl::string_view who : {"vendor", "supplier", "third party"}) {
    if (absl::StrContains(s, who)) return "vendor";
  }
  for (absl::string_view what : {"approval", "change", "problem"}) {
    if (absl::StrContains(s, what)) return std::string(what);
  }
  return Slug(s);
}

std::vector<v1::EventKind> TransitionEvents(StatusPhase from, StatusPhase to) {
  using P = StatusPhase;
  if (from == to) return {};
  switch (to) {
    case P::kOpen:
    case P::kActive:
      if (IsTerminal(from)) return {v1::EVENT_KIND_REOPENED};
      // Back from a wait, or work starts; a move back to the queue is no
      // event (the item stays active in the flow sense).
      if (from == P::kWaiting || to == P::kActive) {
        return {v1::EVENT_KIND_ACTIVE};
      }
      return {};
    case P::kWaiting:
      if (IsTerminal(from)) {
        return {v1::EVENT_KIND_REOPENED, v1::EVENT_KIND_WAITING};
      }
      return {v1::EVENT_KIND_WAITING};
    case P::kResolved:
      if (from == P::kClosed) return {};
      return {v1::EVENT_KIND_RESOLVED};
    case P::kClosed:
      if (from == P::kResolved || from == P::kCancelled) {
        return {v1::EVENT_KIND_CLOSED};
      }
      return {v1::EVENT_KIND_RESOLVED, v1::EVENT_KIND_CLOSED};
    case P::kCancelled:
      return {v1::EVENT_KIND_CANCELLED};
  }
  return {};
}

absl::StatusOr<Context> Context::Make(const ImportOptions& options) {
  Context c;
  c.options_ = &options;
  absl::string_view vs = options.value_stream;
  absl::ConsumePrefix(&vs, kStreamsPrefix);
  if (auto s = ValidateId("value_stream", vs); !s.ok()) return s;
  c.value_stream_ = absl::StrCat(kStreamsPrefix, vs);
  if (!absl::LoadTimeZone(options.time_zone, &c.zone_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_zone: \"", options.time_zone.substr(0, 80),
                     "\" is not a known IANA time zone"));
  }
  for (const auto& [group, team] : options.team_map) {
    auto name = TeamName(absl::StrCat("team_map[\"", group, "\"]"), team);
    if (!name.ok()) return name.status();
    c.teams_[std::string(absl::StripAsciiWhitespace(group))] = *name;
  }
  return c;
}

absl::StatusOr<std::string> Context::Team(absl::string_view group) const {
  const absl::string_view g = absl::StripAsciiWhitespace(group);
  if (auto it = teams_.find(std::string(g)); it != teams_.end()) {
    return it->second;
  }
  std::string slug = Slug(g);
  if (!slug.empty() && slug[0] >= '0' && slug[0] <= '9') {
    slug = Slug(absl::StrCat("team-", slug));
  }
  if (slug.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group \"", g.substr(0, 80),
                     "\" has no letters or digits for a team id; map it in "
                     "team_map"));
  }
  return absl::StrCat(kTeamsPrefix, slug);
}

bool Context::HasTeamMapping(absl::string_view group) const {
  return teams_.count(std::string(absl::StripAsciiWhitespace(group))) > 0;
}

std::string Context::Service(absl::string_view service) const {
  const std::string s(absl::StripAsciiWhitespace(service));
  auto it = options_->service_map.find(s);
  return it == options_->service_map.end() ? s : it->second;
}

ItemBuilder::ItemBuilder(const Context& context, absl::string_view source,
                         absl::string_view item_id, v1::ItemType type)
    : context_(context), source_(source), item_id_(item_id), type_(type) {}

void ItemBuilder::set_service(absl::string_view service) {
  service_ = CleanText(service);
}

void ItemBuilder::AddLabel(absl::string_view key, absl::string_view value) {
  const absl::string_view v = absl::StripAsciiWhitespace(value);
  if (v.empty()) return;
  labels_[std::string(key)] = CleanText(v);
}

v1::WorkItemEvent& ItemBuilder::Add(absl::Time time, v1::EventKind kind) {
  events_.push_back({time, {}});
  events_.back().event.set_kind(kind);
  return events_.back().event;
}

void ItemBuilder::Assign(absl::Time time, absl::string_view team) {
  Add(time, v1::EVENT_KIND_ASSIGNED).set_team(std::string(team));
}

void ItemBuilder::Transition(absl::Time time, StatusPhase from, StatusPhase to,
                             absl::string_view reason) {
  for (v1::EventKind kind : TransitionEvents(from, to)) {
    v1::WorkItemEvent& e = Add(time, kind);
    if (kind == v1::EVENT_KIND_WAITING) e.set_reason(CleanText(reason));
  }
}

bool ItemBuilder::Has(v1::EventKind kind) const {
  return std::any_of(events_.begin(), events_.end(),
                     [&](const Pending& p) { return p.event.kind() == kind; });
}

void ItemBuilder::AppendTo(ImportResult& result) {
  std::stable_sort(
      events_.begin(), events_.end(),
      [](const Pending& a, const Pending& b) { return a.time < b.time; });
  std::map<std::pair<int, absl::Time>, int> seq;
  for (Pending& p : events_) {
    v1::WorkItemEvent& e = p.event;
    const std::string time =
        absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", p.time, absl::UTCTimeZone());
    const int n = seq[{e.kind(), p.time}]++;
    e.set_event_id(absl::StrCat(source_, ":", item_id_, ":", KindName(e.kind()),
                                ":", time, ":", n));
    e.set_item_id(item_id_);
    e.set_item_type(type_);
    e.set_value_stream(context_.value_stream());
    e.set_service(service_);
    *e.mutable_time() = ToProtoTime(p.time);
    e.mutable_labels()->insert(labels_.begin(), labels_.end());
    if (e.kind() == v1::EVENT_KIND_RESOLVED) {
      e.set_sla_met(sla_met_);
      e.set_first_contact(first_contact_);
    }
    result.events.push_back(std::move(e));
  }
  result.counts.events += static_cast<int>(events_.size());
  events_.clear();
}

void CollectTeams(ImportResult& result) {
  std::set<std::string> teams;
  for (const v1::WorkItemEvent& e : result.events) {
    if (!e.team().empty()) teams.insert(e.team());
  }
  result.teams.assign(teams.begin(), teams.end());
}

void KeepEventsAt(absl::Time time, ImportResult& result) {
  const google::protobuf::Timestamp t = ToProtoTime(time);
  std::vector<v1::WorkItemEvent> kept;
  for (v1::WorkItemEvent& e : result.events) {
    if (e.time().seconds() == t.seconds() && e.time().nanos() == t.nanos()) {
      kept.push_back(std::move(e));
    }
  }
  result.events = std::move(kept);
  result.counts.events = static_cast<int>(result.events.size());
  CollectTeams(result);
}

}  // namespace vla::importers::internal
