#include "services/vmdb/vmdb_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace vla::vmdb {
namespace {

using testing::TempDir;

Mutation Put(const std::string& collection, const std::string& id,
             const std::string& data, std::vector<Reference> refs = {},
             v1::ChangeKind kind = v1::CHANGE_KIND_CREATED) {
  return Mutation{kind, collection, id, data, std::move(refs), ""};
}

TEST(VmdbStoreTest, ApplyGetListAndChangeLog) {
  TempDir dir;
  auto store = OpenSqliteVmdbStore(dir.File("vmdb.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  VmdbStore& s = **store;
  EXPECT_EQ(*s.Apply(Put("teams", "b", "B1")), 1);
  EXPECT_EQ(*s.Apply(Put("teams", "a", "A1")), 2);
  EXPECT_EQ(*s.Apply(Put("kvis", "k", "K1")), 3);
  EXPECT_EQ(*s.Apply(Put("teams", "a", "A2", {}, v1::CHANGE_KIND_UPDATED)), 4);

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
  EXPECT_EQ((*changes)[1].name, "kvis/k");

  EXPECT_EQ(*s.History("teams/a"), (std::vector<std::string>{"A1", "A2"}));
}

TEST(VmdbStoreTest, ReferencesFollowTheLatestVersion) {
  TempDir dir;
  auto s = *OpenSqliteVmdbStore(dir.File("vmdb.db"));
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

TEST(VmdbStoreTest, RequestIdsAreRemembered) {
  TempDir dir;
  auto s = *OpenSqliteVmdbStore(dir.File("vmdb.db"));
  Mutation m = Put("teams", "a", "A");
  m.request_key = "teams\nreq-1";
  ASSERT_TRUE(s->Apply(m).ok());
  EXPECT_EQ(s->FindRequest("teams\nreq-1")->value_or(""), "A");
  EXPECT_FALSE(s->FindRequest("teams\nreq-2")->has_value());
}

TEST(VmdbStoreTest, FailedWriteAppliesNothing) {
  TempDir dir;
  auto s = *OpenSqliteVmdbStore(dir.File("vmdb.db"));
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

TEST(VmdbStoreTest, ReopenKeepsEverythingAndRecordsSchemaVersion) {
  TempDir dir;
  std::string secret;
  {
    auto s = *OpenSqliteVmdbStore(dir.File("vmdb.db"));
    ASSERT_TRUE(s->Apply(Put("teams", "a", "A")).ok());
    secret = s->secret();
    EXPECT_EQ(secret.size(), 32u);
  }
  auto s = *OpenSqliteVmdbStore(dir.File("vmdb.db"));
  EXPECT_EQ(s->Get("teams/a")->value_or(""), "A");
  EXPECT_EQ(s->secret(), secret);
  EXPECT_EQ(*s->Apply(Put("teams", "b", "B")), 2);

  SQLite::Database db(dir.File("vmdb.db"), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 1);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(VmdbStoreTest, RefusesNewerSchema) {
  TempDir dir;
  {
    SQLite::Database db(dir.File("vmdb.db"),
                        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 99");
  }
  auto s = OpenSqliteVmdbStore(dir.File("vmdb.db"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vla::vmdb
