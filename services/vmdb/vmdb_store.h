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

class VmdbStore {
 public:
  virtual ~VmdbStore() = default;

  // The current resource called `name`, if any.
  virtual absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view name) = 0;
  // Up to `limit` resources of `collection` with id > `after_id`, by id.
  virtual absl::StatusOr<std::vector<StoredResource>> List(
      absl::string_view collection, absl::string_view after_id, int limit) = 0;
  // Up to `limit` references to `name` from other resources (Reference.name
  // is the referring resource, Reference.field the field that refers).
  virtual absl::StatusOr<std::vector<Reference>> Referrers(
      absl::string_view name, int limit) = 0;
  // The response remembered for an idempotent create.
  virtual absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_key) = 0;
  // Commits `m`; returns its change-log revision.
  virtual absl::StatusOr<int64_t> Apply(const Mutation& m) = 0;
  // Up to `limit` changes with revision > `after`, in order.
  virtual absl::StatusOr<std::vector<StoredChange>> Changes(int64_t after,
                                                            int limit) = 0;
  // Every created or updated version of `name`, oldest first.
  virtual absl::StatusOr<std::vector<std::string>> History(
      absl::string_view name) = 0;
  // The revision of the last committed change (0 if none).
  virtual int64_t HeadRevision() = 0;
  // The page-token secret, created on first open.
  virtual const std::string& secret() const = 0;
};

// Opens (creating and migrating as needed) the SQLite database at `path`,
// with one writer connection and `readers` reader connections.
absl::StatusOr<std::unique_ptr<VmdbStore>> OpenSqliteVmdbStore(
    const std::string& path, int readers = 4);

}  // namespace vla::vmdb

#endif  // VLA_SERVICES_VMDB_VMDB_STORE_H_
