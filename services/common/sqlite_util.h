// SQLite plumbing shared by every service's store: opening connections with
// the project's pragmas, numbered migrations recorded in PRAGMA user_version,
// and a pool of reader connections. Only store classes include this.
#ifndef VLA_SERVICES_COMMON_SQLITE_UTIL_H_
#define VLA_SERVICES_COMMON_SQLITE_UTIL_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vla {

// A writer connection: WAL, synchronous=FULL (a commit is on disk before it
// returns), busy timeout. Throws SQLite::Exception.
std::unique_ptr<SQLite::Database> OpenWriter(const std::string& path);
// A read-only connection to a database a writer has already created.
std::unique_ptr<SQLite::Database> OpenReader(const std::string& path);

// Applies migrations[user_version..] in order, each in its own transaction
// that also bumps user_version. Refuses a database newer than the code.
absl::Status Migrate(SQLite::Database& db,
                     const std::vector<std::string>& migrations);

// Binds `data` as a BLOB.
void BindBlob(SQLite::Statement& st, int index, const std::string& data);

// The secret stored under `key` in table `meta (key, value)`, created from
// the system's CSPRNG on first use. Throws SQLite::Exception.
std::string LoadOrCreateSecret(SQLite::Database& db, const std::string& key);

// Definitions followed from the VMDB, in table `definitions (name, data)`
// with the last revision under `meta` key 'vmdb_revision': stores `rows`
// (empty data: deleted) and the revision in one transaction, or loads them.
// A batch that does not move the stored revision forward is skipped (the
// rule of the PostgreSQL stores, which replicas share: pg_util.h).
absl::Status StoreDefinitions(
    SQLite::Database& db,
    const std::vector<std::pair<std::string, std::string>>& rows,
    int64_t revision);
absl::StatusOr<int64_t> LoadDefinitions(
    SQLite::Database& db,
    const std::function<void(absl::string_view name, absl::string_view data)>&
        fn);

// Maps a SQLite exception to a status: busy/locked/I/O errors to
// UNAVAILABLE, a full file system or database (SQLITE_FULL) to
// RESOURCE_EXHAUSTED (naming `db`'s folder and its free bytes when given),
// the rest to INTERNAL. Counts each in StorageErrors().
absl::Status SqliteError(const SQLite::Exception& e, absl::string_view what,
                         const SQLite::Database* db = nullptr);

// Storage errors reported through SqliteError since the process started:
// `full` those that were SQLITE_FULL, else the others.
int64_t StorageErrors(bool full);

// A fixed set of reader objects (each owning a connection and its prepared
// statements), leased to one thread at a time.
template <typename Reader>
class ReaderPool {
 public:
  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<Reader> r)
        : pool_(pool), reader_(std::move(r)) {}
    ~Lease() { pool_->Release(std::move(reader_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Reader* operator->() { return reader_.get(); }
    Reader& operator*() { return *reader_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Reader> reader_;
  };

  void Add(std::unique_ptr<Reader> r) { Release(std::move(r)); }

  Lease Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !free_.empty(); });
    std::unique_ptr<Reader> r = std::move(free_.back());
    free_.pop_back();
    return Lease(this, std::move(r));
  }

 private:
  void Release(std::unique_ptr<Reader> r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(std::move(r));
    }
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Reader>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_SQLITE_UTIL_H_
