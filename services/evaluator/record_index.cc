#include "services/evaluator/record_index.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace vla::evaluator {
namespace {

int64_t ToUs(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(FromProtoTime(t));
}

// Trims the bucket before `it` (appending has moved past it): in-order data
// leaves no growth slack behind.
template <typename Map>
void TrimPrevious(Map& buckets, typename Map::iterator it) {
  if (it == buckets.begin()) return;
  auto& previous = std::prev(it)->second;
  if (previous.capacity() > previous.size()) previous.shrink_to_fit();
}

}  // namespace

int32_t Interner::Id(absl::string_view s) {
  auto [it, inserted] =
      ids_.try_emplace(std::string(s), static_cast<int32_t>(names_.size()));
  if (inserted) names_.emplace_back(s);
  return it->second;
}

int32_t Interner::Find(absl::string_view s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

uint32_t RecordIndex::ItemStore::Append() {
  if (size_ % kChunk == 0) chunks_.push_back(std::make_unique<Item[]>(kChunk));
  return static_cast<uint32_t>(size_++);
}

size_t RecordIndex::ItemKeyHash::operator()(uint32_t i) const {
  return (*this)(index->KeyOf(i));
}

size_t RecordIndex::ItemKeyHash::operator()(const ItemKey& k) const {
  return absl::Hash<std::pair<int32_t, absl::string_view>>()(
      {k.value_stream, k.id});
}

bool RecordIndex::ItemKeyEq::operator()(uint32_t a, const ItemKey& b) const {
  const ItemKey ka = index->KeyOf(a);
  return ka.value_stream == b.value_stream && ka.id == b.id;
}

RecordIndex::RecordIndex() : item_set_(0, ItemKeyHash{this}, ItemKeyEq{this}) {}

RecordIndex::~RecordIndex() = default;

int32_t RecordIndex::AttrId(AttrSet attrs) {
  auto [it, inserted] =
      attr_ids_.try_emplace(attrs, static_cast<int32_t>(attrs_.size()));
  if (inserted) attrs_.push_back(std::move(attrs));
  return it->second;
}

const BlockVersions* RecordIndex::Versions(const SourceKey& source) const {
  if (source.source == v1::SOURCE_OBSERVATIONS) {
    auto it = series_.find(SeriesKey(source.value_stream, source.signal));
    return it == series_.end() ? nullptr : &it->second.versions;
  }
  auto it = item_buckets_.find(source.value_stream);
  return it == item_buckets_.end() ? nullptr : &it->second.versions;
}

int32_t RecordIndex::AddObservation(const v1::Observation& o) {
  const int32_t vs = strings_.Id(o.value_stream());
  AttrSet attrs;
  if (!o.service().empty()) attrs.service = strings_.Id(o.service());
  for (const auto& [k, v] : o.labels()) {
    attrs.labels.emplace_back(strings_.Id(k), strings_.Id(v));
  }
  std::sort(attrs.labels.begin(), attrs.labels.end());
  if (!o.reporter().empty()) attrs.reporter = strings_.Id(o.reporter());
  const int64_t t = ToUs(o.time());
  const int64_t start = FloorTo(t, kBucketUs);
  Series& series = series_[SeriesKey(vs, strings_.Id(o.signal()))];
  auto [it, inserted] = series.buckets.try_emplace(start);
  if (inserted) TrimPrevious(series.buckets, it);
  // Buckets stay sorted by time (equal times in arrival order), so that a
  // window's partial minutes are found by binary search; data mostly
  // arrives in order, and a late sample moves a few dozen others at most.
  const Sample sample{o.value(), static_cast<uint32_t>(t - start),
                      AttrId(std::move(attrs))};
  Bucket& bucket = it->second;
  if (bucket.empty() || bucket.back().offset_us <= sample.offset_us) {
    bucket.push_back(sample);
  } else {
    bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), sample,
                                   [](const Sample& a, const Sample& b) {
                                     return a.offset_us < b.offset_us;
                                   }),
                  sample);
  }
  series.versions.Bump(t, ++seq_);
  return vs;
}

uint32_t RecordIndex::FindOrAddItem(int32_t value_stream,
                                    absl::string_view id) {
  auto it = item_set_.find(ItemKey{value_stream, id});
  if (it != item_set_.end()) return *it;
  const uint32_t index = items_.Append();
  Item& item = items_[index];
  item.value_stream = value_stream;
  item.id_offset = static_cast<uint32_t>(item_ids_.size());
  item.id_size = static_cast<uint16_t>(id.size());
  item_ids_.append(id.data(), id.size());
  item_set_.insert(index);
  return index;
}

int32_t RecordIndex::AddEvent(const v1::WorkItemEvent& e) {
  const int32_t vs = strings_.Id(e.value_stream());
  const uint32_t index = FindOrAddItem(vs, e.item_id());
  Item& item = items_[index];
  ItemEvent ev;
  ev.time_us = ToUs(e.time());
  ev.set_kind(e.kind());
  ev.team = e.team().empty() ? -1 : strings_.Id(e.team());
  ev.sla_met = e.sla_met();
  ev.first_contact = e.first_contact();
  item.events.push_back(ev);

  // Service and labels merge over the item's events: later values win.
  AttrSet attrs = item.attrs < 0 ? AttrSet() : attrs_[item.attrs];
  if (!e.service().empty()) attrs.service = strings_.Id(e.service());
  for (const auto& [k, v] : e.labels()) {
    const std::pair<int32_t, int32_t> label(strings_.Id(k), strings_.Id(v));
    auto pos = std::lower_bound(
        attrs.labels.begin(), attrs.labels.end(), label,
        [](const auto& a, const auto& b) { return a.first < b.first; });
    if (pos != attrs.labels.end() && pos->first == label.first) {
      pos->second = label.second;
    } else {
      attrs.labels.insert(pos, label);
    }
  }
  item.attrs = AttrId(std::move(attrs));

  const ItemFacts before = item.facts;
  item.facts = FactsOf(DeriveItem(item.events));
  Reindex(index, before);
  return vs;
}

void RecordIndex::Reindex(uint32_t index, const ItemFacts& before) {
  const Item& item = items_[index];
  ItemBuckets& index_of_stream = item_buckets_[item.value_stream];
  auto& buckets = index_of_stream.buckets;
  ++seq_;
  const bool was = before.counts();
  const bool is = item.facts.counts();
  const int64_t old_bucket = FloorTo(before.resolved_time_us, kBucketUs);
  const int64_t new_bucket = FloorTo(item.facts.resolved_time_us, kBucketUs);
  if (was && (!is || old_bucket != new_bucket)) {
    auto it = buckets.find(old_bucket);
    auto& list = it->second;
    list.erase(std::find(list.begin(), list.end(), index));
    if (list.empty()) buckets.erase(it);
  }
  if (is && (!was || old_bucket != new_bucket)) {
    auto [it, inserted] = buckets.try_emplace(new_bucket);
    if (inserted) TrimPrevious(buckets, it);
    it->second.push_back(index);
  }
  // Any change of a counted item changes the blocks it is in: its values
  // (a late event before the resolution changes the lead time).
  if (was) index_of_stream.versions.Bump(before.resolved_time_us, seq_);
  if (is) index_of_stream.versions.Bump(item.facts.resolved_time_us, seq_);
}

}  // namespace vla::evaluator
