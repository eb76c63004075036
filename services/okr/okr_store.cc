#include "services/okr/okr_store.h"

#include <mutex>

#include "absl/strings/str_cat.h"
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

class SqliteOkrStore final : public OkrStore {
 public:
  static absl::StatusOr<std::unique_ptr<OkrStore>> Open(
      const std::string& path) {
    auto store = std::unique_ptr<SqliteOkrStore>(new SqliteOkrStore());
    try {
      store->db_ = OpenWriter(path);
      if (auto s = Migrate(*store->db_, Migrations()); !s.ok()) return s;
      store->secret_ = LoadOrCreateSecret(*store->db_, "page_secret");
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
      return SqliteError(e, "storing a check-in", db_.get());
    }
  }

  absl::StatusOr<int64_t> ReadCheckIns(
      int64_t after,
      const std::function<void(int64_t, const v1::CheckIn&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(
          *db_, "SELECT id, data FROM check_ins WHERE id > ? ORDER BY id");
      st.bind(1, static_cast<int64_t>(after));
      v1::CheckIn c;
      while (st.executeStep()) {
        after = st.getColumn(0).getInt64();
        if (c.ParseFromString(st.getColumn(1).getString())) fn(after, c);
      }
      return after;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading check-ins");
    }
  }

  absl::Status ApplyDefinitions(
      const std::vector<std::pair<std::string, std::string>>& rows,
      int64_t revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    return StoreDefinitions(*db_, rows, revision);
  }

  absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    return vla::LoadDefinitions(
        *db_, [&](absl::string_view, absl::string_view data) { fn(data); });
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
