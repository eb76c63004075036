// VmdbStore on PostgreSQL (schema vla_vmdb): the tables of the SQLite store;
// writes take an advisory lock until they commit, so that revisions are
// numbered without gaps in commit order across every process sharing the
// database, and announce themselves with NOTIFY.
#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "services/common/pg_util.h"
#include "services/vmdb/vmdb_store.h"

namespace vla::vmdb {
namespace {

constexpr char kSchema[] = "vla_vmdb";
constexpr char kChannel[] = "vla_vmdb_changes";
// How often the change log is polled when no notification comes.
constexpr absl::Duration kPollInterval = absl::Seconds(1);

// Schema migrations, in order; never edit a released one, append instead.
const std::vector<std::string>& Migrations() {
  static const auto* const m = new std::vector<std::string>{
      R"sql(
        CREATE TABLE resources (
          collection text COLLATE "C" NOT NULL,
          id         text COLLATE "C" NOT NULL,
          data       bytea NOT NULL,
          PRIMARY KEY (collection, id)
        );
        CREATE TABLE refs (
          to_name   text COLLATE "C" NOT NULL,
          from_name text COLLATE "C" NOT NULL,
          field     text COLLATE "C" NOT NULL,
          PRIMARY KEY (to_name, from_name, field)
        );
        CREATE INDEX refs_by_from ON refs (from_name);
        CREATE TABLE changes (
          revision bigint PRIMARY KEY,
          kind     integer NOT NULL,
          name     text COLLATE "C" NOT NULL,
          data     bytea NOT NULL
        );
        CREATE INDEX changes_by_name ON changes (name, revision);
        CREATE TABLE requests (
          request_key text COLLATE "C" PRIMARY KEY,
          response    bytea NOT NULL
        );
        CREATE TABLE meta (
          key   text PRIMARY KEY,
          value bytea NOT NULL
        );
      )sql",
  };
  return *m;
}

using pg::Params;
using pg::Result;
using pg::Statement;

constexpr Statement kLockWrites{
    "vmdb_lock_writes",
    "SELECT pg_advisory_xact_lock(hashtext('vla_vmdb.changes'))"};
constexpr Statement kGet{
    "vmdb_get", "SELECT data FROM resources WHERE collection = $1 AND id = $2"};
constexpr Statement kList{
    "vmdb_list",
    "SELECT id, data FROM resources WHERE collection = $1 AND id > $2 "
    "ORDER BY id LIMIT $3"};
constexpr Statement kReferrers{
    "vmdb_referrers",
    "SELECT from_name, field FROM refs WHERE to_name = $1 "
    "ORDER BY from_name, field LIMIT $2"};
constexpr Statement kRequest{
    "vmdb_request", "SELECT response FROM requests WHERE request_key = $1"};
constexpr Statement kChanges{
    "vmdb_changes",
    "SELECT revision, kind, name, data FROM changes WHERE revision > $1 "
    "ORDER BY revision LIMIT $2"};
constexpr Statement kHistory{
    "vmdb_history",
    "SELECT data FROM changes WHERE name = $1 AND kind != $2 "
    "ORDER BY revision"};
constexpr Statement kHead{"vmdb_head",
                          "SELECT COALESCE(MAX(revision), 0) FROM changes"};
constexpr Statement kUpsertResource{
    "vmdb_upsert_resource",
    "INSERT INTO resources (collection, id, data) VALUES ($1, $2, $3) "
    "ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data"};
constexpr Statement kDeleteResource{
    "vmdb_delete_resource",
    "DELETE FROM resources WHERE collection = $1 AND id = $2"};
constexpr Statement kDeleteRefs{"vmdb_delete_refs",
                                "DELETE FROM refs WHERE from_name = $1"};
constexpr Statement kInsertRef{
    "vmdb_insert_ref",
    "INSERT INTO refs (to_name, from_name, field) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING"};
constexpr Statement kInsertChange{
    "vmdb_insert_change",
    "INSERT INTO changes (revision, kind, name, data) VALUES ($1, $2, $3, $4)"};
constexpr Statement kInsertRequest{
    "vmdb_insert_request",
    "INSERT INTO requests (request_key, response) VALUES ($1, $2)"};
constexpr Statement kNotify{"vmdb_notify",
                            "SELECT pg_notify('vla_vmdb_changes', $1)"};

// VmdbReader's reads on one connection.
class PgReads final : public VmdbReader {
 public:
  explicit PgReads(pg::Connection& c) : c_(c) {}

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view name) override {
    const auto [collection, id] = SplitResourceName(name);
    VLA_ASSIGN_OR_RETURN(Result r,
                         c_.Run(kGet, Params().Text(collection).Text(id)));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.String(0, 0));
  }

  absl::StatusOr<std::vector<Reference>> Referrers(absl::string_view name,
                                                   int limit) override {
    VLA_ASSIGN_OR_RETURN(Result r,
                         c_.Run(kReferrers, Params().Text(name).Int(limit)));
    std::vector<Reference> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.String(i, 1), r.String(i, 0)});
    }
    return out;
  }

  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_key) override {
    VLA_ASSIGN_OR_RETURN(Result r,
                         c_.Run(kRequest, Params().Text(request_key)));
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.String(0, 0));
  }

 private:
  pg::Connection& c_;
};

class PgVmdbStore final : public VmdbStore {
 public:
  static absl::StatusOr<std::unique_ptr<VmdbStore>> Open(const std::string& uri,
                                                         int connections) {
    auto store =
        std::unique_ptr<PgVmdbStore>(new PgVmdbStore(uri, connections));
    VLA_RETURN_IF_ERROR(
        store->pool_.Run([&](pg::Connection& c) -> absl::Status {
          VLA_RETURN_IF_ERROR(pg::Migrate(c, kSchema, Migrations()));
          VLA_ASSIGN_OR_RETURN(store->secret_,
                               pg::LoadOrCreateSecret(c, "page_secret"));
          return absl::OkStatus();
        }));
    store->head_ = store->HeadRevision();
    store->listener_ = std::make_unique<pg::Listener>(
        uri, kChannel, kPollInterval, [p = store.get()] { p->Poll(); });
    return std::unique_ptr<VmdbStore>(std::move(store));
  }

  ~PgVmdbStore() override { listener_.reset(); }

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view name) override {
    return Read<std::optional<std::string>>(
        [&](PgReads& r) { return r.Get(name); });
  }

  absl::StatusOr<std::vector<Reference>> Referrers(absl::string_view name,
                                                   int limit) override {
    return Read<std::vector<Reference>>(
        [&](PgReads& r) { return r.Referrers(name, limit); });
  }

  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_key) override {
    return Read<std::optional<std::string>>(
        [&](PgReads& r) { return r.FindRequest(request_key); });
  }

  absl::StatusOr<std::vector<StoredResource>> List(absl::string_view collection,
                                                   absl::string_view after_id,
                                                   int limit) override {
    std::vector<StoredResource> out;
    VLA_RETURN_IF_ERROR(pool_.RunOnce([&](pg::Connection& c) -> absl::Status {
      out.clear();
      VLA_ASSIGN_OR_RETURN(
          Result r,
          c.Run(kList, Params().Text(collection).Text(after_id).Int(limit)));
      for (int i = 0; i < r.rows(); ++i) {
        out.push_back({r.String(i, 0), r.String(i, 1)});
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<int64_t> Write(const WriteFn& fn) override {
    int64_t revision = 0;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      revision = 0;
      VLA_RETURN_IF_ERROR(c.Begin());
      // Excludes other writers (readers go on) until the commit: revisions
      // are numbered in commit order. An advisory lock, not a table lock,
      // which autovacuum would contend for.
      VLA_RETURN_IF_ERROR(c.Run(kLockWrites).status());
      PgReads reads(c);
      VLA_ASSIGN_OR_RETURN(std::optional<Mutation> m, fn(reads));
      if (!m.has_value()) return c.Commit();
      VLA_ASSIGN_OR_RETURN(Result head, c.Run(kHead));
      revision = head.Int(0, 0) + 1;
      VLA_RETURN_IF_ERROR(Apply(c, *m, revision));
      return c.Commit();
    }));
    if (revision > 0) Told(revision);
    return revision;
  }

  absl::StatusOr<std::vector<StoredChange>> Changes(int64_t after,
                                                    int limit) override {
    std::vector<StoredChange> out;
    VLA_RETURN_IF_ERROR(pool_.RunOnce([&](pg::Connection& c) -> absl::Status {
      out.clear();
      VLA_ASSIGN_OR_RETURN(Result r,
                           c.Run(kChanges, Params().Int(after).Int(limit)));
      for (int i = 0; i < r.rows(); ++i) {
        StoredChange& s = out.emplace_back();
        s.revision = r.Int(i, 0);
        s.kind = static_cast<v1::ChangeKind>(r.Int(i, 1));
        s.name = r.String(i, 2);
        s.data = r.String(i, 3);
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<std::string>> History(
      absl::string_view name) override {
    std::vector<std::string> out;
    VLA_RETURN_IF_ERROR(pool_.RunOnce([&](pg::Connection& c) -> absl::Status {
      out.clear();
      VLA_ASSIGN_OR_RETURN(
          Result r,
          c.Run(kHistory, Params().Text(name).Int(v1::CHANGE_KIND_DELETED)));
      for (int i = 0; i < r.rows(); ++i) out.push_back(r.String(i, 0));
      return absl::OkStatus();
    }));
    return out;
  }

  int64_t HeadRevision() override {
    int64_t head = 0;
    absl::Status s = pool_.RunOnce([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(Result r, c.Run(kHead));
      head = r.Int(0, 0);
      return absl::OkStatus();
    });
    if (!s.ok()) return head_.load();
    return head;
  }

  const std::string& secret() const override { return secret_; }

  void OnCommitted(std::function<void(int64_t)> fn) override {
    std::lock_guard<std::mutex> lock(told_mu_);
    on_committed_ = std::move(fn);
  }

  absl::Status CheckHealth() override { return pool_.Ping(); }

 private:
  PgVmdbStore(const std::string& uri, int connections)
      : pool_(uri, kSchema, connections) {}

  // Reads run once (no retries): they answer on gRPC's threads, and
  // clients retry UNAVAILABLE.
  template <typename T, typename Fn>
  absl::StatusOr<T> Read(Fn fn) {
    absl::StatusOr<T> out;
    VLA_RETURN_IF_ERROR(pool_.RunOnce([&](pg::Connection& c) -> absl::Status {
      PgReads reads(c);
      out = fn(reads);
      return out.status();
    }));
    return out;
  }

  static absl::Status Apply(pg::Connection& c, const Mutation& m,
                            int64_t revision) {
    const std::string name = absl::StrCat(m.collection, "/", m.id);
    if (m.kind == v1::CHANGE_KIND_DELETED) {
      VLA_RETURN_IF_ERROR(
          c.Run(kDeleteResource, Params().Text(m.collection).Text(m.id))
              .status());
    } else {
      VLA_RETURN_IF_ERROR(
          c.Run(kUpsertResource,
                Params().Text(m.collection).Text(m.id).Bytes(m.data))
              .status());
    }
    VLA_RETURN_IF_ERROR(c.Run(kDeleteRefs, Params().Text(name)).status());
    if (m.kind != v1::CHANGE_KIND_DELETED) {
      for (const Reference& ref : m.references) {
        VLA_RETURN_IF_ERROR(
            c.Run(kInsertRef,
                  Params().Text(ref.name).Text(name).Text(ref.field))
                .status());
      }
    }
    VLA_RETURN_IF_ERROR(
        c.Run(kInsertChange,
              Params().Int(revision).Int(m.kind).Text(name).Bytes(m.data))
            .status());
    if (!m.request_key.empty()) {
      VLA_RETURN_IF_ERROR(
          c.Run(kInsertRequest, Params().Text(m.request_key).Bytes(m.data))
              .status());
    }
    // Delivered to the listeners of every process at the commit.
    return c.Run(kNotify, Params().Int(revision)).status();
  }

  // The listener woke: a notification, a reconnection or the poll interval.
  void Poll() {
    const int64_t head = HeadRevision();
    if (head > 0) Told(head);
  }

  // Tells on_committed_ about `revision` unless a later one was told.
  void Told(int64_t revision) {
    std::lock_guard<std::mutex> lock(told_mu_);
    if (revision <= head_) return;
    head_ = revision;
    if (on_committed_) on_committed_(revision);
  }

  pg::Pool pool_;
  std::string secret_;
  std::mutex told_mu_;
  std::atomic<int64_t> head_{0};
  std::function<void(int64_t)> on_committed_;
  // Last: stopped first.
  std::unique_ptr<pg::Listener> listener_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VmdbStore>> OpenPostgresVmdbStore(
    const std::string& uri, int connections) {
  return PgVmdbStore::Open(uri, connections);
}

}  // namespace vla::vmdb
