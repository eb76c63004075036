#include "services/vmdb/vmdb_store.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "services/common/sqlite_util.h"

namespace vla::vmdb {
namespace {

// Schema migrations, in order; never edit a released one, append instead.
const std::vector<std::string>& Migrations() {
  static const auto* const m = new std::vector<std::string>{
      R"sql(
        CREATE TABLE resources (
          collection TEXT NOT NULL,
          id         TEXT NOT NULL,
          data       BLOB NOT NULL,
          PRIMARY KEY (collection, id)
        ) WITHOUT ROWID;
        CREATE TABLE refs (
          to_name   TEXT NOT NULL,
          from_name TEXT NOT NULL,
          field     TEXT NOT NULL,
          PRIMARY KEY (to_name, from_name, field)
        ) WITHOUT ROWID;
        CREATE INDEX refs_by_from ON refs (from_name);
        CREATE TABLE changes (
          revision INTEGER PRIMARY KEY,
          kind     INTEGER NOT NULL,
          name     TEXT NOT NULL,
          data     BLOB NOT NULL
        );
        CREATE INDEX changes_by_name ON changes (name, revision);
        CREATE TABLE requests (
          request_key TEXT PRIMARY KEY,
          response    BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE meta (
          key   TEXT PRIMARY KEY,
          value BLOB NOT NULL
        ) WITHOUT ROWID;
      )sql",
  };
  return *m;
}

// Resets a statement when a read is done (or throws), so that it holds no
// read snapshot between calls.
class ResetOnExit {
 public:
  explicit ResetOnExit(SQLite::Statement& st) : st_(st) {}
  ~ResetOnExit() {
    try {
      st_.reset();
      st_.clearBindings();
    } catch (...) {
    }
  }

 private:
  SQLite::Statement& st_;
};

// The read statements of one connection, and the reads of VmdbReader over
// them (a reader connection's, or the writer's inside a write).
struct Reads final : public VmdbReader {
  explicit Reads(SQLite::Database& db)
      : get(db, "SELECT data FROM resources WHERE collection = ? AND id = ?"),
        list(db,
             "SELECT id, data FROM resources WHERE collection = ? AND id > ? "
             "ORDER BY id LIMIT ?"),
        referrers(db,
                  "SELECT from_name, field FROM refs WHERE to_name = ? "
                  "ORDER BY from_name, field LIMIT ?"),
        request(db, "SELECT response FROM requests WHERE request_key = ?"),
        changes(db,
                "SELECT revision, kind, name, data FROM changes "
                "WHERE revision > ? ORDER BY revision LIMIT ?"),
        history(db,
                "SELECT data FROM changes WHERE name = ? AND kind != ? "
                "ORDER BY revision") {}

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view name) override {
    try {
      ResetOnExit reset(get);
      const auto [collection, id] = SplitResourceName(name);
      get.bind(1, collection);
      get.bind(2, id);
      if (!get.executeStep()) return std::optional<std::string>();
      return std::optional<std::string>(get.getColumn(0).getString());
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading a resource");
    }
  }

  absl::StatusOr<std::vector<Reference>> Referrers(absl::string_view name,
                                                   int limit) override {
    try {
      ResetOnExit reset(referrers);
      referrers.bind(1, std::string(name));
      referrers.bind(2, limit);
      std::vector<Reference> out;
      while (referrers.executeStep()) {
        out.push_back({referrers.getColumn(1).getString(),
                       referrers.getColumn(0).getString()});
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading references");
    }
  }

  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_key) override {
    try {
      ResetOnExit reset(request);
      request.bind(1, std::string(request_key));
      if (!request.executeStep()) return std::optional<std::string>();
      return std::optional<std::string>(request.getColumn(0).getString());
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading a request id");
    }
  }

  SQLite::Statement get, list, referrers, request, changes, history;
};

// A reader connection with its prepared statements.
struct Reader {
  explicit Reader(const std::string& path) : db(OpenReader(path)), reads(*db) {}
  std::unique_ptr<SQLite::Database> db;
  Reads reads;
};

class SqliteVmdbStore final : public VmdbStore {
 public:
  static absl::StatusOr<std::unique_ptr<VmdbStore>> Open(
      const std::string& path, int readers) {
    auto store = std::unique_ptr<SqliteVmdbStore>(new SqliteVmdbStore());
    try {
      store->db_ = OpenWriter(path);
      if (auto s = Migrate(*store->db_, Migrations()); !s.ok()) return s;
      store->secret_ = LoadOrCreateSecret(*store->db_, "page_secret");
      store->last_revision_ =
          store->db_
              ->execAndGet("SELECT COALESCE(MAX(revision), 0) FROM changes")
              .getInt64();
      store->PrepareWriterStatements();
      for (int i = 0; i < readers; ++i) {
        store->readers_.Add(std::make_unique<Reader>(path));
      }
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, absl::StrCat("opening ", path));
    }
    return std::unique_ptr<VmdbStore>(std::move(store));
  }

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view name) override {
    auto r = readers_.Acquire();
    return r->reads.Get(name);
  }

  absl::StatusOr<std::vector<Reference>> Referrers(absl::string_view name,
                                                   int limit) override {
    auto r = readers_.Acquire();
    return r->reads.Referrers(name, limit);
  }

  absl::StatusOr<std::optional<std::string>> FindRequest(
      absl::string_view request_key) override {
    auto r = readers_.Acquire();
    return r->reads.FindRequest(request_key);
  }

  absl::StatusOr<std::vector<StoredResource>> List(absl::string_view collection,
                                                   absl::string_view after_id,
                                                   int limit) override {
    auto r = readers_.Acquire();
    SQLite::Statement& list = r->reads.list;
    try {
      ResetOnExit reset(list);
      list.bind(1, std::string(collection));
      list.bind(2, std::string(after_id));
      list.bind(3, limit);
      std::vector<StoredResource> out;
      while (list.executeStep()) {
        out.push_back(
            {list.getColumn(0).getString(), list.getColumn(1).getString()});
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "listing resources");
    }
  }

  absl::StatusOr<int64_t> Write(const WriteFn& fn) override {
    int64_t revision = 0;
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      try {
        SQLite::Transaction tx(*db_);
        VLA_ASSIGN_OR_RETURN(std::optional<Mutation> m, fn(*writer_reads_));
        if (!m.has_value()) return 0;
        revision = last_revision_ + 1;
        ApplyLocked(*m, revision);
        tx.commit();
      } catch (const SQLite::Exception& e) {
        return SqliteError(e, "writing", db_.get());
      }
      last_revision_ = revision;
    }
    if (on_committed_) on_committed_(revision);
    return revision;
  }

  absl::StatusOr<std::vector<StoredChange>> Changes(int64_t after,
                                                    int limit) override {
    auto r = readers_.Acquire();
    SQLite::Statement& changes = r->reads.changes;
    try {
      ResetOnExit reset(changes);
      changes.bind(1, static_cast<int64_t>(after));
      changes.bind(2, limit);
      std::vector<StoredChange> out;
      while (changes.executeStep()) {
        StoredChange c;
        c.revision = changes.getColumn(0).getInt64();
        c.kind = static_cast<v1::ChangeKind>(changes.getColumn(1).getInt());
        c.name = changes.getColumn(2).getString();
        c.data = changes.getColumn(3).getString();
        out.push_back(std::move(c));
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading the change log");
    }
  }

  absl::StatusOr<std::vector<std::string>> History(
      absl::string_view name) override {
    auto r = readers_.Acquire();
    SQLite::Statement& history = r->reads.history;
    try {
      ResetOnExit reset(history);
      history.bind(1, std::string(name));
      history.bind(2, static_cast<int>(v1::CHANGE_KIND_DELETED));
      std::vector<std::string> out;
      while (history.executeStep()) {
        out.push_back(history.getColumn(0).getString());
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading history");
    }
  }

  int64_t HeadRevision() override {
    std::lock_guard<std::mutex> lock(write_mu_);
    return last_revision_;
  }

  const std::string& secret() const override { return secret_; }

  void OnCommitted(std::function<void(int64_t)> fn) override {
    on_committed_ = std::move(fn);
  }

 private:
  SqliteVmdbStore() = default;

  void PrepareWriterStatements() {
    auto prepare = [this](const char* sql) {
      return std::make_unique<SQLite::Statement>(*db_, sql);
    };
    writer_reads_ = std::make_unique<Reads>(*db_);
    upsert_resource_ = prepare(
        "INSERT INTO resources (collection, id, data) VALUES (?, ?, ?) "
        "ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data");
    delete_resource_ =
        prepare("DELETE FROM resources WHERE collection = ? AND id = ?");
    delete_refs_ = prepare("DELETE FROM refs WHERE from_name = ?");
    insert_ref_ = prepare(
        "INSERT OR IGNORE INTO refs (to_name, from_name, field) VALUES (?, ?, "
        "?)");
    insert_change_ = prepare(
        "INSERT INTO changes (revision, kind, name, data) VALUES (?, ?, ?, ?)");
    insert_request_ =
        prepare("INSERT INTO requests (request_key, response) VALUES (?, ?)");
  }

  // Writes `m` as change `revision` inside the open transaction. Throws.
  void ApplyLocked(const Mutation& m, int64_t revision) {
    const std::string name = absl::StrCat(m.collection, "/", m.id);
    if (m.kind == v1::CHANGE_KIND_DELETED) {
      Run(*delete_resource_, [&](SQLite::Statement& st) {
        st.bind(1, m.collection);
        st.bind(2, m.id);
      });
    } else {
      Run(*upsert_resource_, [&](SQLite::Statement& st) {
        st.bind(1, m.collection);
        st.bind(2, m.id);
        BindBlob(st, 3, m.data);
      });
    }
    Run(*delete_refs_, [&](SQLite::Statement& st) { st.bind(1, name); });
    if (m.kind != v1::CHANGE_KIND_DELETED) {
      for (const Reference& ref : m.references) {
        Run(*insert_ref_, [&](SQLite::Statement& st) {
          st.bind(1, ref.name);
          st.bind(2, name);
          st.bind(3, ref.field);
        });
      }
    }
    Run(*insert_change_, [&](SQLite::Statement& st) {
      st.bind(1, static_cast<int64_t>(revision));
      st.bind(2, static_cast<int>(m.kind));
      st.bind(3, name);
      BindBlob(st, 4, m.data);
    });
    if (!m.request_key.empty()) {
      Run(*insert_request_, [&](SQLite::Statement& st) {
        st.bind(1, m.request_key);
        BindBlob(st, 2, m.data);
      });
    }
  }

  template <typename BindFn>
  static void Run(SQLite::Statement& st, BindFn bind) {
    ResetOnExit reset(st);
    bind(st);
    st.exec();
  }

  std::mutex write_mu_;
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<Reads> writer_reads_;
  std::unique_ptr<SQLite::Statement> upsert_resource_, delete_resource_,
      delete_refs_, insert_ref_, insert_change_, insert_request_;
  int64_t last_revision_ = 0;
  std::string secret_;
  std::function<void(int64_t)> on_committed_;
  ReaderPool<Reader> readers_;
};

}  // namespace

std::pair<std::string, std::string> SplitResourceName(absl::string_view name) {
  const size_t slash = name.find('/');
  if (slash == absl::string_view::npos) return {std::string(name), ""};
  return {std::string(name.substr(0, slash)),
          std::string(name.substr(slash + 1))};
}

absl::StatusOr<std::unique_ptr<VmdbStore>> OpenSqliteVmdbStore(
    const std::string& path, int readers) {
  return SqliteVmdbStore::Open(path, readers);
}

}  // namespace vla::vmdb
