#include "services/common/sqlite_util.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

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
    return SqliteError(e, "migrating the schema");
  }
}

absl::Status SqliteError(const SQLite::Exception& e, absl::string_view what) {
  const std::string message =
      absl::StrCat("storage error ", what, ": ", e.what());
  switch (e.getErrorCode()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace vla
