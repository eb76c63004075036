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

namespace vla::evaluator {

std::vector<uint64_t> RecordIndex::SeriesKeys() const {
  std::vector<uint64_t> keys;
  keys.reserve(series_.size());
  for (const auto& [key, series] : series_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void RecordIndex::SaveSeries(uint64_t key, ByteWriter* out) const {
  const Series& series = series_.at(key);
  out->Put<uint64_t>(key);
  out->Put<uint32_t>(static_cast<uint32_t>(series.buckets.size()));
  for (const auto& [start, bucket] : series.buckets) {
    out->Put<int64_t>(start);
    out->Put<uint32_t>(static_cast<uint32_t>(bucket.size()));
    out->PutArray(bucket.data(), bucket.size());
  }
}

void RecordIndex::SaveItems(uint32_t begin, uint32_t end,
                            ByteWriter* out) const {
  out->Put<uint32_t>(begin);
  out->Put<uint32_t>(end);
  for (uint32_t i = begin; i < end; ++i) {
    const Item& item = items_[i];
    out->Put<int32_t>(item.value_stream);
    out->Put<int32_t>(item.attrs);
    out->PutString(ItemId(item));
    out->Put<ItemFacts>(item.facts);
    out->Put<uint32_t>(static_cast<uint32_t>(item.events.size()));
    out->PutArray(item.events.data(), item.events.size());
  }
}

void RecordIndex::SaveTables(ByteWriter* out) const {
  const size_t strings = strings_.size();
  out->Put<uint32_t>(static_cast<uint32_t>(strings));
  for (size_t i = 0; i < strings; ++i) {
    out->PutString(strings_.Name(static_cast<int32_t>(i)));
  }
  out->Put<uint32_t>(static_cast<uint32_t>(attrs_.size()));
  for (const AttrSet& a : attrs_) {
    out->Put<int32_t>(a.service);
    out->Put<int32_t>(a.reporter);
    out->Put<uint32_t>(static_cast<uint32_t>(a.labels.size()));
    for (const auto& [key, value] : a.labels) {
      out->Put<int32_t>(key);
      out->Put<int32_t>(value);
    }
  }
}

bool RecordIndex::LoadTables(ByteReader* in) {
  if (strings_.size() != 0 || !attrs_.empty()) return false;
  const uint32_t strings = in->Get<uint32_t>();
  for (uint32_t i = 0; i < strings && in->ok(); ++i) {
    if (strings_.Id(in->GetString()) != static_cast<int32_t>(i)) return false;
  }
  const auto is_string = [&](int32_t id, bool optional) {
    return (optional && id == -1) ||
           (id >= 0 && static_cast<size_t>(id) < strings_.size());
  };
  const uint32_t attrs = in->Get<uint32_t>();
  for (uint32_t i = 0; i < attrs && in->ok(); ++i) {
    AttrSet a;
    a.service = in->Get<int32_t>();
    a.reporter = in->Get<int32_t>();
    const uint32_t labels = in->Get<uint32_t>();
    for (uint32_t l = 0; l < labels && in->ok(); ++l) {
      const int32_t key = in->Get<int32_t>();
      a.labels.emplace_back(key, in->Get<int32_t>());
    }
    if (!is_string(a.service, true) || !is_string(a.reporter, true)) {
      return false;
    }
    for (size_t l = 0; l < a.labels.size(); ++l) {
      if (!is_string(a.labels[l].first, false) ||
          !is_string(a.labels[l].second, false) ||
          (l > 0 && a.labels[l - 1].first >= a.labels[l].first)) {
        return false;
      }
    }
    if (AttrId(std::move(a)) != static_cast<int32_t>(i)) return false;
  }
  return in->ok() && in->done();
}

bool RecordIndex::LoadSeries(ByteReader* in, uint64_t* key) {
  *key = in->Get<uint64_t>();
  const auto vs = static_cast<int32_t>(*key >> 32);
  const auto signal = static_cast<int32_t>(*key & 0xffffffffu);
  if (vs < 0 || signal < 0 || static_cast<size_t>(vs) >= strings_.size() ||
      static_cast<size_t>(signal) >= strings_.size() ||
      series_.contains(*key)) {
    return false;
  }
  Series& series = series_[*key];
  const uint32_t buckets = in->Get<uint32_t>();
  for (uint32_t b = 0; b < buckets && in->ok(); ++b) {
    const int64_t start = in->Get<int64_t>();
    if (start % kBucketUs != 0 ||
        (!series.buckets.empty() && series.buckets.rbegin()->first >= start)) {
      return false;
    }
    Bucket& bucket =
        series.buckets.emplace_hint(series.buckets.end(), start, Bucket())
            ->second;
    in->GetArray(in->Get<uint32_t>(), &bucket);
    for (size_t i = 0; i < bucket.size(); ++i) {
      const Sample& s = bucket[i];
      if (s.offset_us >= kBucketUs || s.attrs < 0 ||
          static_cast<size_t>(s.attrs) >= attrs_.size() ||
          (i > 0 && bucket[i - 1].offset_us > s.offset_us)) {
        return false;
      }
    }
    if (!bucket.empty()) series.versions.Bump(start, ++seq_);
  }
  return in->ok() && in->done();
}

bool RecordIndex::LoadItems(ByteReader* in, uint32_t* begin, uint32_t* end) {
  *begin = in->Get<uint32_t>();
  *end = in->Get<uint32_t>();
  if (*begin != items_.size() || *end < *begin) return false;
  std::vector<ItemEvent> events;
  for (uint32_t i = *begin; i < *end && in->ok(); ++i) {
    const int32_t vs = in->Get<int32_t>();
    const int32_t attrs = in->Get<int32_t>();
    const absl::string_view id = in->GetString();
    const ItemFacts facts = in->Get<ItemFacts>();
    in->GetArray(in->Get<uint32_t>(), &events);
    if (!in->ok() || vs < 0 || static_cast<size_t>(vs) >= strings_.size() ||
        attrs < 0 || static_cast<size_t>(attrs) >= attrs_.size() ||
        id.size() > 0xffff || item_set_.contains(ItemKey{vs, id})) {
      return false;
    }
    for (const ItemEvent& e : events) {
      if (e.team < -1 ||
          (e.team >= 0 && static_cast<size_t>(e.team) >= strings_.size()) ||
          !v1::EventKind_IsValid(e.kind())) {
        return false;
      }
    }
    const uint32_t index = FindOrAddItem(vs, id);
    Item& item = items_[index];
    item.attrs = attrs;
    item.events.assign(events.begin(), events.end());
    item.facts = facts;
    Reindex(index, ItemFacts());
  }
  return in->ok() && in->done();
}

std::optional<uint64_t> RecordIndex::SeriesOf(const v1::Observation& o) const {
  const int32_t vs = strings_.Find(o.value_stream());
  const int32_t signal = strings_.Find(o.signal());
  if (vs < 0 || signal < 0) return std::nullopt;
  return SeriesKey(vs, signal);
}

std::optional<uint32_t> RecordIndex::ItemOf(const v1::WorkItemEvent& e) const {
  const int32_t vs = strings_.Find(e.value_stream());
  if (vs < 0) return std::nullopt;
  auto it = item_set_.find(ItemKey{vs, e.item_id()});
  if (it == item_set_.end()) return std::nullopt;
  return *it;
}

}  // namespace vla::evaluator
