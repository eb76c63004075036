// PostgreSQL plumbing shared by the services' PostgreSQL stores, over libpq:
// connections with statements prepared on first use, binary parameters and
// results, a connection pool that reconnects with backoff, numbered
// migrations per schema, and a LISTEN/NOTIFY listener with a polling
// fallback. Only store classes include this.
//
//   pg::Pool pool(dsn, "vla_vmdb", 4);
//   static constexpr pg::Statement kGet{
//       "vmdb_get", "SELECT data FROM resources WHERE collection = $1"};
//   absl::Status s = pool.Run([&](pg::Connection& c) -> absl::Status {
//     VLA_ASSIGN_OR_RETURN(pg::Result r, c.Run(kGet, pg::Params().Text("x")));
//     ...
//   });
#ifndef VLA_SERVICES_COMMON_PG_UTIL_H_
#define VLA_SERVICES_COMMON_PG_UTIL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace vla::pg {

// True when `database` names a PostgreSQL database (postgresql:// or
// postgres:// URI) rather than a SQLite folder.
bool IsPostgresUri(absl::string_view database);

// `dsn` without its password, for logs.
std::string RedactDsn(absl::string_view dsn);

// A statement prepared on each connection on first use. `name` must be
// unique in the process.
struct Statement {
  const char* name;
  const char* sql;
};

// The parameters of one statement. Integers and text go in text format (the
// server parses them for the parameter's type); bytes and arrays in binary,
// so nothing is escaped. Arrays need a cast in the SQL ($1::text[]).
class Params {
 public:
  Params& Text(absl::string_view v);
  Params& Int(int64_t v);
  Params& Bytes(absl::string_view v);
  Params& Null();
  Params& TextArray(const std::vector<absl::string_view>& v);
  Params& BytesArray(const std::vector<absl::string_view>& v);
  Params& IntArray(const std::vector<int32_t>& v);    // int4[]
  Params& Int64Array(const std::vector<int64_t>& v);  // int8[]
  Params& DoubleArray(const std::vector<double>& v);  // float8[]

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers into this object: valid while it lives and is not changed.
  std::vector<const char*> values() const;
  const std::vector<int>& lengths() const { return lengths_; }
  const std::vector<int>& formats() const { return formats_; }

 private:
  void Add(std::string value, bool binary);
  // One std::string per value (null values have is_null_ set).
  std::vector<std::string> values_;
  std::vector<bool> is_null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A statement's result, always in binary format: text and bytea columns are
// their bytes, integers are decoded by their type.
class Result {
 public:
  explicit Result(PGresult* r = nullptr) : r_(r) {}
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result& operator=(Result&& o) noexcept;
  ~Result();

  int rows() const;
  bool IsNull(int row, int col) const;
  absl::string_view Bytes(int row, int col) const;
  std::string String(int row, int col) const {
    return std::string(Bytes(row, col));
  }
  // int2, int4, int8 or bool columns.
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;  // float8
  // Rows a command changed (INSERT/UPDATE/DELETE).
  int64_t Affected() const;

 private:
  PGresult* r_;
};

// One connection. Not thread-safe: a pool leases it to one thread at a time.
class Connection {
 public:
  // Connects to `dsn` (a libpq URI or keyword string), with a connect
  // timeout unless the DSN sets one, and sets search_path to `schema`
  // (empty: left as is).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& dsn, const std::string& schema);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (one or more statements, no parameters).
  absl::Status Exec(absl::string_view sql);
  // Runs `st` (preparing it on first use on this connection).
  absl::StatusOr<Result> Run(const Statement& st, const Params& params = {});
  // Runs `sql` once, unprepared.
  absl::StatusOr<Result> Query(absl::string_view sql,
                               const Params& params = {});

  // BEGIN / COMMIT / ROLLBACK. Commit marks the connection as having sent a
  // COMMIT: if the connection is lost now, whether it committed is unknown
  // (see Pool::Run).
  absl::Status Begin() { return Exec("BEGIN"); }
  absl::Status Commit();
  void Rollback();

  // The connection is lost (or was never made).
  bool broken() const;
  bool commit_sent() const { return commit_sent_; }
  void ResetCommitSent() { commit_sent_ = false; }
  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  absl::StatusOr<Result> Check(PGresult* r, absl::string_view what);

  PGconn* conn_;
  std::set<std::string> prepared_;
  bool commit_sent_ = false;
};

// The status for a failed command or connection: connection loss, the
// server shutting down or starting, too many connections, serialization
// failures and deadlocks are UNAVAILABLE (retry); the rest INTERNAL.
absl::Status Error(PGconn* conn, const PGresult* result,
                   absl::string_view what);

// How a Pool retries work that lost its connection.
struct RetryPolicy {
  // The total time spent retrying before UNAVAILABLE is returned.
  absl::Duration deadline = absl::Seconds(5);
  absl::Duration initial_backoff = absl::Milliseconds(20);
  absl::Duration max_backoff = absl::Seconds(1);
};

// A fixed number of connections to one database and schema, leased to one
// thread at a time. A lost connection is replaced on the next lease.
class Pool {
 public:
  Pool(std::string dsn, std::string schema, int size, RetryPolicy retry = {});
  ~Pool();

  // Runs `fn` on a leased connection. If the connection is lost while `fn`
  // runs (and no COMMIT was sent: its outcome would be unknown), `fn` runs
  // again on a new connection, with backoff, until retry.deadline; so `fn`
  // must start from scratch each time (its own transaction). The last
  // error is returned.
  absl::Status Run(const std::function<absl::Status(Connection&)>& fn);
  // Runs `fn` once, without retries: for reads on threads that must not
  // wait long (gRPC's), whose callers retry UNAVAILABLE themselves.
  absl::Status RunOnce(const std::function<absl::Status(Connection&)>& fn);
  // SELECT 1 on a connection of the pool, without retries: OK while the
  // database answers.
  absl::Status Ping();

  const std::string& dsn() const { return dsn_; }
  const std::string& schema() const { return schema_; }

 private:
  absl::StatusOr<std::unique_ptr<Connection>> Acquire();
  void Release(std::unique_ptr<Connection> c);
  absl::Status Attempt(const std::function<absl::Status(Connection&)>& fn,
                       bool* retryable);

  const std::string dsn_;
  const std::string schema_;
  const RetryPolicy retry_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_ ABSL_GUARDED_BY(mu_);
  int available_ ABSL_GUARDED_BY(mu_);  // free_ plus slots not connected
};

// Applies migrations[version..] of `schema` in one transaction (creating
// the schema and its version table as needed), under an advisory lock so
// that replicas starting together migrate once. Each migration runs with
// search_path set to the schema. Refuses a schema newer than the code.
absl::Status Migrate(Connection& c, const std::string& schema,
                     const std::vector<std::string>& migrations);

// The secret under `key` in table `meta (key, value)` of the connection's
// schema, created from the system's CSPRNG by whichever process comes first.
absl::StatusOr<std::string> LoadOrCreateSecret(Connection& c,
                                               const std::string& key);

// Definitions followed from the VMDB, in table `definitions (name, data)`
// with the last revision under `meta` key 'vmdb_revision' (the schema of
// services/common/sqlite_util.h). Several replicas store the same feed:
// a batch that does not move the stored revision forward is skipped, so a
// slow replica never writes older definitions over newer ones.
absl::Status StoreDefinitions(
    Connection& c, const std::vector<std::pair<std::string, std::string>>& rows,
    int64_t revision);
absl::StatusOr<int64_t> LoadDefinitions(
    Connection& c,
    const std::function<void(absl::string_view name, absl::string_view data)>&
        fn);

// Calls `on_wake` from its own thread on every NOTIFY on `channel`, every
// `poll_interval` without one (a fallback for notifications that never
// come, e.g. through a transaction-pooling proxy), and after each
// reconnection (notifications may have been missed). Reconnects with
// backoff while the database is unreachable.
class Listener {
 public:
  Listener(std::string dsn, std::string channel, absl::Duration poll_interval,
           std::function<void()> on_wake);
  // Stops the thread (waits for a running on_wake).
  ~Listener();

 private:
  void Loop();
  // Waits until the connection's socket is readable, the timeout passes or
  // Stop; false on Stop.
  bool Wait(int fd, absl::Duration timeout);

  const std::string dsn_;
  const std::string channel_;
  const absl::Duration poll_interval_;
  const std::function<void()> on_wake_;
  int wake_fd_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace vla::pg

#endif  // VLA_SERVICES_COMMON_PG_UTIL_H_
