// OkrStore conformance: every test runs on SQLite and on PostgreSQL; two
// replicas on one PostgreSQL database at the end.
#include "services/okr/okr_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/pg_test_util.h"
#include "tests/test_server.h"
#include "tests/test_util.h"

namespace vla::okr {
namespace {

using testing::Db;
using testing::PgDatabase;
using testing::TempDir;

v1::CheckIn CheckIn(const std::string& objective, double value) {
  v1::CheckIn c;
  c.set_objective(objective);
  c.set_key_result_id("kr");
  c.set_value(value);
  return c;
}

class OkrStoreTest : public ::testing::TestWithParam<Db> {
 protected:
  OkrStoreTest() {
    if (GetParam() == Db::kPostgres) pg_ = std::make_unique<PgDatabase>();
  }
  std::unique_ptr<OkrStore> Open() {
    auto s = GetParam() == Db::kSqlite ? OpenSqliteOkrStore(dir_.File("okr.db"))
                                       : OpenPostgresOkrStore(pg_->uri());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  TempDir dir_;
  std::unique_ptr<PgDatabase> pg_;
};

INSTANTIATE_TEST_SUITE_P(Engines, OkrStoreTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(OkrStoreTest, CheckInsAreNumberedInOrder) {
  {
    auto s = Open();
    ASSERT_TRUE(s->AddCheckIn(CheckIn("objectives/a", 1)).ok());
    ASSERT_TRUE(s->AddCheckIn(CheckIn("objectives/b", 2)).ok());
  }
  auto s = Open();  // kept across a reopen
  ASSERT_TRUE(s->AddCheckIn(CheckIn("objectives/a", 3)).ok());
  std::vector<std::pair<int64_t, double>> read;
  auto last = s->ReadCheckIns(0, [&](int64_t n, const v1::CheckIn& c) {
    read.emplace_back(n, c.value());
  });
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 3);
  EXPECT_EQ(read,
            (std::vector<std::pair<int64_t, double>>{{1, 1}, {2, 2}, {3, 3}}));
  read.clear();
  EXPECT_EQ(*s->ReadCheckIns(2,
                             [&](int64_t n, const v1::CheckIn& c) {
                               read.emplace_back(n, c.value());
                             }),
            3);
  EXPECT_EQ(read.size(), 1u);
  EXPECT_EQ(*s->ReadCheckIns(3, [](int64_t, const v1::CheckIn&) {}), 3);
}

TEST_P(OkrStoreTest, DefinitionsMoveOnlyForward) {
  auto s = Open();
  ASSERT_TRUE(s->ApplyDefinitions({{"objectives/a", "A1"}}, 2).ok());
  ASSERT_TRUE(s->ApplyDefinitions({{"objectives/a", "A0"}}, 1).ok());
  std::vector<std::string> loaded;
  auto revision = s->LoadDefinitions(
      [&](absl::string_view data) { loaded.emplace_back(data); });
  EXPECT_EQ(*revision, 2);
  EXPECT_EQ(loaded, std::vector<std::string>{"A1"});
}

// Replicas add check-ins concurrently: numbers have no gaps, and each is
// told of the other's.
TEST(PostgresOkrStoreTest, ReplicasNumberCheckInsWithoutGaps) {
  PgDatabase pg;
  auto a = *OpenPostgresOkrStore(pg.uri());
  auto b = *OpenPostgresOkrStore(pg.uri());
  EXPECT_EQ(a->secret(), b->secret());
  std::atomic<int> told_b{0};
  b->OnCheckIns([&] { ++told_b; });
  constexpr int kEach = 15;
  auto add = [&](OkrStore* s) {
    for (int i = 0; i < kEach; ++i) {
      ASSERT_TRUE(s->AddCheckIn(CheckIn("objectives/a", i)).ok());
    }
  };
  std::thread ta(add, a.get()), tb(add, b.get());
  ta.join();
  tb.join();
  int64_t expected = 0;
  EXPECT_EQ(
      *b->ReadCheckIns(
          0, [&](int64_t n, const v1::CheckIn&) { EXPECT_EQ(n, ++expected); }),
      2 * kEach);
  EXPECT_TRUE(testing::Eventually([&] { return told_b > 0; }));
}

}  // namespace
}  // namespace vla::okr
