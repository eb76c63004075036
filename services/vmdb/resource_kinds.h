// The five VMDB resource kinds described as data, so that one generic path
// (VmdbCore) implements the standard methods for all of them.
//
// Every resource message shares fields 1..7: name, display_name,
// description, create_time, update_time, etag, revision.
#ifndef VLA_SERVICES_VMDB_RESOURCE_KINDS_H_
#define VLA_SERVICES_VMDB_RESOURCE_KINDS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "services/common/filter.h"

namespace vla::vmdb {

using google::protobuf::Message;

struct ResourceKind {
  // Collection in resource names: "teams", "valueStreams", ...
  std::string collection;
  // Field name of the resource in requests and error prefixes: "team",
  // "value_stream", ... Also the member name in Change.resource.
  std::string singular;
  const google::protobuf::Descriptor* descriptor = nullptr;
  std::vector<FilterField> filter_fields;
  // Validates writable fields and collects references.
  std::function<absl::Status(const Message&, std::vector<Reference>*)> validate;
  // Values of a filter field of a resource (normalized, see Filter).
  std::function<std::vector<std::string>(const Message&, absl::string_view)>
      filter_values;
  // Checks against the resources it refers to, after they are known to
  // exist; `lookup` returns a referenced resource by name. May be empty.
  std::function<absl::Status(
      const Message&, const std::function<const Message*(const std::string&)>&)>
      check_references;
};

// The kind whose message type is `descriptor`; null if none.
const ResourceKind* FindKind(const google::protobuf::Descriptor* descriptor);
// The kind whose collection prefixes `name` ("kvis/x" -> Kvi); null if none.
const ResourceKind* FindKindForName(absl::string_view name);
const std::vector<const ResourceKind*>& AllKinds();

// Accessors for the shared fields 1..7 (by reflection).
std::string GetName(const Message& m);
std::string GetEtag(const Message& m);
int64_t GetRevision(const Message& m);
// Clears name, create_time, update_time, etag and revision.
void ClearOutputFields(Message* m);
// Sets name, times, revision and an etag derived from them.
void SetOutputFields(Message* m, const std::string& name,
                     const google::protobuf::Timestamp& create_time,
                     const google::protobuf::Timestamp& update_time,
                     int64_t revision);
// True for fields a client may not write (output only).
bool IsOutputOnlyField(absl::string_view field_name);

}  // namespace vla::vmdb

#endif  // VLA_SERVICES_VMDB_RESOURCE_KINDS_H_
