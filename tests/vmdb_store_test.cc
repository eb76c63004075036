// VmdbStore conformance: every test runs on SQLite and on PostgreSQL.
#include "services/vmdb/vmdb_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/pg_test_util.h"
#include "tests/test_server.h"
#include "tests/test_util.h"

namespace vla::vmdb {
namespace {

using testing::AbslIsCodeWith;
using testing::Db;
using testing::PgDatabase;
using testing::TempDir;

Mutation Put(const std::string& collection, const std::string& id,
             const std::string& data, std::vector<Reference> refs = {},
             v1::ChangeKind kind = v1::CHANGE_KIND_CREATED) {
  return Mutation{kind, collection, id, data, std::move(refs), ""};
}

class VmdbStoreTest : public ::testing::TestWithParam<Db> {
 protected:
  VmdbStoreTest() {
    if (GetParam() == Db::kPostgres) pg_ = std::make_unique<PgDatabase>();
  }

  // A store over this test's database (a new one each call: on PostgreSQL
  // that is what another process sharing the database sees).
  std::unique_ptr<VmdbStore> Open() {
    auto s = GetParam() == Db::kSqlite
                 ? OpenSqliteVmdbStore(dir_.File("vmdb.db"))
                 : OpenPostgresVmdbStore(pg_->uri());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<PgDatabase> pg_;
};

INSTANTIATE_TEST_SUITE_P(Engines, VmdbStoreTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(VmdbStoreTest, ApplyGetListAndChangeLog) {
  auto store = Open();
  VmdbStore& s = *store;
  EXPECT_EQ(*s.Apply(Put("teams", "b", "B1")), 1);
  EXPECT_EQ(*s.Apply(Put("teams", "a", "A1")), 2);
  EXPECT_EQ(*s.Apply(Put("kvis", "k", "K1")), 3);
  EXPECT_EQ(*s.Apply(Put("teams", "a", "A2", {}, v1::CHANGE_KIND_UPDATED)), 4);
  EXPECT_EQ(s.HeadRevision(), 4);

  EXPECT_EQ(s.Get("teams/a")->value_or(""), "A2");
  EXPECT_FALSE(s.Get("teams/zzz")->has_value());

  auto teams = s.List("teams", "", 10);
  ASSERT_TRUE(teams.ok());
  ASSERT_EQ(teams->size(), 2u);
  EXPECT_EQ((*teams)[0].id, "a");
  EXPECT_EQ((*teams)[1].id, "b");
  auto after_a = s.List("teams", "a", 10);
  ASSERT_EQ(after_a->size(), 1u);
  EXPECT_EQ((*after_a)[0].data, "B1");

  auto changes = s.Changes(1, 2);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].revision, 2);
  EXPECT_EQ((*changes)[0].name, "teams/a");
  EXPECT_EQ((*changes)[0].kind, v1::CHANGE_KIND_CREATED);
  EXPECT_EQ((*changes)[0].data, "A1");
  EXPECT_EQ((*changes)[1].name, "kvis/k");

  EXPECT_EQ(*s.History("teams/a"), (std::vector<std::string>{"A1", "A2"}));
}

TEST_P(VmdbStoreTest, ListIsBytewiseOrderedAndKeepsBinaryData) {
  auto s = Open();
  // A linguistic collation would sort "a-c" between "ab" and "ad".
  for (const char* id : {"ad", "a-c", "ab", "b"}) {
    ASSERT_TRUE(s->Apply(Put("teams", id, std::string("\0\xff\n", 3))).ok());
  }
  auto all = s->List("teams", "", 10);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> ids;
  for (const StoredResource& r : *all) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a-c", "ab", "ad", "b"}));
  EXPECT_EQ((*all)[0].data, std::string("\0\xff\n", 3));
  EXPECT_EQ(s->List("teams", "a-c", 1)->at(0).id, "ab");
}

TEST_P(VmdbStoreTest, ReferencesFollowTheLatestVersion) {
  auto s = Open();
  ASSERT_TRUE(s->Apply(Put("kvis", "k", "K")).ok());
  ASSERT_TRUE(
      s->Apply(Put("vlas", "v", "V1", {{"vla.clauses[0].kvi", "kvis/k"}}))
          .ok());
  auto users = s->Referrers("kvis/k", 10);
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].name, "vlas/v");
  EXPECT_EQ((*users)[0].field, "vla.clauses[0].kvi");
  ASSERT_TRUE(
      s->Apply(Put("vlas", "v", "V2", {}, v1::CHANGE_KIND_UPDATED)).ok());
  EXPECT_TRUE(s->Referrers("kvis/k", 10)->empty());
  ASSERT_TRUE(s->Apply(Put("vlas", "v", "V3", {{"f", "kvis/k"}},
                           v1::CHANGE_KIND_UPDATED))
                  .ok());
  ASSERT_TRUE(
      s->Apply(Put("vlas", "v", "V3", {}, v1::CHANGE_KIND_DELETED)).ok());
  EXPECT_TRUE(s->Referrers("kvis/k", 10)->empty());
  EXPECT_FALSE(s->Get("vlas/v")->has_value());
  // History keeps every version, also after deletion.
  EXPECT_EQ(s->History("vlas/v")->size(), 3u);
}

TEST_P(VmdbStoreTest, RequestIdsAreRemembered) {
  auto s = Open();
  Mutation m = Put("teams", "a", "A");
  m.request_key = "teams\nreq-1";
  ASSERT_TRUE(s->Apply(m).ok());
  EXPECT_EQ(s->FindRequest("teams\nreq-1")->value_or(""), "A");
  EXPECT_FALSE(s->FindRequest("teams\nreq-2")->has_value());
}

TEST_P(VmdbStoreTest, FailedWriteAppliesNothing) {
  auto s = Open();
  Mutation m = Put("teams", "a", "A");
  m.request_key = "teams\nreq-1";
  ASSERT_TRUE(s->Apply(m).ok());
  // Same request key again: the insert into requests fails, so the resource
  // row and the change of this mutation must not stay either.
  Mutation again = Put("teams", "b", "B");
  again.request_key = "teams\nreq-1";
  EXPECT_FALSE(s->Apply(again).ok());
  EXPECT_FALSE(s->Get("teams/b")->has_value());
  EXPECT_EQ(s->Changes(0, 10)->size(), 1u);
  // And the next revision continues without a gap.
  EXPECT_EQ(*s->Apply(Put("teams", "c", "C")), 2);
}

TEST_P(VmdbStoreTest, WriteReadsInsideAndCommitsWhatItReturns) {
  auto s = Open();
  std::vector<int64_t> told;
  std::mutex mu;
  s->OnCommitted([&](int64_t r) {
    std::lock_guard<std::mutex> lock(mu);
    told.push_back(r);
  });
  ASSERT_TRUE(s->Apply(Put("teams", "a", "A")).ok());
  // An error from the body commits nothing.
  auto refused =
      s->Write([](VmdbReader& tx) -> absl::StatusOr<std::optional<Mutation>> {
        EXPECT_EQ(tx.Get("teams/a")->value_or(""), "A");
        return absl::AlreadyExistsError("teams/a already exists");
      });
  EXPECT_THAT(refused.status(),
              AbslIsCodeWith(absl::StatusCode::kAlreadyExists, "teams/a"));
  // No mutation: nothing committed, revision 0.
  auto none =
      s->Write([](VmdbReader&) -> absl::StatusOr<std::optional<Mutation>> {
        return std::nullopt;
      });
  EXPECT_EQ(*none, 0);
  auto written =
      s->Write([](VmdbReader& tx) -> absl::StatusOr<std::optional<Mutation>> {
        EXPECT_FALSE(tx.Get("teams/b")->has_value());
        return Put("teams", "b", "B", {{"team.parent", "teams/a"}});
      });
  EXPECT_EQ(*written, 2);
  EXPECT_EQ(s->HeadRevision(), 2);
  EXPECT_TRUE(testing::Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !told.empty() && told.back() == 2;
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(std::is_sorted(told.begin(), told.end()));
}

TEST_P(VmdbStoreTest, ReopenKeepsEverything) {
  std::string secret;
  {
    auto s = Open();
    ASSERT_TRUE(s->Apply(Put("teams", "a", "A")).ok());
    secret = s->secret();
    EXPECT_EQ(secret.size(), 32u);
  }
  auto s = Open();
  EXPECT_EQ(s->Get("teams/a")->value_or(""), "A");
  EXPECT_EQ(s->secret(), secret);
  EXPECT_EQ(s->HeadRevision(), 1);
  EXPECT_EQ(*s->Apply(Put("teams", "b", "B")), 2);
}

TEST_P(VmdbStoreTest, RefusesNewerSchema) {
  if (GetParam() == Db::kSqlite) {
    SQLite::Database db(dir_.File("vmdb.db"),
                        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 99");
  } else {
    pg_->Exec(
        "CREATE SCHEMA vla_vmdb; CREATE TABLE vla_vmdb.schema_version "
        "(version integer NOT NULL); INSERT INTO vla_vmdb.schema_version "
        "VALUES (99)");
  }
  auto s = GetParam() == Db::kSqlite ? OpenSqliteVmdbStore(dir_.File("vmdb.db"))
                                     : OpenPostgresVmdbStore(pg_->uri());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SqliteVmdbStoreTest, RecordsSchemaVersionInWalMode) {
  TempDir dir;
  ASSERT_TRUE(OpenSqliteVmdbStore(dir.File("vmdb.db")).ok());
  SQLite::Database db(dir.File("vmdb.db"), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 1);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

// Two stores on one PostgreSQL database are two processes of one
// deployment (replicas): their writes are serialized, revisions have no
// gaps, and each is told the other's commits.
TEST(PostgresVmdbStoreTest, ReplicasShareOneGaplessChangeLog) {
  PgDatabase pg;
  auto a = *OpenPostgresVmdbStore(pg.uri());
  auto b = *OpenPostgresVmdbStore(pg.uri());
  EXPECT_EQ(a->secret(), b->secret());
  std::atomic<int64_t> told_b{0};
  b->OnCommitted([&](int64_t r) { told_b = r; });

  // Both create the same ids, checking first: each id is created once.
  constexpr int kIds = 20;
  std::atomic<int> created{0};
  auto writer = [&](VmdbStore* s) {
    for (int i = 0; i < kIds; ++i) {
      const std::string id = absl::StrCat("t", i);
      auto r = s->Write(
          [&](VmdbReader& tx) -> absl::StatusOr<std::optional<Mutation>> {
            auto existing = tx.Get("teams/" + id);
            if (!existing.ok()) return existing.status();
            if (existing->has_value()) {
              return absl::AlreadyExistsError(id);
            }
            return Put("teams", id, "T");
          });
      if (r.ok()) ++created;
    }
  };
  std::thread ta(writer, a.get()), tb(writer, b.get());
  ta.join();
  tb.join();
  EXPECT_EQ(created, kIds);
  auto changes = a->Changes(0, 1000);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), static_cast<size_t>(kIds));
  for (int i = 0; i < kIds; ++i) EXPECT_EQ((*changes)[i].revision, i + 1);
  EXPECT_EQ(b->HeadRevision(), kIds);
  // b was told of a's commits too (NOTIFY, or the poll).
  EXPECT_TRUE(testing::Eventually([&] { return told_b == kIds; }));
}

}  // namespace
}  // namespace vla::vmdb
