// Validation of VMDB resources: everything that can be checked on one
// resource alone, with errors that name the offending field
// (`vla.clauses[1].warning: ...`), plus the list of other resources it refers
// to (checked for existence by VmdbCore).
#ifndef VLA_COMMON_VALIDATION_H_
#define VLA_COMMON_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/names.h"
#include "vla/v1/resources.pb.h"

namespace vla {

// A reference from one resource to another, by full resource name.
struct Reference {
  std::string field;  // e.g. "vla.clauses[0].kvi"
  std::string name;   // e.g. "kvis/p90-lead-time"
};

// Each checks the writable fields of a resource (`prefix` is the request
// field, e.g. "team") and appends the resources it refers to.
absl::Status ValidateTeam(const v1::Team& team, absl::string_view prefix,
                          std::vector<Reference>* refs);
absl::Status ValidateValueStream(const v1::ValueStream& vs,
                                 absl::string_view prefix,
                                 std::vector<Reference>* refs);
absl::Status ValidateKvi(const v1::Kvi& kvi, absl::string_view prefix,
                         std::vector<Reference>* refs);
absl::Status ValidateVla(const v1::Vla& vla, absl::string_view prefix,
                         std::vector<Reference>* refs);
absl::Status ValidateObjective(const v1::Objective& objective,
                               absl::string_view prefix,
                               std::vector<Reference>* refs);

// Checks a VLA against the KVIs its clauses name (already known to exist):
// a clause's warning must not lie on the good side of its target, given the
// KVI's direction. `kvis[i]` is the KVI of `vla.clauses(i)`.
absl::Status ValidateVlaClausesAgainstKvis(const v1::Vla& vla,
                                           absl::string_view prefix,
                                           const std::vector<v1::Kvi>& kvis);

}  // namespace vla

#endif  // VLA_COMMON_VALIDATION_H_
