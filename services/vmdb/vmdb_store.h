// Durable storage of the VMDB: current resources, the references between
// them, the change log (every version of every resource, kept), idempotency
// records and service metadata. The only place with SQL.
//
// The store checks nothing about the domain: VmdbCore serializes writes and
// decides what to write; Apply commits one mutation atomically and durably
// before it returns.
#ifndef VLA_SERVICES_VMDB_VMDB_STORE_H_
#define VLA_SERVICES_VMDB_VMDB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/validation.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::vmdb {

struct StoredResource {
  std::string id;
  std::string data;  // serialized resource message
};

struct StoredChange {
  int64_t revision = 0;
  v1::ChangeKind kind = v1::CHANGE_KIND_UNSPECIFIED;
  std::string name;
  std::string data;  // the resource after the change (DELETED: before)
};

// One committed change: the resource row is created, replaced or deleted,
// its outgoing references replaced, the change appended to the log and, for
// an idempotent create, the response remembered under `request_key`.
struct Mutation {
  v1::ChangeKind kind = v1::CHANGE_KIND_UNSPECIFIED;
  std::string collection;
  std::string id;
  std::string data;
  std::vector<Reference> references;
  std::string request_key;  // empty: none
};

// Reads of the current resources: through the store, or inside a write
// (VmdbStore::Write), where they see what the write will commit over.
class VmdbReader {
 public:
  virtual ~VmdbReader() = default;

  // The current resource called `name`, if any.
  virtual absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view name) = 0;
  // Up to `limit` references to `name` from other resources (Reference.name
  // is the referring resource, Reference.field the field that refers).
  virtual absl::StatusOr<std::vector<Reference>> Referrers(
      absl::string_view name, int limit) = 0;
  // The response remembered for an idempotent create.
  virtual absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_key) = 0;
};

// The body of a write: reads through `tx`, then returns the mutation to
// commit (nullopt: none) or an error (nothing is committed).
using WriteFn =
    std::function<absl::StatusOr<std::optional<Mutation>>(VmdbReader& tx)>;

class VmdbStore : public VmdbReader {
 public:
  // Runs `fn` with every other write excluded, also those of other
  // processes sharing the store, and commits the mutation it returns
  // atomically and durably. Returns the mutation's change-log revision (0
  // when `fn` returned none). `fn` may run more than once (the connection
  // was lost before the commit), each time from scratch.
  virtual absl::StatusOr<int64_t> Write(const WriteFn& fn) = 0;
  // Commits `m` as it is.
  absl::StatusOr<int64_t> Apply(const Mutation& m) {
    return Write([&](VmdbReader&) -> absl::StatusOr<std::optional<Mutation>> {
      return m;
    });
  }

  // Up to `limit` resources of `collection` with id > `after_id`, by id
  // (bytewise).
  virtual absl::StatusOr<std::vector<StoredResource>> List(
      absl::string_view collection, absl::string_view after_id, int limit) = 0;
  // Up to `limit` changes with revision > `after`, in order. Revisions are
  // numbered 1, 2, 3, ... in commit order, without gaps.
  virtual absl::StatusOr<std::vector<StoredChange>> Changes(int64_t after,
                                                            int limit) = 0;
  // Every created or updated version of `name`, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> History(
      absl::string_view name) = 0;
  // The revision of the last committed change (0 if none; the last one
  // known if the database cannot be reached).
  virtual int64_t HeadRevision() = 0;
  // The page-token secret, created on first open (shared by every process
  // of the store).
  virtual const std::string& secret() const = 0;

  // Sets the function told (from the store's threads, soon after the
  // commit) the revision of changes committed by this or any other process
  // sharing the store; it must not block. Several commits may be told as
  // one (the last revision). Set once, before writes.
  virtual void OnCommitted(std::function<void(int64_t revision)> fn) = 0;
  // OK while the database can be reached.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }
};

// "collection/id" as (collection, id); (name, "") without a slash.
std::pair<std::string, std::string> SplitResourceName(absl::string_view name);

// Opens (creating and migrating as needed) the SQLite database at `path`,
// with one writer connection and `readers` reader connections.
absl::StatusOr<std::unique_ptr<VmdbStore>> OpenSqliteVmdbStore(
    const std::string& path, int readers = 4);

// Opens (creating and migrating schema vla_vmdb as needed) the PostgreSQL
// database at `uri`, with `connections` pooled connections plus one that
// listens for the changes other processes commit.
absl::StatusOr<std::unique_ptr<VmdbStore>> OpenPostgresVmdbStore(
    const std::string& uri, int connections = 4);

}  // namespace vla::vmdb

#endif  // VLA_SERVICES_VMDB_VMDB_STORE_H_
