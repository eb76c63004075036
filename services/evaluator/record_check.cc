#include "services/evaluator/record_check.h"

#include <cmath>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_util.h"

namespace vla::evaluator {
namespace {

// OK, or INVALID_ARGUMENT with `why`: a string, or a callable that makes one
// (messages are built only for bad records: this is the ingest hot path).
template <typename Why>
absl::Status Require(bool ok, const Why& why) {
  if (ok) return absl::OkStatus();
  if constexpr (std::is_invocable_v<Why>) {
    return absl::InvalidArgumentError(why());
  } else {
    return absl::InvalidArgumentError(why);
  }
}

// At most 100 characters of a name the caller sent, for messages.
absl::string_view Quote(const std::string& name) {
  return absl::string_view(name).substr(0, 100);
}

absl::Status CheckLabels(
    const google::protobuf::Map<std::string, std::string>& labels) {
  VLA_RETURN_IF_ERROR(Require(labels.size() <= IngestLimits::kMaxLabels, [] {
    return absl::StrCat("labels: more than ", IngestLimits::kMaxLabels);
  }));
  for (const auto& [k, v] : labels) {
    VLA_RETURN_IF_ERROR(Require(!k.empty(), "labels: empty key"));
    VLA_RETURN_IF_ERROR(Require(k.size() <= IngestLimits::kMaxLabelKey, [] {
      return absl::StrCat("labels: key longer than ",
                          IngestLimits::kMaxLabelKey, " characters");
    }));
    VLA_RETURN_IF_ERROR(
        Require(v.size() <= IngestLimits::kMaxLabelValue, [&k = k] {
          return absl::StrCat("labels[\"", k, "\"]: longer than ",
                              IngestLimits::kMaxLabelValue, " characters");
        }));
  }
  return absl::OkStatus();
}

absl::Status CheckTeam(absl::string_view field, const std::string& team,
                       const Definitions& known) {
  return Require(known.teams.count(team) > 0, [&] {
    return absl::StrCat(field, ": ", Quote(team), " is not a known team");
  });
}

// What observations and work item events share.
template <typename Record>
absl::Status CheckCommon(const Record& r, const Definitions& known,
                         absl::Time now) {
  VLA_RETURN_IF_ERROR(Require(!r.event_id().empty(), "event_id: required"));
  VLA_RETURN_IF_ERROR(
      Require(r.event_id().size() <= IngestLimits::kMaxEventId, [] {
        return absl::StrCat("event_id: longer than ", IngestLimits::kMaxEventId,
                            " characters");
      }));
  VLA_RETURN_IF_ERROR(Require(r.has_time(), "time: required"));
  VLA_RETURN_IF_ERROR(
      Require(IsValidProtoTime(r.time()), "time: invalid timestamp"));
  VLA_RETURN_IF_ERROR(
      Require(FromProtoTime(r.time()) <= now + IngestLimits::kMaxFuture,
              "time: more than a day in the future"));
  VLA_RETURN_IF_ERROR(
      Require(!r.value_stream().empty(), "value_stream: required"));
  VLA_RETURN_IF_ERROR(
      Require(known.value_streams.count(r.value_stream()) > 0, [&] {
        return absl::StrCat("value_stream: ", Quote(r.value_stream()),
                            " is not a known value stream");
      }));
  return Require(r.service().size() <= IngestLimits::kMaxName,
                 "service: too long");
}

}  // namespace

absl::Status CheckObservation(const v1::Observation& o,
                              const Definitions& known, absl::Time now) {
  VLA_RETURN_IF_ERROR(CheckCommon(o, known, now));
  VLA_RETURN_IF_ERROR(Require(!o.signal().empty(), "signal: required"));
  VLA_RETURN_IF_ERROR(
      Require(o.signal().size() <= IngestLimits::kMaxName, "signal: too long"));
  VLA_RETURN_IF_ERROR(
      Require(std::isfinite(o.value()), "value: must be a finite number"));
  if (!o.reporter().empty()) {
    VLA_RETURN_IF_ERROR(CheckTeam("reporter", o.reporter(), known));
  }
  return CheckLabels(o.labels());
}

absl::Status CheckEvent(const v1::WorkItemEvent& e, const Definitions& known,
                        absl::Time now) {
  VLA_RETURN_IF_ERROR(CheckCommon(e, known, now));
  VLA_RETURN_IF_ERROR(Require(!e.item_id().empty(), "item_id: required"));
  VLA_RETURN_IF_ERROR(Require(e.item_id().size() <= IngestLimits::kMaxName,
                              "item_id: too long"));
  VLA_RETURN_IF_ERROR(
      Require(v1::ItemType_IsValid(e.item_type()), "item_type: unknown value"));
  VLA_RETURN_IF_ERROR(Require(
      v1::EventKind_IsValid(e.kind()) && e.kind() != v1::EVENT_KIND_UNSPECIFIED,
      "kind: unknown or unset event kind"));
  if (e.kind() == v1::EVENT_KIND_ASSIGNED) {
    VLA_RETURN_IF_ERROR(
        Require(!e.team().empty(), "team: required for ASSIGNED"));
    VLA_RETURN_IF_ERROR(CheckTeam("team", e.team(), known));
  }
  VLA_RETURN_IF_ERROR(
      Require(e.reason().size() <= IngestLimits::kMaxName, "reason: too long"));
  return CheckLabels(e.labels());
}

}  // namespace vla::evaluator
