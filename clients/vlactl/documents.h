// Resource documents for `vlactl apply` and `vlactl get -o yaml|json`: YAML
// or JSON, several per file (`---`, or a top-level list), each
//
//   kind: Kvi                 # Team | ValueStream | Kvi | Vla | Objective
//   id: p90-lead-time
//   value_stream: valueStreams/incident
//   aggregation: PERCENTILE   # short or full enum names
//   window: {rolling: 30d}    # durations: 90s, 15m, 12h, 30d; or "2592000s"
//   ...                       # the resource's fields as in resources.proto
//
// Parsing checks every field against the proto descriptor, and then runs the
// VMDB's own validation of the resource, so a bad document is refused before
// anything reaches the server; every error names the file, the document (1 =
// first in the file), its line, and the field:
//
//   examples/kvis.yaml: document 2 (line 14): kvi.percentile: must be in (0,
//   100]
//
// Output-only fields (name, etag, revision, create_time, update_time) are
// ignored on input, so that `get -o yaml` output can be applied again.
//
//   VLA_ASSIGN_OR_RETURN(std::vector<Document> docs, LoadDocuments(path));
//   VLA_RETURN_IF_ERROR(CheckDocumentSet(docs));
//   SortForApply(&docs);
#ifndef VLA_CLIENTS_VLACTL_DOCUMENTS_H_
#define VLA_CLIENTS_VLACTL_DOCUMENTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/validation.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace vla::vlactl {

// One of the five VMDB resource kinds as the CLI names it.
struct KindInfo {
  std::string kind;        // document `kind`: "ValueStream"
  std::string collection;  // in resource names: "valueStreams"
  std::string singular;    // in request fields and errors: "value_stream"
  std::string plural;      // "value_streams" (List response field)
  const google::protobuf::Descriptor* descriptor = nullptr;
  int apply_order = 0;  // teams first, objectives last
};

// All kinds, in apply order.
const std::vector<KindInfo>& Kinds();
// The kind for a word a person types: "Kvi", "kvi", "kvis", "valuestream",
// "value-streams", "valueStreams", "vs", ...; null if none.
const KindInfo* FindKind(absl::string_view word);
const KindInfo* FindKind(const google::protobuf::Descriptor* descriptor);

// Splits "kvi/p90" or "kvis/p90" into kind and id; INVALID_ARGUMENT
// explaining the form otherwise.
struct ResourceRef {
  const KindInfo* kind = nullptr;
  std::string id;
  std::string name() const;  // "kvis/p90"
};
absl::StatusOr<ResourceRef> ParseResourceRef(absl::string_view text);

// "720h", "90s", "1h30m", "30d", "1.5d" (or proto JSON "2592000s");
// INVALID_ARGUMENT with examples otherwise.
absl::StatusOr<absl::Duration> ParseHumanDuration(absl::string_view text);

// RFC 3339 ("2026-10-01T00:00:00Z") or a date ("2026-10-01", midnight
// UTC); INVALID_ARGUMENT with examples otherwise.
absl::StatusOr<google::protobuf::Timestamp> ParseTimestampText(
    absl::string_view text);

struct Document {
  std::string file;
  int index = 0;  // 1-based position in the file
  int line = 0;   // 1-based line where the document starts
  const KindInfo* kind = nullptr;
  std::string id;
  // The resource with `name` set and every other output-only field clear.
  std::unique_ptr<google::protobuf::Message> resource;
  // The other resources it names, with the field naming each.
  std::vector<Reference> references;

  std::string name() const;  // "kvis/p90"
  // "examples/kvis.yaml: document 2 (line 14)"
  std::string Where() const;
};

// Parses the documents in `text`; `file` is only used in errors.
absl::StatusOr<std::vector<Document>> ParseDocuments(absl::string_view text,
                                                     absl::string_view file);

// Reads a file, or every *.yaml, *.yml and *.json file under a directory
// (recursively, in path order), and parses them all.
absl::StatusOr<std::vector<Document>> LoadDocuments(const std::string& path);

// Checks a set of documents together: no resource defined twice.
absl::Status CheckDocumentSet(const std::vector<Document>& docs);

// Orders documents so that every resource comes after those it may refer to
// (teams, value streams, KVIs, VLAs, objectives), stable within a kind.
void SortForApply(std::vector<Document>* docs);

// The writable top-level fields in which `desired` differs from `current`
// (both of the same type); empty when nothing changed.
google::protobuf::FieldMask ChangedFields(
    const google::protobuf::Message& desired,
    const google::protobuf::Message& current);

// True for the output-only fields shared by every resource.
bool IsOutputOnlyField(absl::string_view field);

// A resource as a document: `kind`, `id`, then its fields in proto JSON
// form with proto field names. With `output_fields` false, output-only
// fields are left out (an apply-able definition).
std::string ResourceToJson(const google::protobuf::Message& resource,
                           bool output_fields = true);

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_DOCUMENTS_H_
