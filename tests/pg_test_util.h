// The throwaway PostgreSQL server of the tests (tests/pg_cluster.sh, from
// Debian's postgresql-15) and fresh databases on it, so that every test that
// runs on PostgreSQL runs on a real server; never skipped.
//
//   PgDatabase db;                   // a new database on the shared cluster
//   options.database = db.uri();     // postgresql://...
//
// Parameterised tests run on both engines:
//
//   class StoreTest : public ::testing::TestWithParam<Db> {};
//   INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, AllDbs(), DbName);
#ifndef VLA_TESTS_PG_TEST_UTIL_H_
#define VLA_TESTS_PG_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

namespace vla::testing {

// The storage engines of the conformance suite.
enum class Db { kSqlite, kPostgres };
inline auto AllDbs() { return ::testing::Values(Db::kSqlite, Db::kPostgres); }
std::string DbName(const ::testing::TestParamInfo<Db>& info);
void PrintTo(Db db, std::ostream* os);

class PgCluster {
 public:
  // The cluster of this test run: the one CTest's fixture `pg` started (in
  // $TEST_TMPDIR/pg), else one started now for this process and stopped when
  // it exits (about 2 s).
  static PgCluster& Shared();
  // A cluster of its own in a temporary folder, for tests that stop and
  // restart the server; stopped and removed on destruction.
  static std::unique_ptr<PgCluster> StartPrivate();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // The URI of `database` on this cluster.
  std::string Uri(const std::string& database) const;
  // Runs `sql` on `database`; fails the test on error. Returns the first
  // column of the first row ("" if none).
  std::string Admin(const std::string& sql,
                    const std::string& database = "postgres") const;
  // Stops the server (fast shutdown: sessions are cut), keeping its data;
  // Resume starts it again on the same port. Private clusters only.
  void Pause();
  void Resume();

 private:
  PgCluster(std::string dir, bool owned);
  std::string dir_;
  std::string base_uri_;  // without the database
  bool owned_;
};

// A new, empty database, dropped (with its sessions) on destruction.
class PgDatabase {
 public:
  explicit PgDatabase(PgCluster& cluster = PgCluster::Shared());
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  const std::string& uri() const { return uri_; }
  const std::string& name() const { return name_; }
  // Runs `sql` on this database; fails the test on error.
  void Exec(const std::string& sql) const { cluster_.Admin(sql, name_); }
  // The first column of the first row `sql` selects ("" if none).
  std::string Query(const std::string& sql) const {
    return cluster_.Admin(sql, name_);
  }
  // The integer `sql` selects (-1 if none).
  int64_t QueryInt(const std::string& sql) const;

 private:
  PgCluster& cluster_;
  std::string name_;
  std::string uri_;
};

}  // namespace vla::testing

#endif  // VLA_TESTS_PG_TEST_UTIL_H_
