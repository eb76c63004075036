// EvaluatorStore conformance: every test runs on SQLite and on PostgreSQL;
// the RecordLog (PostgreSQL, shared by replicas) at the end.
#include "services/evaluator/evaluator_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/evaluator/record_follower.h"
#include "tests/pg_test_util.h"
#include "tests/test_server.h"
#include "tests/test_util.h"

namespace vla::evaluator {
namespace {

using testing::Db;
using testing::PgDatabase;
using testing::TempDir;

RecordRow Row(const std::string& id, const std::string& data,
              const std::string& value_stream = "valueStreams/a") {
  return RecordRow{id, v1::RECORD_KIND_OBSERVATION, data, value_stream};
}

v1::VlaStatus Status(const std::string& vla, int64_t t, double score) {
  v1::VlaStatus s;
  s.set_vla(vla);
  s.set_vla_revision(3);
  s.set_state(v1::COMPLIANCE_STATE_MET);
  s.set_score(score);
  s.mutable_evaluate_time()->set_seconds(t);
  return s;
}

class EvaluatorStoreTest : public ::testing::TestWithParam<Db> {
 protected:
  EvaluatorStoreTest() {
    if (GetParam() == Db::kPostgres) pg_ = std::make_unique<PgDatabase>();
  }

  std::unique_ptr<EvaluatorStore> Open() {
    auto s = GetParam() == Db::kSqlite
                 ? OpenSqliteEvaluatorStore(dir_.File("evaluator.db"))
                 : OpenPostgresEvaluatorStore(pg_->uri());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Stored data -> how often.
  static std::map<std::string, int> All(EvaluatorStore& s) {
    std::map<std::string, int> out;
    int64_t last = 0;
    EXPECT_TRUE(s.ForEachRecord(0, [&](int64_t seq, v1::RecordKind kind,
                                       absl::string_view d) {
                   EXPECT_GT(seq, last);  // in sequence order
                   last = seq;
                   EXPECT_EQ(kind, v1::RECORD_KIND_OBSERVATION);
                   out[std::string(d)]++;
                 }).ok());
    return out;
  }

  // Which rows were new (a sequence, rising) and which duplicates (0).
  static std::vector<bool> New(const std::vector<int64_t>& seqs) {
    std::vector<bool> out;
    int64_t last = 0;
    for (int64_t seq : seqs) {
      if (seq != 0) {
        EXPECT_GT(seq, last);
        last = seq;
      }
      out.push_back(seq != 0);
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<PgDatabase> pg_;
};

INSTANTIATE_TEST_SUITE_P(Engines, EvaluatorStoreTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(EvaluatorStoreTest, InsertSaysPerRowWhetherNew) {
  auto s = Open();
  // A repeat inside one batch is a duplicate of its first occurrence.
  auto first = s->InsertRecords(
      {Row("a", "A1"), Row("b", "B"), Row("a", "A2"), Row("c", "C")});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(New(*first), (std::vector<bool>{true, true, false, true}));
  auto second = s->InsertRecords({Row("c", "C2"), Row("d", "D")});
  EXPECT_EQ(New(*second), (std::vector<bool>{false, true}));
  EXPECT_GT((*second)[1], (*first)[3]);
  // Only the records after a sequence.
  int n = 0;
  ASSERT_TRUE(s->ForEachRecord((*first)[3], [&](int64_t seq, v1::RecordKind,
                                                absl::string_view data) {
                 EXPECT_EQ(seq, (*second)[1]);
                 EXPECT_EQ(data, "D");
                 ++n;
               }).ok());
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(s->InsertRecords({})->empty());
  EXPECT_EQ(*s->RecordCount(), 4);
  // What is stored is each id's first row.
  std::string binary("\0\xff\x01", 3);
  ASSERT_TRUE(s->InsertRecords({Row("e", binary)}).ok());
  EXPECT_EQ(All(*s),
            (std::map<std::string, int>{
                {"A1", 1}, {"B", 1}, {"C", 1}, {"D", 1}, {binary, 1}}));
}

TEST_P(EvaluatorStoreTest, DuplicatesAreFoundAfterReopen) {
  std::string secret;
  {
    auto s = Open();
    ASSERT_TRUE(s->InsertRecords({Row("a", "A")}).ok());
    secret = s->secret();
    EXPECT_EQ(secret.size(), 32u);
  }
  auto s = Open();
  EXPECT_EQ(s->secret(), secret);
  EXPECT_EQ(New(*s->InsertRecords({Row("a", "A"), Row("b", "B")})),
            (std::vector<bool>{false, true}));
  EXPECT_EQ(*s->RecordCount(), 2);
}

TEST_P(EvaluatorStoreTest, DefinitionsMoveOnlyForward) {
  auto s = Open();
  ASSERT_TRUE(s->ApplyDefinitions({{"kvis/a", "A1"}, {"kvis/b", "B"}}, 4).ok());
  ASSERT_TRUE(s->ApplyDefinitions({{"kvis/a", "A2"}, {"kvis/b", ""}}, 6).ok());
  // A batch that does not move the revision forward (a slower replica's)
  // changes nothing.
  ASSERT_TRUE(
      s->ApplyDefinitions({{"kvis/a", "old"}, {"kvis/c", "C"}}, 6).ok());
  std::map<std::string, std::string> loaded;
  auto revision =
      s->LoadDefinitions([&](absl::string_view name, absl::string_view data) {
        loaded[std::string(name)] = std::string(data);
      });
  ASSERT_TRUE(revision.ok());
  EXPECT_EQ(*revision, 6);
  EXPECT_EQ(loaded, (std::map<std::string, std::string>{{"kvis/a", "A2"}}));
}

TEST_P(EvaluatorStoreTest, EvaluationsByVlaAndTime) {
  auto s = Open();
  ASSERT_TRUE(s->AppendEvaluations({Status("vlas/a", 100, 50),
                                    Status("vlas/b", 150, 10),
                                    Status("vlas/a", 200, 75.5)})
                  .ok());
  ASSERT_TRUE(s->AppendEvaluations({Status("vlas/a", 300, 80)}).ok());
  ASSERT_TRUE(s->AppendEvaluations({}).ok());
  auto a = s->Evaluations("vlas/a", {100 * 1000000, 0}, 300 * 1000000, 10);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 2u);  // [100 s, 300 s)
  EXPECT_EQ((*a)[0].status.score(), 50);
  EXPECT_EQ((*a)[1].status.score(), 75.5);
  EXPECT_EQ((*a)[1].status.vla_revision(), 3);
  EXPECT_LT((*a)[0].id, (*a)[1].id);
  EXPECT_EQ(s->Evaluations("vlas/a", {0, 0}, 1000 * 1000000, 1)->size(), 1u);
}

TEST_P(EvaluatorStoreTest, LatestEvaluationOfEachVla) {
  auto s = Open();
  auto none = s->LatestEvaluations();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  // The latest by time, then by row id (two at one instant), per VLA; an
  // older one appended later does not win.
  ASSERT_TRUE(
      s->AppendEvaluations({Status("vlas/b", 100, 1), Status("vlas/a", 100, 2),
                            Status("vlas/a", 300, 3), Status("vlas/a", 300, 4)})
          .ok());
  ASSERT_TRUE(s->AppendEvaluations({Status("vlas/a", 200, 5)}).ok());
  auto latest = s->LatestEvaluations();
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[0].vla(), "vlas/a");
  EXPECT_EQ((*latest)[0].score(), 4);
  EXPECT_EQ((*latest)[1].vla(), "vlas/b");
  EXPECT_EQ((*latest)[1].score(), 1);
}

TEST_P(EvaluatorStoreTest, EvaluationPagesResumeAfterACursor) {
  auto s = Open();
  // Three at the same instant: the row id orders them.
  ASSERT_TRUE(
      s->AppendEvaluations({Status("vlas/a", 100, 1), Status("vlas/a", 100, 2),
                            Status("vlas/a", 100, 3), Status("vlas/a", 200, 4)})
          .ok());
  auto first = s->Evaluations("vlas/a", {100 * 1000000, 0}, 1000 * 1000000, 2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[1].status.score(), 2);
  auto rest = s->Evaluations("vlas/a", {100 * 1000000, (*first)[1].id},
                             1000 * 1000000, 10);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].status.score(), 3);
  EXPECT_EQ((*rest)[1].status.score(), 4);
}

TEST_P(EvaluatorStoreTest, EvaluationStatesStartWithTheStateInForce) {
  auto s = Open();
  v1::VlaStatus breached = Status("vlas/a", 100, 10);
  breached.set_state(v1::COMPLIANCE_STATE_BREACHED);
  v1::VlaStatus melon = Status("vlas/a", 200, 90);
  melon.set_watermelon(true);
  v1::VlaStatus disputed = Status("vlas/a", 300, 90);
  disputed.set_disputed(true);
  ASSERT_TRUE(s->AppendEvaluations({Status("vlas/a", 50, 80), breached, melon,
                                    disputed, Status("vlas/b", 250, 1),
                                    Status("vlas/a", 400, 80)})
                  .ok());
  auto states = s->EvaluationStates("vlas/a", 150 * 1000000, 400 * 1000000);
  ASSERT_TRUE(states.ok()) << states.status();
  ASSERT_EQ(states->size(), 3u);  // the one at 100 s, then [150 s, 400 s)
  EXPECT_EQ((*states)[0].time_us, 100 * 1000000);
  EXPECT_EQ((*states)[0].state, v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_FALSE((*states)[0].watermelon);
  EXPECT_EQ((*states)[1].time_us, 200 * 1000000);
  EXPECT_TRUE((*states)[1].watermelon);
  EXPECT_FALSE((*states)[1].disputed);
  EXPECT_EQ((*states)[2].time_us, 300 * 1000000);
  EXPECT_TRUE((*states)[2].disputed);
  EXPECT_FALSE((*states)[2].watermelon);
  // Nothing before the range: only the ones in it.
  EXPECT_EQ(s->EvaluationStates("vlas/a", 0, 60 * 1000000)->size(), 1u);
  EXPECT_TRUE(s->EvaluationStates("vlas/c", 0, 1000 * 1000000)->empty());
}

TEST_P(EvaluatorStoreTest, PruneKeepsTheLastEvaluationBeforeTheCut) {
  auto s = Open();
  ASSERT_TRUE(
      s->AppendEvaluations({Status("vlas/a", 100, 1), Status("vlas/a", 200, 2),
                            Status("vlas/a", 200, 3), Status("vlas/a", 400, 4),
                            Status("vlas/b", 100, 5)})
          .ok());
  auto pruned = s->PruneEvaluations(300 * 1000000);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);  // a at 100 s and the first at 200 s
  auto a = s->Evaluations("vlas/a", {0, 0}, 1000 * 1000000, 10);
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].status.score(), 3);
  EXPECT_EQ((*a)[1].status.score(), 4);
  EXPECT_EQ(s->Evaluations("vlas/b", {0, 0}, 1000 * 1000000, 10)->size(), 1u);
  EXPECT_EQ(*s->PruneEvaluations(300 * 1000000), 0);
}

TEST_P(EvaluatorStoreTest, VlaRevisionsAreKeptOnce) {
  std::string binary("\0\xff", 2);
  {
    auto s = Open();
    ASSERT_TRUE(
        s->AddVlaRevisions({{"vlas/a", 3, "A3"}, {"vlas/b", 4, "B4"}}).ok());
    // A replayed change feed: the stored row stays.
    ASSERT_TRUE(
        s->AddVlaRevisions({{"vlas/a", 3, "other"}, {"vlas/a", 7, binary}})
            .ok());
    ASSERT_TRUE(s->AddVlaRevisions({}).ok());
  }
  auto s = Open();
  std::map<int64_t, std::string> revisions;
  ASSERT_TRUE(
      s->ForEachVlaRevision([&](int64_t revision, absl::string_view data) {
         EXPECT_EQ(revisions.count(revision), 0u);
         revisions[revision] = std::string(data);
       }).ok());
  EXPECT_EQ(revisions, (std::map<int64_t, std::string>{
                           {3, "A3"}, {4, "B4"}, {7, binary}}));
}

// --- RecordLog: PostgreSQL, shared by replicas -------------------------------

TEST(EvaluatorRecordLogTest, SqliteHasNone) {
  TempDir dir;
  EXPECT_EQ((*OpenSqliteEvaluatorStore(dir.File("e.db")))->record_log(),
            nullptr);
}

// Two replicas insert concurrently while a third follows the log: the
// follower, reading after the last sequence it saw, misses nothing and sees
// everything once.
TEST(EvaluatorRecordLogTest, FollowerSeesEveryCommittedRecordOnce) {
  PgDatabase pg;
  auto a = *OpenPostgresEvaluatorStore(pg.uri());
  auto b = *OpenPostgresEvaluatorStore(pg.uri());
  auto f = *OpenPostgresEvaluatorStore(pg.uri());
  RecordLog* log = f->record_log();
  ASSERT_NE(log, nullptr);
  std::atomic<int> woken{0};
  log->OnStored([&] { ++woken; });

  constexpr int kBatches = 20, kPerBatch = 50;
  auto writer = [&](EvaluatorStore* s, const std::string& prefix) {
    for (int i = 0; i < kBatches; ++i) {
      std::vector<RecordRow> rows;
      for (int j = 0; j < kPerBatch; ++j) {
        // Every other batch repeats the one before it half-way.
        const int id = i * kPerBatch + j - (i % 2 == 1 && j < 25 ? 25 : 0);
        rows.push_back(Row(absl::StrCat(prefix, id), "x",
                           j % 2 == 0 ? "valueStreams/a" : "valueStreams/b"));
      }
      ASSERT_TRUE(s->InsertRecords(rows).ok());
    }
  };
  std::atomic<bool> done{false};
  std::map<std::string, int> seen;
  int64_t last = 0;
  std::thread follower([&] {
    while (true) {
      const bool final_pass = done;
      int64_t before = last;
      auto r = log->Read(last, 37, [&](const LoggedRecord& rec) {
        EXPECT_GT(rec.sequence, before);
        before = rec.sequence;
        seen[std::string(rec.value_stream)]++;
      });
      ASSERT_TRUE(r.ok()) << r.status();
      if (*r == last && final_pass) return;
      last = *r;
    }
  });
  std::thread ta(writer, a.get(), "a"), tb(writer, b.get(), "b");
  ta.join();
  tb.join();
  done = true;
  follower.join();
  // Distinct ids per writer: kBatches * kPerBatch - 25 per odd batch.
  const int per_writer = kBatches * kPerBatch - (kBatches / 2) * 25;
  EXPECT_EQ(seen["valueStreams/a"] + seen["valueStreams/b"], 2 * per_writer);
  EXPECT_EQ(*f->RecordCount(), 2 * per_writer);
  EXPECT_EQ(*log->LastSequence(), last);
  EXPECT_TRUE(testing::Eventually([&] { return woken > 0; }));
}

TEST(EvaluatorRecordLogTest, ReadValueStreamUpToASequence) {
  PgDatabase pg;
  auto s = *OpenPostgresEvaluatorStore(pg.uri());
  RecordLog* log = s->record_log();
  ASSERT_TRUE(s->InsertRecords({Row("1", "a1", "valueStreams/a"),
                                Row("2", "b1", "valueStreams/b"),
                                Row("3", "a2", "valueStreams/a")})
                  .ok());
  const int64_t upto = *log->LastSequence();
  ASSERT_TRUE(s->InsertRecords({Row("4", "a3", "valueStreams/a")}).ok());
  std::vector<std::string> data;
  int64_t previous = 0;
  ASSERT_TRUE(log->ReadValueStream("valueStreams/a", upto,
                                   [&](const LoggedRecord& r) {
                                     EXPECT_GT(r.sequence, previous);
                                     EXPECT_LE(r.sequence, upto);
                                     previous = r.sequence;
                                     EXPECT_EQ(r.value_stream,
                                               "valueStreams/a");
                                     data.emplace_back(r.data);
                                   })
                  .ok());
  EXPECT_EQ(data, (std::vector<std::string>{"a1", "a2"}));
}

// A replica's follower (record_follower.h) loads a value stream it comes to
// own once, however often it is asked while it loads, then follows it;
// records of value streams it does not hold never reach memory.
TEST(EvaluatorRecordLogTest, FollowerLoadsAValueStreamOnceThenFollowsIt) {
  PgDatabase pg;
  auto s = *OpenPostgresEvaluatorStore(pg.uri());
  auto record = [](const std::string& id, const std::string& vs) {
    v1::Observation o;
    o.set_event_id(id);
    o.set_value_stream(vs);
    return RecordRow{id, v1::RECORD_KIND_OBSERVATION, o.SerializeAsString(),
                     vs};
  };
  std::vector<RecordRow> rows;
  for (int i = 0; i < 3000; ++i) {
    rows.push_back(record(absl::StrCat(i),
                          i % 3 == 0 ? "valueStreams/b" : "valueStreams/a"));
  }
  ASSERT_TRUE(s->InsertRecords(rows).ok());
  std::mutex mu;
  std::map<std::string, int> seen;  // event id -> times in memory
  RecordFollower follower(
      s->record_log(),
      [&](const std::vector<const v1::Observation*>& observations,
          const std::vector<const v1::WorkItemEvent*>&) {
        std::lock_guard<std::mutex> lock(mu);
        for (const v1::Observation* o : observations) {
          EXPECT_EQ(o->value_stream(), "valueStreams/a");
          ++seen[o->event_id()];
        }
      },
      /*filter=*/true);
  follower.Start();
  ASSERT_TRUE(follower.CatchUp(absl::Seconds(10)).ok());
  EXPECT_FALSE(follower.IsLoaded("valueStreams/a"));
  // Asked again and again while it loads (a heartbeat does that).
  for (int i = 0; i < 200 && !follower.IsLoaded("valueStreams/a"); ++i) {
    follower.Load("valueStreams/a");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(testing::Eventually([&] {
    follower.Load("valueStreams/a");
    return follower.IsLoaded("valueStreams/a");
  }));
  ASSERT_TRUE(s->InsertRecords({record("late-a", "valueStreams/a"),
                                record("late-b", "valueStreams/b")})
                  .ok());
  ASSERT_TRUE(follower.CatchUp(absl::Seconds(10)).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.size(), 2001u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(seen.count("late-a"), 1u);
}

}  // namespace
}  // namespace vla::evaluator
