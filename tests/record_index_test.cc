// The record index (record_index.h): bucketing, the window edges of a scan,
// items rebuilt and re-indexed by late events, interned attributes, and the
// block versions caches rely on.
#include "services/evaluator/record_index.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vla::evaluator {
namespace {

using ::testing::ElementsAre;

constexpr char kVs[] = "valueStreams/vs";
constexpr int64_t kHourUs = 60 * kMinuteUs;
const int64_t kT0 = absl::ToUnixMicros(
    absl::FromCivil(absl::CivilHour(2026, 3, 1, 12), absl::UTCTimeZone()));

v1::Observation Obs(int64_t t_us, double value,
                    const std::string& service = "") {
  v1::Observation o;
  o.set_value_stream(kVs);
  o.set_signal("csat");
  *o.mutable_time() = ToProtoTime(absl::FromUnixMicros(t_us));
  o.set_value(value);
  o.set_service(service);
  return o;
}

v1::WorkItemEvent Ev(const std::string& item, int64_t t_us,
                     v1::EventKind kind) {
  v1::WorkItemEvent e;
  e.set_value_stream(kVs);
  e.set_item_id(item);
  *e.mutable_time() = ToProtoTime(absl::FromUnixMicros(t_us));
  e.set_kind(kind);
  return e;
}

std::vector<double> Values(const RecordIndex& index, int64_t from, int64_t to) {
  std::vector<double> out;
  const SourceKey source{v1::SOURCE_OBSERVATIONS, index.strings().Find(kVs),
                         index.strings().Find("csat")};
  index.ForEachObservation(source, from, to,
                           [&](int32_t, double v) { out.push_back(v); });
  return out;
}

TEST(RecordIndexTest, ScansHonourBothEndsOfTheWindow) {
  RecordIndex index;
  // Either side of a bucket edge (5 minutes) and of the window ends.
  const int64_t edge = kT0 + 5 * kMinuteUs;
  index.AddObservation(Obs(edge - 1, 1));
  index.AddObservation(Obs(edge, 2));
  index.AddObservation(Obs(edge + 7 * kMinuteUs, 3));
  index.AddObservation(Obs(kT0 - 1, 4));  // late, an earlier bucket
  EXPECT_THAT(Values(index, kT0, edge), ElementsAre(1));
  EXPECT_THAT(Values(index, edge, edge + 7 * kMinuteUs), ElementsAre(2));
  EXPECT_THAT(Values(index, edge, edge + 7 * kMinuteUs + 1), ElementsAre(2, 3));
  EXPECT_THAT(Values(index, kT0 - 1, edge + 1), ElementsAre(4, 1, 2));
  EXPECT_THAT(Values(index, kT0 + 3 * kHourUs, kT0 + 4 * kHourUs),
              ElementsAre());
}

TEST(RecordIndexTest, LateSamplesKeepTheirBucketInTimeOrder) {
  RecordIndex index;
  const int64_t bucket = kT0 + 10 * kMinuteUs;
  index.AddObservation(Obs(bucket + 3 * kMinuteUs, 3));
  index.AddObservation(Obs(bucket + 1 * kMinuteUs, 1));   // late
  index.AddObservation(Obs(bucket + 1 * kMinuteUs, 11));  // same time, after
  index.AddObservation(Obs(bucket + 4 * kMinuteUs, 4));
  EXPECT_THAT(Values(index, bucket, bucket + kBucketUs),
              ElementsAre(1, 11, 3, 4));
  EXPECT_THAT(Values(index, bucket + kMinuteUs, bucket + 3 * kMinuteUs),
              ElementsAre(1, 11));
  EXPECT_THAT(Values(index, bucket + kMinuteUs + 1, bucket + 4 * kMinuteUs + 1),
              ElementsAre(3, 4));
}

TEST(RecordIndexTest, EqualAttributesShareOneId) {
  RecordIndex index;
  index.AddObservation(Obs(kT0, 1, "erp"));
  index.AddObservation(Obs(kT0 + 1, 2, "erp"));
  index.AddObservation(Obs(kT0 + 2, 3, "crm"));
  EXPECT_EQ(index.attr_count(), 2u);
}

TEST(RecordIndexTest, ItemsAreRebuiltAndMovedByLateEvents) {
  RecordIndex index;
  const int32_t vs = index.AddEvent(Ev("INC1", kT0, v1::EVENT_KIND_CREATED));
  index.AddEvent(Ev("INC1", kT0 + 2 * kHourUs, v1::EVENT_KIND_RESOLVED));
  // The same id in another value stream is another item.
  v1::WorkItemEvent other = Ev("INC1", kT0, v1::EVENT_KIND_CREATED);
  other.set_value_stream("valueStreams/other");
  index.AddEvent(other);
  EXPECT_EQ(index.item_count(), 2u);

  const SourceKey items{v1::SOURCE_WORK_ITEMS, vs, -1};
  const uint64_t before = index.Versions(items)->latest();
  std::vector<std::pair<std::string, double>> seen;
  auto collect = [&](int64_t from, int64_t to) {
    seen.clear();
    index.ForEachItem(vs, from, to, [&](const Item& item) {
      seen.emplace_back(std::string(index.ItemId(item)), item.facts.lead_time);
    });
  };
  collect(kT0, kT0 + 3 * kHourUs);
  EXPECT_THAT(seen, ElementsAre(std::make_pair("INC1", 7200.0)));

  // A late RESOLVED moves the item to its new last resolution; a late
  // WAITING..ACTIVE before it changes its facts.
  index.AddEvent(Ev("INC1", kT0 + 5 * kHourUs, v1::EVENT_KIND_RESOLVED));
  collect(kT0, kT0 + 3 * kHourUs);
  EXPECT_THAT(seen, ElementsAre());
  collect(kT0, kT0 + 6 * kHourUs);
  EXPECT_THAT(seen, ElementsAre(std::make_pair("INC1", 5 * 3600.0)));
  EXPECT_GT(index.Versions(items)->latest(), before);
  // The bucket it left and the one it joined both changed.
  const uint64_t now = index.Versions(items)->latest();
  EXPECT_EQ(index.Versions(items)->Get(kBucketLevel,
                                       FloorTo(kT0 + 2 * kHourUs, kBucketUs)),
            now);
  EXPECT_EQ(index.Versions(items)->Get(kBucketLevel,
                                       FloorTo(kT0 + 5 * kHourUs, kBucketUs)),
            now);

  // A REOPENED after the last RESOLVED: open again, in no window.
  index.AddEvent(Ev("INC1", kT0 + 6 * kHourUs, v1::EVENT_KIND_REOPENED));
  collect(kT0, kT0 + 24 * kHourUs);
  EXPECT_THAT(seen, ElementsAre());
}

TEST(RecordIndexTest, ItemLabelsMergeOverEvents) {
  RecordIndex index;
  v1::WorkItemEvent a = Ev("INC1", kT0, v1::EVENT_KIND_CREATED);
  (*a.mutable_labels())["priority"] = "P2";
  (*a.mutable_labels())["channel"] = "phone";
  a.set_service("erp");
  v1::WorkItemEvent b = Ev("INC1", kT0 + 1, v1::EVENT_KIND_RESOLVED);
  (*b.mutable_labels())["priority"] = "P1";  // later wins
  const int32_t vs = index.AddEvent(a);
  index.AddEvent(b);
  index.ForEachItem(vs, kT0, kT0 + kHourUs, [&](const Item& item) {
    const AttrSet& attrs = index.attrs(item.attrs);
    EXPECT_EQ(index.strings().Name(attrs.service), "erp");
    std::vector<std::pair<std::string, std::string>> labels;
    for (auto [k, v] : attrs.labels) {
      labels.emplace_back(index.strings().Name(k), index.strings().Name(v));
    }
    EXPECT_THAT(labels, ::testing::UnorderedElementsAre(
                            std::make_pair("priority", "P1"),
                            std::make_pair("channel", "phone")));
  });
}

}  // namespace
}  // namespace vla::evaluator
