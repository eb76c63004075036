// Fills a protobuf message from a parsed YAML (or JSON) mapping, checking
// every field against the descriptor. Shared by resource documents and
// ingest records. Accepts proto field names and their JSON (camelCase)
// names, short enum value names (`PROVIDER` for `TEAM_KIND_PROVIDER`),
// durations like `90s`, `12h`, `30d` and times in RFC 3339 or as dates.
#ifndef VLA_CLIENTS_VLACTL_YAML_MESSAGE_H_
#define VLA_CLIENTS_VLACTL_YAML_MESSAGE_H_

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace vla::vlactl {

// Errors are INVALID_ARGUMENT, "line L: PATH.FIELD: why", with `path` as
// the prefix of field names. Never throws.
absl::Status FillMessageFromYaml(const YAML::Node& node,
                                 google::protobuf::Message* msg,
                                 const std::string& path);

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_YAML_MESSAGE_H_
