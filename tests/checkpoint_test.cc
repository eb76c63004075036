// Checkpoints of the evaluator's memory (Engine::SaveSnapshot/LoadSnapshot,
// Evaluator's snapshot file beside evaluator.db): a start from a snapshot
// plus the records stored after it answers exactly as a full rebuild; a
// snapshot that is missing, corrupted, truncated or of another format
// version is refused and the start rebuilds from every record.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/common/clock.h"
#include "services/evaluator/evaluator.h"
#include "services/evaluator/snapshot_file.h"
#include "tests/fixtures.h"
#include "tests/test_util.h"

namespace vla::evaluator {
namespace {

using testing::TempDir;

const absl::Time kNow = absl::FromCivil(
    absl::CivilSecond(2026, 3, 20, 12, 0, 7), absl::UTCTimeZone());
const std::vector<std::string> kKvis = {"kvis/lead-time", "kvis/csat",
                                        "kvis/handoffs"};

v1::Change Change(int64_t revision, const std::string& name,
                  const google::protobuf::Message& resource) {
  v1::Change c;
  c.set_revision(revision);
  c.set_kind(v1::CHANGE_KIND_CREATED);
  c.set_name(name);
  const auto* field = c.GetDescriptor()->FindFieldByName(
      resource.GetDescriptor()->name() == "ValueStream"
          ? "value_stream"
          : absl::AsciiStrToLower(resource.GetDescriptor()->name()));
  c.GetReflection()->MutableMessage(&c, field)->CopyFrom(resource);
  return c;
}

std::vector<v1::Change> Definitions() {
  std::vector<v1::Change> out;
  int64_t rev = 0;
  for (const char* team :
       {"teams/business", "teams/service-desk", "teams/network"}) {
    out.push_back(Change(++rev, team, testing::MakeTeam()));
  }
  out.push_back(
      Change(++rev, "valueStreams/incident",
             testing::MakeValueStream(
                 "teams/business", {"teams/service-desk", "teams/network"})));
  out.push_back(Change(++rev, "kvis/lead-time", testing::MakeKvi()));
  v1::Kvi csat = testing::MakeKvi();
  csat.set_source(v1::SOURCE_OBSERVATIONS);
  csat.clear_field();
  csat.set_signal("csat");
  csat.set_aggregation(v1::AGGREGATION_MEAN);
  csat.clear_percentile();
  csat.mutable_co_measurement()->set_enabled(true);
  out.push_back(Change(++rev, "kvis/csat", csat));
  v1::Kvi handoffs = testing::MakeKvi();
  handoffs.set_field(v1::WORK_ITEM_FIELD_HANDOFFS);
  handoffs.set_aggregation(v1::AGGREGATION_MEAN);
  handoffs.clear_percentile();
  out.push_back(Change(++rev, "kvis/handoffs", handoffs));
  out.push_back(Change(++rev, "vlas/incident",
                       testing::MakeVla({"kvis/lead-time", "kvis/handoffs"})));
  return out;
}

// Deterministic batches of observations and work item events over the 20
// days before kNow, some late (an item's events arrive out of order).
class Records {
 public:
  explicit Records(uint32_t seed) : rng_(seed) {}
  v1::IngestRequest Batch(int records) {
    v1::IngestRequest batch;
    for (int i = 0; i < records; ++i) {
      const absl::Time t = kNow - absl::Seconds(Uniform(20 * 86400));
      if (Uniform(10) < 6) {
        v1::Observation* o = batch.add_observations();
        o->set_event_id(absl::StrCat("o", next_++));
        o->set_signal("csat");
        o->set_value_stream("valueStreams/incident");
        *o->mutable_time() = ToProtoTime(t);
        o->set_value(1 + Uniform(5));
        o->set_reporter(Uniform(2) ? "teams/business" : "teams/network");
        (*o->mutable_labels())["priority"] = absl::StrCat("P", Uniform(4));
        continue;
      }
      // An event of one of 300 items: created, assigned, resolved, late
      // waits and reopenings.
      const int item = static_cast<int>(Uniform(300));
      const absl::Time created =
          kNow - absl::Hours(24 * 20) + absl::Hours(item);
      v1::WorkItemEvent* e = batch.add_work_item_events();
      e->set_event_id(absl::StrCat("e", next_++));
      e->set_item_id(absl::StrCat("INC", item));
      e->set_value_stream("valueStreams/incident");
      const int step = static_cast<int>(Uniform(6));
      static constexpr v1::EventKind kKinds[] = {
          v1::EVENT_KIND_CREATED,  v1::EVENT_KIND_ASSIGNED,
          v1::EVENT_KIND_WAITING,  v1::EVENT_KIND_ACTIVE,
          v1::EVENT_KIND_RESOLVED, v1::EVENT_KIND_REOPENED};
      e->set_kind(kKinds[step]);
      *e->mutable_time() =
          ToProtoTime(created + absl::Minutes(step * 90 + Uniform(60)));
      if (e->kind() == v1::EVENT_KIND_ASSIGNED) {
        e->set_team(Uniform(2) ? "teams/service-desk" : "teams/network");
      }
    }
    return batch;
  }

 private:
  int64_t Uniform(int64_t n) {
    return std::uniform_int_distribution<int64_t>(0, n - 1)(rng_);
  }
  std::mt19937 rng_;
  int64_t next_ = 0;
};

struct Answers {
  std::map<std::string, v1::KviValue> kvis;
  v1::VlaStatus vla;
  v1::ValueStreamFlow flow;
};

Answers Ask(Evaluator& ev) {
  Answers a;
  for (const std::string& k : kKvis) {
    absl::StatusOr<v1::KviValue> v = ev.GetKviValue(k, kNow);
    EXPECT_TRUE(v.ok()) << v.status();
    if (v.ok()) a.kvis[k] = *v;
  }
  absl::StatusOr<v1::VlaStatus> s = ev.GetVlaStatus("vlas/incident", kNow);
  EXPECT_TRUE(s.ok()) << s.status();
  if (s.ok()) a.vla = *s;
  absl::StatusOr<v1::ValueStreamFlow> f = ev.GetValueStreamFlow(
      "valueStreams/incident", absl::Hours(24 * 30), kNow);
  EXPECT_TRUE(f.ok()) << f.status();
  if (f.ok()) a.flow = *f;
  return a;
}

void ExpectSame(const Answers& want, const Answers& got) {
  using google::protobuf::util::MessageDifferencer;
  for (const auto& [name, value] : want.kvis) {
    EXPECT_TRUE(
        MessageDifferencer::ApproximatelyEquals(value, got.kvis.at(name)))
        << name << "\nwant " << value.ShortDebugString() << "\ngot  "
        << got.kvis.at(name).ShortDebugString();
  }
  EXPECT_TRUE(MessageDifferencer::ApproximatelyEquals(want.vla, got.vla))
      << "want " << want.vla.ShortDebugString() << "\ngot  "
      << got.vla.ShortDebugString();
  EXPECT_TRUE(MessageDifferencer::ApproximatelyEquals(want.flow, got.flow))
      << "want " << want.flow.ShortDebugString() << "\ngot  "
      << got.flow.ShortDebugString();
}

class CheckpointTest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.File("evaluator.db"); }
  std::string snapshot() const { return db() + ".snapshot"; }

  // Opens the evaluator over the folder; `at_shutdown`: write a snapshot
  // when it closes.
  std::unique_ptr<Evaluator> Open(bool at_shutdown) {
    EvaluatorOptions options;
    options.run_loop = false;
    options.snapshot_interval = absl::ZeroDuration();
    options.snapshot_at_shutdown = at_shutdown;
    options.min_free_bytes = 0;  // not a test of the disk's free space
    absl::StatusOr<std::unique_ptr<Evaluator>> ev =
        Evaluator::Open(db(), &clock_, options);
    EXPECT_TRUE(ev.ok()) << ev.status();
    if (!ev.ok()) return nullptr;
    if ((*ev)->definitions_revision() == 0) {
      EXPECT_TRUE((*ev)->ApplyChanges(Definitions()).ok());
    }
    (*ev)->SetDefinitionsReady();
    return std::move(*ev);
  }

  void Ingest(Evaluator& ev, int batches, int records) {
    for (int b = 0; b < batches; ++b) {
      const v1::IngestRequest batch = records_.Batch(records);
      absl::StatusOr<v1::IngestResponse> r = ev.Ingest(batch);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->rejected_size(), 0) << r->rejected(0).reason();
    }
  }

  // What a full rebuild answers: the snapshot moved away for the open.
  Answers Rebuilt() {
    const std::string aside = snapshot() + ".aside";
    std::error_code ec;
    std::filesystem::rename(snapshot(), aside, ec);
    Answers a;
    {
      std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
      a = Ask(*ev);
    }
    if (!ec) std::filesystem::rename(aside, snapshot());
    return a;
  }

  TempDir dir_;
  FakeClock clock_{kNow};
  Records records_{7};
};

TEST_F(CheckpointTest, SnapshotThenMoreRecordsThenACrashEqualsAFullRebuild) {
  {
    std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
    Ingest(*ev, 20, 200);
    ASSERT_TRUE(ev->WriteSnapshot().ok());
    // After the snapshot: new items, events of items in the snapshot (some
    // earlier than the events it holds), observations in its series.
    Ingest(*ev, 10, 200);
    // A retried batch is a duplicate, also across the snapshot.
    absl::StatusOr<v1::IngestResponse> again =
        ev->Ingest(Records(7).Batch(200));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->duplicates(), 200);
  }  // "crash": no snapshot at shutdown
  ASSERT_TRUE(std::filesystem::exists(snapshot()));
  const Answers rebuilt = Rebuilt();
  std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
  ExpectSame(rebuilt, Ask(*ev));
  EXPECT_GT(rebuilt.vla.clauses(0).samples(), 0);
  // Loaded from the snapshot: only the 10 batches after it were replayed.
  EXPECT_GT(ev->load_stats().snapshot_covers, 0);
  EXPECT_EQ(ev->load_stats().records_replayed, 10 * 200);
  // Ingest goes on after a start from the snapshot, and a snapshot of
  // that state loads too (paced this time, as on the timer: it pauses
  // between pieces, ingest going on meanwhile).
  std::thread more([&] { Ingest(*ev, 5, 200); });
  ASSERT_TRUE(ev->WriteSnapshot(/*paced=*/true).ok());
  more.join();
  ASSERT_TRUE(ev->WriteSnapshot(/*paced=*/true).ok());
  const Answers before = Ask(*ev);
  ev.reset();
  ev = Open(/*at_shutdown=*/false);
  ExpectSame(before, Ask(*ev));
}

TEST_F(CheckpointTest, ShutdownWritesASnapshotThatCoversEverything) {
  {
    std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/true);
    Ingest(*ev, 5, 100);
  }
  absl::StatusOr<std::unique_ptr<SnapshotFile>> file =
      SnapshotFile::Open(snapshot());
  ASSERT_TRUE(file.ok()) << file.status();
  const Answers rebuilt = Rebuilt();
  std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
  ExpectSame(rebuilt, Ask(*ev));
  EXPECT_EQ(ev->load_stats().snapshot_covers, 5 * 100);
  EXPECT_EQ(ev->load_stats().records_replayed, 0);
}

TEST_F(CheckpointTest, ALateEventAfterTheSnapshotRebuildsItsItem) {
  v1::IngestRequest first;
  const auto event = [&](v1::IngestRequest* batch, const std::string& id,
                         v1::EventKind kind, absl::Duration before_now,
                         const std::string& team = "") {
    v1::WorkItemEvent* e = batch->add_work_item_events();
    e->set_event_id(id);
    e->set_item_id("INC-LATE");
    e->set_value_stream("valueStreams/incident");
    e->set_kind(kind);
    e->set_team(team);
    *e->mutable_time() = ToProtoTime(kNow - before_now);
  };
  event(&first, "l1", v1::EVENT_KIND_CREATED, absl::Hours(10));
  event(&first, "l2", v1::EVENT_KIND_ASSIGNED, absl::Hours(10),
        "teams/service-desk");
  event(&first, "l3", v1::EVENT_KIND_RESOLVED, absl::Hours(2));
  {
    std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
    ASSERT_TRUE(ev->Ingest(first).ok());
    ASSERT_TRUE(ev->WriteSnapshot().ok());
    // Late, and earlier than the resolution the snapshot holds: a handoff
    // and an earlier creation change the item's lead time and handoffs.
    v1::IngestRequest late;
    event(&late, "l4", v1::EVENT_KIND_CREATED, absl::Hours(20));
    event(&late, "l5", v1::EVENT_KIND_ASSIGNED, absl::Hours(5),
          "teams/network");
    ASSERT_TRUE(ev->Ingest(late).ok());
  }
  std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
  EXPECT_EQ(ev->load_stats().snapshot_covers, 3);
  EXPECT_EQ(ev->load_stats().records_replayed, 2);
  absl::StatusOr<v1::KviValue> lead = ev->GetKviValue("kvis/lead-time", kNow);
  ASSERT_TRUE(lead.ok());
  EXPECT_EQ(lead->samples(), 1);
  EXPECT_DOUBLE_EQ(lead->value(), 18 * 3600.0);  // created 20 h, resolved 2 h
  absl::StatusOr<v1::KviValue> handoffs =
      ev->GetKviValue("kvis/handoffs", kNow);
  ASSERT_TRUE(handoffs.ok());
  EXPECT_DOUBLE_EQ(handoffs->value(), 1);
}

// Every way a snapshot file can be unusable falls back to a full rebuild
// with the same answers.
TEST_F(CheckpointTest, AnUnusableSnapshotFallsBackToAFullRebuild) {
  {
    std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/true);
    Ingest(*ev, 8, 150);
  }
  std::string good;
  {
    std::ifstream in(snapshot(), std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(good.size(), 1000u);
  const Answers rebuilt = Rebuilt();
  struct Damage {
    std::string name;
    std::string bytes;
    std::string why;  // in the refusal
  };
  std::vector<Damage> damages;
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;
  damages.push_back({"a flipped byte", flipped, "checksum"});
  damages.push_back(
      {"truncated", good.substr(0, good.size() * 2 / 3), "truncated"});
  std::string future = good;
  future[8] = static_cast<char>(kSnapshotFormatVersion + 1);
  damages.push_back({"a future format version", future, "format version"});
  damages.push_back({"not a snapshot", "hello", "truncated"});
  for (const Damage& d : damages) {
    {
      std::ofstream out(snapshot(), std::ios::binary | std::ios::trunc);
      out << d.bytes;
    }
    absl::StatusOr<std::unique_ptr<SnapshotFile>> file =
        SnapshotFile::Open(snapshot());
    ASSERT_FALSE(file.ok()) << d.name;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss) << d.name;
    EXPECT_NE(file.status().message().find(d.why), std::string::npos)
        << d.name << ": " << file.status();
    std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
    ExpectSame(rebuilt, Ask(*ev));
    EXPECT_EQ(ev->load_stats().snapshot_covers, 0) << d.name;
    EXPECT_EQ(ev->load_stats().records_replayed, 8 * 150) << d.name;
  }
  // A torn write leaves only a .tmp beside the good file: it is ignored.
  {
    std::ofstream out(snapshot(), std::ios::binary | std::ios::trunc);
    out << good;
    std::ofstream tmp(snapshot() + ".tmp", std::ios::binary);
    tmp << good.substr(0, 100);
  }
  std::unique_ptr<Evaluator> ev = Open(/*at_shutdown=*/false);
  ExpectSame(rebuilt, Ask(*ev));
  EXPECT_EQ(ev->load_stats().snapshot_covers, 8 * 150);
}

}  // namespace
}  // namespace vla::evaluator
