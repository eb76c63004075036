// Lines of a JSON Lines ingest file (`vlactl ingest -f FILE`): each line is
// one record, an object with exactly one key naming its type and the record
// in proto JSON form:
//
//   {"observation": {"event_id": "o-1", "signal": "happiness", ...}}
//   {"work_item_event": {"event_id": "e-1", "item_id": "INC1", ...}}
//
// Enum values may be short (`"kind": "RESOLVED"`). Blank lines and lines
// starting with `#` are skipped.
#ifndef VLA_CLIENTS_VLACTL_RECORDS_H_
#define VLA_CLIENTS_VLACTL_RECORDS_H_

#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::vlactl {

// A parsed line: nothing (blank or comment), an observation or an event.
using Record = std::variant<std::monostate, v1::Observation, v1::WorkItemEvent>;

// Parses one line; INVALID_ARGUMENT saying what is wrong otherwise.
absl::StatusOr<Record> ParseRecordLine(absl::string_view line);

// The line form of a record (the inverse of ParseRecordLine).
std::string RecordToLine(const v1::Observation& observation);
std::string RecordToLine(const v1::WorkItemEvent& event);

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_RECORDS_H_
