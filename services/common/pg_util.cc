#include "services/common/pg_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "services/common/page_token.h"

namespace vla::pg {
namespace {

// Type OIDs (catalog/pg_type.h, which libpq-dev does not ship).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;

void PutInt32(std::string* out, uint32_t v) {
  const uint32_t be = htonl(v);
  out->append(reinterpret_cast<const char*>(&be), 4);
}

// PostgreSQL's binary array format, one dimension.
std::string BinaryArray(Oid element, int n,
                        const std::function<absl::string_view(int)>& item) {
  std::string out;
  PutInt32(&out, n == 0 ? 0 : 1);  // dimensions
  PutInt32(&out, 0);               // no nulls
  PutInt32(&out, element);
  if (n == 0) return out;
  PutInt32(&out, static_cast<uint32_t>(n));
  PutInt32(&out, 1);  // lower bound
  for (int i = 0; i < n; ++i) {
    const absl::string_view v = item(i);
    PutInt32(&out, static_cast<uint32_t>(v.size()));
    out.append(v.data(), v.size());
  }
  return out;
}

uint64_t ReadBigEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

bool IsPostgresUri(absl::string_view database) {
  return absl::StartsWith(database, "postgresql://") ||
         absl::StartsWith(database, "postgres://");
}

std::string RedactDsn(absl::string_view dsn) {
  // URI form: scheme://user:password@host...
  const size_t scheme = dsn.find("://");
  if (scheme != absl::string_view::npos) {
    const size_t at = dsn.find('@', scheme + 3);
    const size_t colon = dsn.find(':', scheme + 3);
    if (at != absl::string_view::npos && colon != absl::string_view::npos &&
        colon < at) {
      return absl::StrCat(dsn.substr(0, colon), ":***", dsn.substr(at));
    }
    const size_t password = dsn.find("password=");
    if (password != absl::string_view::npos) {
      return absl::StrCat(dsn.substr(0, password), "password=***");
    }
    return std::string(dsn);
  }
  return "(keyword DSN)";
}

// --- Params ------------------------------------------------------------------

void Params::Add(std::string value, bool binary) {
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(binary ? 1 : 0);
  values_.push_back(std::move(value));
  is_null_.push_back(false);
}

Params& Params::Text(absl::string_view v) {
  Add(std::string(v), false);
  return *this;
}

Params& Params::Int(int64_t v) {
  Add(absl::StrCat(v), false);
  return *this;
}

Params& Params::Bytes(absl::string_view v) {
  Add(std::string(v), true);
  return *this;
}

Params& Params::Null() {
  Add("", false);
  is_null_.back() = true;
  return *this;
}

Params& Params::TextArray(const std::vector<absl::string_view>& v) {
  Add(BinaryArray(kTextOid, static_cast<int>(v.size()),
                  [&](int i) { return v[i]; }),
      true);
  return *this;
}

Params& Params::BytesArray(const std::vector<absl::string_view>& v) {
  Add(BinaryArray(kByteaOid, static_cast<int>(v.size()),
                  [&](int i) { return v[i]; }),
      true);
  return *this;
}

// An array of fixed-size big-endian elements.
template <typename T>
static std::string FixedArray(Oid element, const std::vector<T>& v,
                              const std::function<uint64_t(T)>& bits) {
  std::vector<std::string> be(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    uint64_t b = bits(v[i]);
    be[i].resize(sizeof(T));
    for (int k = sizeof(T) - 1; k >= 0; --k, b >>= 8) {
      be[i][k] = static_cast<char>(b & 0xff);
    }
  }
  return BinaryArray(element, static_cast<int>(v.size()),
                     [&](int i) { return absl::string_view(be[i]); });
}

Params& Params::IntArray(const std::vector<int32_t>& v) {
  Add(FixedArray<int32_t>(kInt4Oid, v,
                          [](int32_t x) { return static_cast<uint32_t>(x); }),
      true);
  return *this;
}

Params& Params::Int64Array(const std::vector<int64_t>& v) {
  Add(FixedArray<int64_t>(kInt8Oid, v,
                          [](int64_t x) { return static_cast<uint64_t>(x); }),
      true);
  return *this;
}

Params& Params::DoubleArray(const std::vector<double>& v) {
  Add(FixedArray<double>(kFloat8Oid, v,
                         [](double x) {
                           uint64_t b;
                           std::memcpy(&b, &x, sizeof(b));
                           return b;
                         }),
      true);
  return *this;
}

std::vector<const char*> Params::values() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    out[i] = is_null_[i] ? nullptr : values_[i].data();
  }
  return out;
}

// --- Result ------------------------------------------------------------------

Result& Result::operator=(Result&& o) noexcept {
  if (this != &o) {
    if (r_ != nullptr) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

Result::~Result() {
  if (r_ != nullptr) PQclear(r_);
}

int Result::rows() const { return r_ == nullptr ? 0 : PQntuples(r_); }

bool Result::IsNull(int row, int col) const {
  return PQgetisnull(r_, row, col) != 0;
}

absl::string_view Result::Bytes(int row, int col) const {
  return absl::string_view(PQgetvalue(r_, row, col),
                           static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t Result::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* p = PQgetvalue(r_, row, col);
  switch (PQftype(r_, col)) {
    case kInt8Oid:
      return static_cast<int64_t>(ReadBigEndian(p, 8));
    case kInt4Oid:
      return static_cast<int32_t>(ReadBigEndian(p, 4));
    case kInt2Oid:
      return static_cast<int16_t>(ReadBigEndian(p, 2));
    case kBoolOid:
      return p[0] != 0;
    default:
      return 0;
  }
}

double Result::Double(int row, int col) const {
  if (IsNull(row, col) || PQftype(r_, col) != kFloat8Oid) return 0;
  const uint64_t bits = ReadBigEndian(PQgetvalue(r_, row, col), 8);
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

int64_t Result::Affected() const {
  int64_t n = 0;
  if (r_ != nullptr && !absl::SimpleAtoi(PQcmdTuples(r_), &n)) n = 0;
  return n;
}

// --- Errors ------------------------------------------------------------------

absl::Status Error(PGconn* conn, const PGresult* result,
                   absl::string_view what) {
  const char* sqlstate = result == nullptr
                             ? nullptr
                             : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = result == nullptr ? "" : PQresultErrorMessage(result);
  if (message.empty() && conn != nullptr) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  const std::string text = absl::StrCat("database error ", what, ": ", message);
  const absl::string_view state = sqlstate == nullptr ? "" : sqlstate;
  const bool lost = conn == nullptr || PQstatus(conn) != CONNECTION_OK;
  if (lost || absl::StartsWith(state, "08") || absl::StartsWith(state, "53") ||
      absl::StartsWith(state, "57P") || state == "40001" || state == "40P01" ||
      state == "25006" /* read-only: a failover */) {
    return absl::UnavailableError(text);
  }
  return absl::InternalError(text);
}

// --- Connection --------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& dsn, const std::string& schema) {
  // Later keywords override earlier ones: the DSN's own settings win.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"3", dsn.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  auto c = std::unique_ptr<Connection>(new Connection(conn));
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", RedactDsn(dsn), ": ",
                     conn == nullptr ? "out of memory" : PQerrorMessage(conn)));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  if (!schema.empty()) {
    VLA_RETURN_IF_ERROR(c->Exec(
        absl::StrCat("SET search_path TO \"", schema, "\", pg_catalog")));
  }
  return c;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::broken() const {
  return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK;
}

absl::StatusOr<Result> Connection::Check(PGresult* r, absl::string_view what) {
  Result result(r);
  const ExecStatusType status =
      r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return Error(conn_, r, what);
}

absl::Status Connection::Exec(absl::string_view sql) {
  const std::string text(sql);
  return Check(PQexec(conn_, text.c_str()), text.substr(0, 60)).status();
}

absl::StatusOr<Result> Connection::Run(const Statement& st,
                                       const Params& params) {
  if (!prepared_.count(st.name)) {
    VLA_RETURN_IF_ERROR(
        Check(PQprepare(conn_, st.name, st.sql, params.size(), nullptr),
              absl::StrCat("preparing ", st.name))
            .status());
    prepared_.insert(st.name);
  }
  const std::vector<const char*> values = params.values();
  return Check(PQexecPrepared(conn_, st.name, params.size(), values.data(),
                              params.lengths().data(), params.formats().data(),
                              /*resultFormat=*/1),
               st.name);
}

absl::StatusOr<Result> Connection::Query(absl::string_view sql,
                                         const Params& params) {
  const std::string text(sql);
  const std::vector<const char*> values = params.values();
  return Check(PQexecParams(conn_, text.c_str(), params.size(), nullptr,
                            values.data(), params.lengths().data(),
                            params.formats().data(), /*resultFormat=*/1),
               text.substr(0, 60));
}

absl::Status Connection::Commit() {
  commit_sent_ = true;
  return Exec("COMMIT");
}

void Connection::Rollback() {
  if (!broken() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    PQclear(PQexec(conn_, "ROLLBACK"));
  }
}

// --- Pool --------------------------------------------------------------------

Pool::Pool(std::string dsn, std::string schema, int size, RetryPolicy retry)
    : dsn_(std::move(dsn)),
      schema_(std::move(schema)),
      retry_(retry),
      available_(size) {}

Pool::~Pool() = default;

absl::StatusOr<std::unique_ptr<Connection>> Pool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return available_ > 0; });
    --available_;
    if (!free_.empty()) {
      std::unique_ptr<Connection> c = std::move(free_.back());
      free_.pop_back();
      return c;
    }
  }
  auto c = Connection::Open(dsn_, schema_);
  if (!c.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++available_;
    }
    cv_.notify_one();
  }
  return c;
}

void Pool::Release(std::unique_ptr<Connection> c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c != nullptr && !c->broken()) free_.push_back(std::move(c));
    ++available_;
  }
  cv_.notify_one();
}

absl::Status Pool::Attempt(const std::function<absl::Status(Connection&)>& fn,
                           bool* retryable) {
  auto c = Acquire();
  if (!c.ok()) {
    *retryable = true;
    return c.status();
  }
  Connection& conn = **c;
  conn.ResetCommitSent();
  absl::Status s = fn(conn);
  conn.Rollback();  // a transaction fn left open (after an error)
  if (!s.ok()) {
    *retryable =
        absl::IsUnavailable(s) && !(conn.broken() && conn.commit_sent());
  }
  Release(*std::move(c));
  return s;
}

absl::Status Pool::Run(const std::function<absl::Status(Connection&)>& fn) {
  const absl::Time deadline = absl::Now() + retry_.deadline;
  absl::Duration backoff = retry_.initial_backoff;
  while (true) {
    bool retryable = false;
    absl::Status s = Attempt(fn, &retryable);
    if (s.ok() || !retryable || absl::Now() + backoff > deadline) return s;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, retry_.max_backoff);
  }
}

absl::Status Pool::RunOnce(const std::function<absl::Status(Connection&)>& fn) {
  bool retryable = false;
  return Attempt(fn, &retryable);
}

absl::Status Pool::Ping() {
  return RunOnce([](Connection& c) { return c.Exec("SELECT 1"); });
}

// --- Migrations, secrets, definitions ----------------------------------------

absl::Status Migrate(Connection& c, const std::string& schema,
                     const std::vector<std::string>& migrations) {
  VLA_RETURN_IF_ERROR(c.Begin());
  VLA_RETURN_IF_ERROR(
      c.Query("SELECT pg_advisory_xact_lock(hashtext($1))",
              Params().Text(absl::StrCat("vla.migrate.", schema)))
          .status());
  const std::string quoted = absl::StrCat("\"", schema, "\"");
  VLA_RETURN_IF_ERROR(c.Exec(absl::StrCat(
      "CREATE SCHEMA IF NOT EXISTS ", quoted, "; CREATE TABLE IF NOT EXISTS ",
      quoted, ".schema_version (version integer NOT NULL)")));
  VLA_ASSIGN_OR_RETURN(
      Result r,
      c.Query(absl::StrCat("SELECT version FROM ", quoted, ".schema_version")));
  const int64_t version = r.rows() == 0 ? 0 : r.Int(0, 0);
  if (version > static_cast<int64_t>(migrations.size())) {
    c.Rollback();
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema ", schema, " has version ", version,
        ", newer than this binary knows (", migrations.size(), ")"));
  }
  if (version == static_cast<int64_t>(migrations.size())) {
    return c.Commit();
  }
  VLA_RETURN_IF_ERROR(c.Exec(
      absl::StrCat("SET LOCAL search_path TO ", quoted, ", pg_catalog")));
  for (size_t v = version; v < migrations.size(); ++v) {
    VLA_RETURN_IF_ERROR(c.Exec(migrations[v]));
  }
  VLA_RETURN_IF_ERROR(c.Exec(absl::StrCat(
      "DELETE FROM ", quoted, ".schema_version; INSERT INTO ", quoted,
      ".schema_version (version) VALUES (", migrations.size(), ")")));
  return c.Commit();
}

absl::StatusOr<std::string> LoadOrCreateSecret(Connection& c,
                                               const std::string& key) {
  VLA_RETURN_IF_ERROR(c.Query("INSERT INTO meta (key, value) VALUES ($1, $2) "
                              "ON CONFLICT (key) DO NOTHING",
                              Params().Text(key).Bytes(NewRandomSecret()))
                          .status());
  VLA_ASSIGN_OR_RETURN(
      Result r,
      c.Query("SELECT value FROM meta WHERE key = $1", Params().Text(key)));
  if (r.rows() != 1) return absl::InternalError("secret not stored");
  return r.String(0, 0);
}

namespace {

constexpr Statement kLockRevision{
    "vla_definitions_lock_revision",
    "SELECT value FROM meta WHERE key = 'vmdb_revision' FOR UPDATE"};
constexpr Statement kUpsertDefinition{
    "vla_definitions_upsert",
    "INSERT INTO definitions (name, data) VALUES ($1, $2) "
    "ON CONFLICT (name) DO UPDATE SET data = excluded.data"};
constexpr Statement kDeleteDefinition{
    "vla_definitions_delete", "DELETE FROM definitions WHERE name = $1"};
constexpr Statement kSetRevision{
    "vla_definitions_set_revision",
    "INSERT INTO meta (key, value) VALUES ('vmdb_revision', $1) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"};
constexpr Statement kLoadDefinitions{"vla_definitions_load",
                                     "SELECT name, data FROM definitions"};
constexpr Statement kLoadRevision{
    "vla_definitions_load_revision",
    "SELECT value FROM meta WHERE key = 'vmdb_revision'"};

int64_t ParseRevision(const Result& r) {
  int64_t v = 0;
  if (r.rows() == 0 || !absl::SimpleAtoi(r.Bytes(0, 0), &v)) return 0;
  return v;
}

}  // namespace

absl::Status StoreDefinitions(
    Connection& c, const std::vector<std::pair<std::string, std::string>>& rows,
    int64_t revision) {
  VLA_RETURN_IF_ERROR(c.Begin());
  VLA_ASSIGN_OR_RETURN(Result stored, c.Run(kLockRevision));
  if (ParseRevision(stored) >= revision) return c.Commit();
  for (const auto& [name, data] : rows) {
    if (data.empty()) {
      VLA_RETURN_IF_ERROR(
          c.Run(kDeleteDefinition, Params().Text(name)).status());
    } else {
      VLA_RETURN_IF_ERROR(
          c.Run(kUpsertDefinition, Params().Text(name).Bytes(data)).status());
    }
  }
  VLA_RETURN_IF_ERROR(
      c.Run(kSetRevision, Params().Bytes(absl::StrCat(revision))).status());
  return c.Commit();
}

absl::StatusOr<int64_t> LoadDefinitions(
    Connection& c,
    const std::function<void(absl::string_view, absl::string_view)>& fn) {
  // One snapshot for the rows and the revision.
  VLA_RETURN_IF_ERROR(c.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ"));
  VLA_ASSIGN_OR_RETURN(Result rows, c.Run(kLoadDefinitions));
  VLA_ASSIGN_OR_RETURN(Result rev, c.Run(kLoadRevision));
  VLA_RETURN_IF_ERROR(c.Commit());
  for (int i = 0; i < rows.rows(); ++i) fn(rows.Bytes(i, 0), rows.Bytes(i, 1));
  return ParseRevision(rev);
}

// --- Listener ----------------------------------------------------------------

Listener::Listener(std::string dsn, std::string channel,
                   absl::Duration poll_interval, std::function<void()> on_wake)
    : dsn_(std::move(dsn)),
      channel_(std::move(channel)),
      poll_interval_(poll_interval),
      on_wake_(std::move(on_wake)) {
  if (pipe2(wake_fd_, O_CLOEXEC | O_NONBLOCK) != 0) {
    wake_fd_[0] = wake_fd_[1] = -1;
  }
  thread_ = std::thread([this] { Loop(); });
}

Listener::~Listener() {
  stopping_ = true;
  if (wake_fd_[1] >= 0) {
    const char b = 0;
    (void)!write(wake_fd_[1], &b, 1);
  }
  thread_.join();
  for (int fd : wake_fd_) {
    if (fd >= 0) close(fd);
  }
}

bool Listener::Wait(int fd, absl::Duration timeout) {
  pollfd fds[2] = {{wake_fd_[0], POLLIN, 0}, {fd, POLLIN, 0}};
  const int n = fd >= 0 ? 2 : 1;
  poll(fds, n, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  return !stopping_;
}

void Listener::Loop() {
  absl::Duration backoff = absl::Milliseconds(50);
  while (!stopping_) {
    auto conn = Connection::Open(dsn_, "");
    absl::Status s = conn.status();
    if (s.ok()) s = (*conn)->Exec(absl::StrCat("LISTEN \"", channel_, "\""));
    if (!s.ok()) {
      Log(LogLevel::kWarning, "database listener cannot connect; retrying",
          {{"channel", channel_},
           {"error", std::string(s.message())},
           {"backoff", absl::FormatDuration(backoff)}});
      if (!Wait(-1, backoff)) return;
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    backoff = absl::Milliseconds(50);
    PGconn* raw = (*conn)->raw();
    on_wake_();  // notifications may have been missed while disconnected
    while (!stopping_) {
      if (!Wait(PQsocket(raw), poll_interval_)) return;
      if (PQconsumeInput(raw) == 0 || PQstatus(raw) != CONNECTION_OK) break;
      while (PGnotify* n = PQnotifies(raw)) PQfreemem(n);
      on_wake_();
    }
  }
}

}  // namespace vla::pg
