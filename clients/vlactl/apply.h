// `vlactl apply`: brings the VMDB in line with a set of documents.
//
// Everything that can be checked is checked before the first write: each
// document (documents.h), duplicates, every reference (to a document in the
// set or a resource on the server), and VLA clauses against their KVIs'
// directions. Only then are resources created or updated, in dependency
// order (teams, value streams, KVIs, VLAs, objectives); an update sends the
// etag read and an update_mask of the changed fields.
#ifndef VLA_CLIENTS_VLACTL_APPLY_H_
#define VLA_CLIENTS_VLACTL_APPLY_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/vlactl/documents.h"
#include "clients/vlactl/vmdb_client.h"

namespace vla::vlactl {

struct ApplyResult {
  enum class Action { kCreated, kConfigured, kUnchanged };
  std::string name;  // "kvis/p90-lead-time"
  Action action = Action::kUnchanged;
  // For kConfigured: "field: old -> new", one per changed field.
  std::vector<std::string> changes;
};

// "created", "configured", "unchanged".
const char* ActionName(ApplyResult::Action action);

// Applies `docs` (or, with `dry_run`, only reports what would change),
// calling `report` after each resource. A failed check returns its error
// before anything is written; errors from the server carry the grpc code
// as absl code and name the document.
absl::Status Apply(VmdbClient& vmdb, std::vector<Document> docs, bool dry_run,
                   const std::function<void(const ApplyResult&)>& report);

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_APPLY_H_
