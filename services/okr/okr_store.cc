#include "services/okr/okr_store.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "services/common/page_token.h"
#include "services/common/sqlite_util.h"

namespace vla::okr {
namespace {

const std::vector<std::string>& Migrations() {
  static const auto* const m = new std::vector<std::string>{
      R"sql(
        CREATE TABLE check_ins (
          id        INTEGER PRIMARY KEY,
          objective TEXT NOT NULL,
          data      BLOB NOT NULL
        );
        CREATE INDEX check_ins_by_objective ON check_ins (objective, id);
        CREATE TABLE definitions (
          name TEXT PRIMARY KEY,
          data BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE meta (
          key   TEXT PRIMARY KEY,
          value BLOB NOT NULL
        ) WITHOUT ROWID;
      )sql",
  };
  return *m;
}

void BindBlob(SQLite::Statement& st, int index, const std::string& data) {
  st.bind(index, data.data(), static_cast<int>(data.size()));
}

class SqliteOkrStore final : public OkrStore {
 public:
  static absl::StatusOr<std::unique_ptr<OkrStore>> Open(
      const std::string& path) {
    auto store = std::unique_ptr<SqliteOkrStore>(new SqliteOkrStore());
    try {
      store->db_ = OpenWriter(path);
      if (auto s = Migrate(*store->db_, Migrations()); !s.ok()) return s;
      SQLite::Statement get(*store->db_,
                            "SELECT value FROM meta WHERE key = 'page_secret'");
      if (get.executeStep()) {
        store->secret_ = get.getColumn(0).getString();
      } else {
        store->secret_ = NewRandomSecret();
        SQLite::Statement put(
            *store->db_,
            "INSERT INTO meta (key, value) VALUES ('page_secret', ?)");
        BindBlob(put, 1, store->secret_);
        put.exec();
      }
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, absl::StrCat("opening ", path));
    }
    return std::unique_ptr<OkrStore>(std::move(store));
  }

  absl::Status AddCheckIn(const v1::CheckIn& c) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(
          *db_, "INSERT INTO check_ins (objective, data) VALUES (?, ?)");
      st.bind(1, c.objective());
      BindBlob(st, 2, c.SerializeAsString());
      st.exec();
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "storing a check-in");
    }
  }

  absl::Status ForEachCheckIn(
      const std::function<void(const v1::CheckIn&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(*db_, "SELECT data FROM check_ins ORDER BY id");
      v1::CheckIn c;
      while (st.executeStep()) {
        if (c.ParseFromString(st.getColumn(0).getString())) fn(c);
      }
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading check-ins");
    }
  }

  absl::Status ApplyDefinitions(
      const std::vector<std::pair<std::string, std::string>>& rows,
      int64_t revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Transaction tx(*db_);
      SQLite::Statement upsert(
          *db_,
          "INSERT INTO definitions (name, data) VALUES (?, ?) "
          "ON CONFLICT (name) DO UPDATE SET data = excluded.data");
      SQLite::Statement remove(*db_, "DELETE FROM definitions WHERE name = ?");
      for (const auto& [name, data] : rows) {
        if (data.empty()) {
          remove.bind(1, name);
          remove.exec();
          remove.reset();
        } else {
          upsert.bind(1, name);
          BindBlob(upsert, 2, data);
          upsert.exec();
          upsert.reset();
        }
      }
      SQLite::Statement rev(
          *db_,
          "INSERT INTO meta (key, value) VALUES ('vmdb_revision', ?) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
      rev.bind(1, static_cast<int64_t>(revision));
      rev.exec();
      tx.commit();
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "storing definitions");
    }
  }

  absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(*db_, "SELECT data FROM definitions");
      while (st.executeStep()) {
        const SQLite::Column data = st.getColumn(0);
        fn(absl::string_view(static_cast<const char*>(data.getBlob()),
                             data.getBytes()));
      }
      SQLite::Statement rev(
          *db_, "SELECT value FROM meta WHERE key = 'vmdb_revision'");
      return rev.executeStep() ? rev.getColumn(0).getInt64() : int64_t{0};
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading definitions");
    }
  }

  const std::string& secret() const override { return secret_; }

 private:
  SqliteOkrStore() = default;
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
  std::string secret_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OkrStore>> OpenSqliteOkrStore(
    const std::string& path) {
  return SqliteOkrStore::Open(path);
}

}  // namespace vla::okr
