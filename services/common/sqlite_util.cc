#include "services/common/sqlite_util.h"

#include <sqlite3.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "services/common/disk_space.h"
#include "services/common/page_token.h"

namespace vla {

std::unique_ptr<SQLite::Database> OpenWriter(const std::string& path) {
  auto db = std::make_unique<SQLite::Database>(
      path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->exec("PRAGMA journal_mode=WAL");
  db->exec("PRAGMA synchronous=FULL");
  db->exec("PRAGMA foreign_keys=ON");
  db->setBusyTimeout(5000);
  return db;
}

std::unique_ptr<SQLite::Database> OpenReader(const std::string& path) {
  auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY);
  db->setBusyTimeout(5000);
  return db;
}

absl::Status Migrate(SQLite::Database& db,
                     const std::vector<std::string>& migrations) {
  try {
    const int version = db.execAndGet("PRAGMA user_version").getInt();
    if (version > static_cast<int>(migrations.size())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", db.getFilename(), " has schema version ", version,
          ", newer than this binary knows (", migrations.size(), ")"));
    }
    for (int v = version; v < static_cast<int>(migrations.size()); ++v) {
      SQLite::Transaction tx(db);
      db.exec(migrations[v]);
      db.exec(absl::StrCat("PRAGMA user_version = ", v + 1));
      tx.commit();
    }
    return absl::OkStatus();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e, "migrating the schema", &db);
  }
}

void BindBlob(SQLite::Statement& st, int index, const std::string& data) {
  st.bind(index, data.data(), static_cast<int>(data.size()));
}

std::string LoadOrCreateSecret(SQLite::Database& db, const std::string& key) {
  SQLite::Statement get(db, "SELECT value FROM meta WHERE key = ?");
  get.bind(1, key);
  if (get.executeStep()) return get.getColumn(0).getString();
  const std::string secret = NewRandomSecret();
  SQLite::Statement put(db, "INSERT INTO meta (key, value) VALUES (?, ?)");
  put.bind(1, key);
  BindBlob(put, 2, secret);
  put.exec();
  return secret;
}

absl::Status StoreDefinitions(
    SQLite::Database& db,
    const std::vector<std::pair<std::string, std::string>>& rows,
    int64_t revision) {
  try {
    SQLite::Transaction tx(db);
    SQLite::Statement stored(
        db, "SELECT value FROM meta WHERE key = 'vmdb_revision'");
    if (stored.executeStep() && stored.getColumn(0).getInt64() >= revision) {
      return absl::OkStatus();  // nothing newer than what is stored
    }
    SQLite::Statement upsert(
        db,
        "INSERT INTO definitions (name, data) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET data = excluded.data");
    SQLite::Statement remove(db, "DELETE FROM definitions WHERE name = ?");
    for (const auto& [name, data] : rows) {
      SQLite::Statement& st = data.empty() ? remove : upsert;
      st.bind(1, name);
      if (!data.empty()) BindBlob(st, 2, data);
      st.exec();
      st.reset();
    }
    SQLite::Statement rev(
        db,
        "INSERT INTO meta (key, value) VALUES ('vmdb_revision', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    rev.bind(1, static_cast<int64_t>(revision));
    rev.exec();
    tx.commit();
    return absl::OkStatus();
  } catch (const SQLite::Exception& e) {
    return SqliteError(e, "storing definitions", &db);
  }
}

absl::StatusOr<int64_t> LoadDefinitions(
    SQLite::Database& db,
    const std::function<void(absl::string_view, absl::string_view)>& fn) {
  try {
    SQLite::Statement st(db, "SELECT name, data FROM definitions");
    while (st.executeStep()) {
      const SQLite::Column data = st.getColumn(1);
      fn(st.getColumn(0).getString(),
         absl::string_view(static_cast<const char*>(data.getBlob()),
                           data.getBytes()));
    }
    SQLite::Statement rev(db,
                          "SELECT value FROM meta WHERE key = 'vmdb_revision'");
    return rev.executeStep() ? rev.getColumn(0).getInt64() : int64_t{0};
  } catch (const SQLite::Exception& e) {
    return SqliteError(e, "reading definitions");
  }
}

namespace {
std::atomic<int64_t> full_errors{0}, other_errors{0};
}  // namespace

int64_t StorageErrors(bool full) {
  return (full ? full_errors : other_errors).load(std::memory_order_relaxed);
}

absl::Status SqliteError(const SQLite::Exception& e, absl::string_view what,
                         const SQLite::Database* db) {
  const std::string message =
      absl::StrCat("storage error ", what, ": ", e.what());
  const bool full = (e.getErrorCode() & 0xff) == SQLITE_FULL;
  (full ? full_errors : other_errors).fetch_add(1, std::memory_order_relaxed);
  if (full) {
    if (db == nullptr) return absl::ResourceExhaustedError(message);
    return DiskFullError(
        message,
        std::filesystem::path(db->getFilename()).parent_path().string());
  }
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace vla
