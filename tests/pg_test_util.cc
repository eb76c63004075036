#include "tests/pg_test_util.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vla::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(s.str()));
}

// Runs tests/pg_cluster.sh; aborts the test binary if it fails (a test that
// needs PostgreSQL must not pass without it).
void Script(const std::string& command, const std::string& dir) {
  const std::string line =
      absl::StrCat(VLA_PG_CLUSTER_SCRIPT, " ", command, " '", dir, "'");
  if (std::system(line.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << line;
    std::fprintf(stderr, "pg_test_util: failed: %s\n", line.c_str());
    std::abort();
  }
}

std::string NewClusterDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string tmpl =
      absl::StrCat(base != nullptr ? base : "/tmp", "/vla-pg-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

}  // namespace

std::string DbName(const ::testing::TestParamInfo<Db>& info) {
  return info.param == Db::kSqlite ? "Sqlite" : "Postgres";
}

void PrintTo(Db db, std::ostream* os) {
  *os << (db == Db::kSqlite ? "SQLite" : "PostgreSQL");
}

PgCluster::PgCluster(std::string dir, bool owned)
    : dir_(std::move(dir)), owned_(owned) {
  const std::string uri = ReadFile(dir_ + "/uri");
  base_uri_ = uri.substr(0, uri.rfind('/'));
}

PgCluster& PgCluster::Shared() {
  static PgCluster* const shared = [] {
    // The fixture's cluster, if it is up.
    if (const char* base = std::getenv("TEST_TMPDIR"); base != nullptr) {
      const std::string dir = absl::StrCat(base, "/pg");
      const std::string uri = ReadFile(dir + "/uri");
      if (!uri.empty() && PQping(uri.c_str()) == PQPING_OK) {
        return new PgCluster(dir, /*owned=*/false);
      }
    }
    // Else one of this process, stopped at exit by a static owner.
    static std::unique_ptr<PgCluster> own = StartPrivate();
    return own.get();
  }();
  return *shared;
}

std::unique_ptr<PgCluster> PgCluster::StartPrivate() {
  const std::string dir = NewClusterDir();
  Script("start", dir);
  return std::unique_ptr<PgCluster>(new PgCluster(dir, /*owned=*/true));
}

PgCluster::~PgCluster() {
  if (owned_) Script("stop", dir_);
}

std::string PgCluster::Uri(const std::string& database) const {
  return absl::StrCat(base_uri_, "/", database);
}

std::string PgCluster::Admin(const std::string& sql,
                             const std::string& database) const {
  PGconn* conn = PQconnectdb(Uri(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to the test cluster: "
                  << PQerrorMessage(conn);
    PQfinish(conn);
    return "";
  }
  PGresult* r = PQexec(conn, sql.c_str());
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    if (PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  } else if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
  }
  PQclear(r);
  PQfinish(conn);
  return out;
}

void PgCluster::Pause() {
  if (!owned_) std::abort();  // the shared cluster serves other tests
  Script("pause", dir_);
}

void PgCluster::Resume() {
  if (!owned_) std::abort();
  Script("resume", dir_);
}

PgDatabase::PgDatabase(PgCluster& cluster) : cluster_(cluster) {
  static std::atomic<int> counter{0};
  name_ = absl::StrCat("t_", getpid(), "_", counter++);
  // FILE_COPY: quicker than WAL_LOG for a small template.
  cluster_.Admin(absl::StrCat("CREATE DATABASE ", name_,
                              " TEMPLATE template0 STRATEGY FILE_COPY"));
  uri_ = cluster_.Uri(name_);
}

int64_t PgDatabase::QueryInt(const std::string& sql) const {
  int64_t v = -1;
  if (!absl::SimpleAtoi(cluster_.Admin(sql, name_), &v)) v = -1;
  return v;
}

PgDatabase::~PgDatabase() {
  cluster_.Admin(
      absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
}

}  // namespace vla::testing
