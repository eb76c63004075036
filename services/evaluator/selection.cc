#include "services/evaluator/selection.h"

#include <algorithm>
#include <climits>

namespace vla::evaluator {

Selection::Selection(const SelectionDef& def, RecordIndex* index)
    : field_(def.field), by_reporter_(def.by_reporter), spec_(def.spec) {
  Interner& strings = index->strings();
  source_.source = def.source;
  source_.value_stream = strings.Id(def.value_stream);
  if (def.source == v1::SOURCE_OBSERVATIONS) {
    source_.signal = strings.Id(def.signal);
  }
  if (!def.service.empty()) service_ = strings.Id(def.service);
  for (const auto& [k, v] : def.labels) {
    labels_.emplace_back(strings.Id(k), strings.Id(v));
  }
  std::sort(labels_.begin(), labels_.end());
  for (const std::string& r : def.reporters) reporters_.insert(strings.Id(r));
}

bool Selection::Matches(const RecordIndex& index, int32_t attrs) {
  if (static_cast<size_t>(attrs) >= match_.size()) {
    match_.resize(index.attr_count(), -1);
  }
  int8_t& m = match_[attrs];
  if (m < 0) {
    const AttrSet& a = index.attrs(attrs);
    bool ok = service_ < 0 || a.service == service_;
    for (const auto& [k, v] : labels_) {
      if (!ok) break;
      auto it = std::lower_bound(a.labels.begin(), a.labels.end(),
                                 std::make_pair(k, INT32_MIN));
      ok = it != a.labels.end() && it->first == k && it->second == v;
    }
    if (ok && by_reporter_) ok = reporters_.contains(a.reporter);
    m = ok ? 1 : 0;
  }
  return m == 1;
}

void Selection::Scan(const RecordIndex& index, int64_t from, int64_t to,
                     Aggregate* out) {
  if (source_.source == v1::SOURCE_OBSERVATIONS) {
    index.ForEachObservation(source_, from, to,
                             [&](int32_t attrs, double value) {
                               if (Matches(index, attrs)) out->Add(value);
                             });
    return;
  }
  index.ForEachItem(source_.value_stream, from, to, [&](const Item& item) {
    if (!Matches(index, item.attrs)) return;
    if (auto v = FieldValue(item.facts, field_)) out->Add(*v);
  });
}

Aggregate Selection::Range(const RecordIndex& index, int64_t from, int64_t to,
                           SpanSlot slot) {
  const BlockVersions* versions = index.Versions(source_);
  if (versions == nullptr) return Aggregate(spec_);
  return cache_.Range(
      *versions, index.seq(), from, to,
      [this](bool block) {
        Aggregate a(spec_);
        // Day and hour blocks are merged into windows often: their
        // percentile sketches are kept, so that a merge adds buckets.
        if (block) a.KeepSketch();
        return a;
      },
      [&](int64_t a, int64_t b, Aggregate* out) { Scan(index, a, b, out); },
      slot);
}

}  // namespace vla::evaluator
