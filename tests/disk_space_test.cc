// A full disk said plainly: SQLITE_FULL is RESOURCE_EXHAUSTED naming the
// data folder; the ingest reserve refuses records (and only records) below
// its free-space floor, reports it as the evaluator's storage health, and
// recovers by itself when space returns. The full file system itself is
// exercised end to end in durability_e2e_test.
#include "services/common/disk_space.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "services/common/sqlite_util.h"
#include "services/evaluator/evaluator.h"
#include "tests/fixtures.h"
#include "tests/test_util.h"

namespace vla {
namespace {

using testing::TempDir;

TEST(DiskSpaceTest, AFullDatabaseIsResourceExhaustedNamingItsFolder) {
  TempDir dir;
  auto db = OpenWriter(dir.File("full.db"));
  db->exec("CREATE TABLE t (v BLOB)");
  // A real SQLITE_FULL: the database may not grow past 20 pages.
  db->exec("PRAGMA max_page_count = 20");
  const int64_t before = StorageErrors(/*full=*/true);
  absl::Status status;
  try {
    for (int i = 0; i < 1000; ++i) {
      db->exec(absl::StrCat("INSERT INTO t VALUES (zeroblob(4000))"));
    }
  } catch (const SQLite::Exception& e) {
    status = SqliteError(e, "storing rows", db.get());
  }
  ASSERT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find(absl::StrCat("data folder ", dir.path())),
            std::string::npos)
      << status;
  EXPECT_NE(status.message().find(" free)"), std::string::npos) << status;
  EXPECT_EQ(StorageErrors(/*full=*/true), before + 1);
}

TEST(DiskSpaceTest, FreeBytesReadsTheFileSystem) {
  TempDir dir;
  absl::StatusOr<uint64_t> free = FreeBytes(dir.path());
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_GT(*free, 0u);
  EXPECT_FALSE(FreeBytes(dir.File("missing/deeper")).ok());
  EXPECT_EQ(FormatBytes(512), "512 bytes");
  EXPECT_EQ(FormatBytes(3 << 20), "3.0 MiB");
}

TEST(DiskSpaceTest, TheReserveRefusesBelowItsFloorAndRecovers) {
  std::atomic<uint64_t> free{100 << 20};
  DiskReserve reserve("/data", 64 << 20,
                      [&] { return absl::StatusOr<uint64_t>(free.load()); });
  EXPECT_TRUE(reserve.Check("ingest").ok());
  free = 10 << 20;
  const absl::Status low = reserve.Check("ingest");
  EXPECT_EQ(low.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(low.message(),
            "ingest: the data folder /data has 10.0 MiB free, below the "
            "reserve of 64.0 MiB (--min_free_bytes) kept for definitions and "
            "check-ins; free space there or grow the volume");
  EXPECT_TRUE(reserve.low());
  free = 64 << 20;
  EXPECT_TRUE(reserve.Check("ingest").ok());
  EXPECT_FALSE(reserve.low());
  DiskReserve none("/data", 0, [] { return absl::StatusOr<uint64_t>(0); });
  EXPECT_TRUE(none.Check("ingest").ok());
}

TEST(DiskSpaceTest, TheEvaluatorStopsIngestBelowTheReserveAndLosesNothing) {
  TempDir dir;
  std::atomic<uint64_t> free{1 << 30};
  evaluator::EvaluatorOptions options;
  options.run_loop = false;
  options.snapshot_interval = absl::ZeroDuration();
  options.min_free_bytes = 256 << 20;
  options.free_bytes = [&] { return absl::StatusOr<uint64_t>(free.load()); };
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  auto ev =
      evaluator::Evaluator::Open(dir.File("evaluator.db"), &clock, options);
  ASSERT_TRUE(ev.ok()) << ev.status();
  (*ev)->SetDefinitionsReady();
  const auto batch = [&](int first) {
    v1::IngestRequest req;
    for (int i = first; i < first + 10; ++i) {
      v1::Observation* o = req.add_observations();
      o->set_event_id(absl::StrCat("o", i));
      o->set_signal("calls");
      o->set_value_stream("valueStreams/incident");
      o->mutable_time()->set_seconds(1'800'000'000 - 60);
      o->set_value(1);
    }
    return req;
  };
  // Value streams unknown to the evaluator are rejected per record; define
  // the stream through the change feed first.
  v1::Change team;
  team.set_revision(1);
  team.set_kind(v1::CHANGE_KIND_CREATED);
  team.set_name("teams/business");
  *team.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_CONSUMER);
  v1::Change desk = team;
  desk.set_revision(2);
  desk.set_name("teams/service-desk");
  *desk.mutable_team() = testing::MakeTeam(v1::TEAM_KIND_PROVIDER);
  v1::Change vs;
  vs.set_revision(3);
  vs.set_kind(v1::CHANGE_KIND_CREATED);
  vs.set_name("valueStreams/incident");
  *vs.mutable_value_stream() =
      testing::MakeValueStream("teams/business", {"teams/service-desk"});
  ASSERT_TRUE((*ev)->ApplyChanges({team, desk, vs}).ok());

  absl::StatusOr<v1::IngestResponse> r = (*ev)->Ingest(batch(0));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->accepted(), 10);
  EXPECT_TRUE((*ev)->StorageHealth().ok());

  free = 100 << 20;  // below the reserve
  r = (*ev)->Ingest(batch(10));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find(
                absl::StrCat("the data folder ", dir.path(), " has 100.0 MiB")),
            std::string::npos)
      << r.status();
  EXPECT_EQ((*ev)->StorageHealth().code(),
            absl::StatusCode::kResourceExhausted);
  // Definitions still go in below the reserve.
  v1::Change vs2 = vs;
  vs2.set_revision(4);
  vs2.set_name("valueStreams/change");
  EXPECT_TRUE((*ev)->ApplyChanges({vs2}).ok());

  free = 300 << 20;  // space returned
  EXPECT_TRUE((*ev)->StorageHealth().ok());
  r = (*ev)->Ingest(batch(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->accepted(), 10);  // the refused batch was not half-stored
  r = (*ev)->Ingest(batch(0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->duplicates(), 10);
}

}  // namespace
}  // namespace vla
