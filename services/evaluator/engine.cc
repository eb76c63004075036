#include "services/evaluator/engine.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/proto_time.h"
#include "services/evaluator/vla_eval.h"

namespace vla::evaluator {
namespace {

constexpr int64_t kMinuteUs = 60LL * 1000 * 1000;
// Cached block sizes, largest first; the smallest is scanned from raw data.
constexpr int64_t kBlockUs[] = {24 * 60 * kMinuteUs, 60 * kMinuteUs,
                                5 * kMinuteUs};
constexpr int kLevels = 3;

int64_t FloorTo(int64_t t, int64_t unit) {
  int64_t q = t / unit;
  if (t % unit != 0 && t < 0) --q;
  return q * unit;
}

int64_t CeilTo(int64_t t, int64_t unit) { return -FloorTo(-t, unit); }

// Splits [from, to), both multiples of the smallest block, into the largest
// cached blocks, left to right: visit(0, start, end) once per run of whole
// days, visit(level, start, start + kBlockUs[level]) for each hour and
// 5-minute block.
template <typename Visit>
void ForEachBlock(int64_t from, int64_t to, Visit visit) {
  int64_t t = from;
  while (t < to) {
    if (t % kBlockUs[0] == 0 && t + kBlockUs[0] <= to) {
      const int64_t end = t + (to - t) / kBlockUs[0] * kBlockUs[0];
      visit(0, t, end);
      t = end;
      continue;
    }
    for (int l = 1; l < kLevels; ++l) {
      if (t % kBlockUs[l] == 0 && t + kBlockUs[l] <= to) {
        visit(l, t, t + kBlockUs[l]);
        t += kBlockUs[l];
        break;
      }
    }
  }
}

int64_t ToUs(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(FromProtoTime(t));
}

// Strings to dense ids.
class Interner {
 public:
  int32_t Id(const std::string& s) {
    auto [it, inserted] = ids_.emplace(s, static_cast<int32_t>(names_.size()));
    if (inserted) names_.push_back(s);
    return it->second;
  }
  int32_t Find(const std::string& s) const {
    auto it = ids_.find(s);
    return it == ids_.end() ? -1 : it->second;
  }
  const std::string& Name(int32_t id) const { return names_[id]; }

 private:
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<std::string> names_;
};

// Service, labels and reporter of a record, interned as one id.
struct AttrSet {
  int32_t service = -1;
  std::vector<std::pair<int32_t, int32_t>> labels;  // sorted by key
  int32_t reporter = -1;
  bool operator==(const AttrSet& o) const {
    return service == o.service && labels == o.labels && reporter == o.reporter;
  }
  template <typename H>
  friend H AbslHashValue(H h, const AttrSet& a) {
    return H::combine(std::move(h), a.service, a.labels, a.reporter);
  }
};

// Last modification (global sequence) of each cached block of a source.
struct BlockVersions {
  absl::flat_hash_map<int64_t, uint64_t> level[kLevels];
  uint64_t latest = 0;  // of any block
  void Bump(int64_t t_us, uint64_t seq) {
    for (int l = 0; l < kLevels; ++l)
      level[l][FloorTo(t_us, kBlockUs[l])] = seq;
    latest = seq;
  }
  uint64_t Get(int l, int64_t start) const {
    auto it = level[l].find(start);
    return it == level[l].end() ? 0 : it->second;
  }
  // The last modification of the blocks of level `l` in [from, to).
  uint64_t Modified(int l, int64_t from, int64_t to) const {
    uint64_t modified = 0;
    for (int64_t t = from; t < to; t += kBlockUs[l]) {
      modified = std::max(modified, Get(l, t));
    }
    return modified;
  }
};

struct Sample {
  int64_t time_us;
  double value;
  int32_t attrs;
};

struct Series {
  std::map<int64_t, std::vector<Sample>> minutes;
  BlockVersions versions;
};

struct ItemRecord {
  int32_t value_stream = -1;
  int32_t service = -1;
  std::map<int32_t, int32_t> labels;
  int32_t attrs = -1;
  std::vector<ItemEvent> events;
  DerivedItem derived;
  int64_t indexed_minute = -1;  // minute it is indexed under; -1: none
  bool indexed = false;
};

struct ItemIndex {
  std::map<int64_t, std::vector<int32_t>> minutes;  // by resolved minute
  BlockVersions versions;
};

// What one KVI (or one side of a RATIO or co-measured KVI) aggregates.
struct Selection {
  v1::Source source = v1::SOURCE_UNSPECIFIED;
  int32_t value_stream = -1;
  int32_t signal = -1;
  v1::WorkItemField field = v1::WORK_ITEM_FIELD_UNSPECIFIED;
  int32_t service = -1;  // -1: any
  std::vector<std::pair<int32_t, int32_t>> labels;
  bool by_reporter = false;
  absl::flat_hash_set<int32_t> reporters;
  AggregateSpec spec;
  // Cached aggregates per level and block start, with the global sequence
  // they were computed at.
  std::unordered_map<int64_t, std::pair<uint64_t, Aggregate>> cache[kLevels];
  std::vector<int8_t> match;  // per attrs id: -1 unknown, 0 no, 1 yes
  // Merged spans of the last window asked for, reused by a sliding window
  // until the span moves or a block in it changes: the run of whole days,
  // the window rounded inwards to 5-minute blocks, and the window rounded
  // inwards to minutes.
  struct Span {
    int64_t from = 0, to = 0;
    uint64_t computed_at = 0;
    std::optional<Aggregate> agg;
  };
  Span day_span;
  Span block_span;
  Span minute_span;
};

struct KviState {
  enum class Mode { kPlain, kRatio, kComeasured };
  Mode mode = Mode::kPlain;
  std::vector<std::unique_ptr<Selection>> selections;
  int32_t consumer = -1;
};

}  // namespace

struct Engine::State {
  Interner strings;
  absl::flat_hash_map<AttrSet, int32_t> attr_ids;
  std::vector<AttrSet> attrs;
  uint64_t seq = 0;

  // Definitions.
  std::set<std::string> teams;
  std::map<std::string, v1::ValueStream> value_streams;
  std::map<std::string, v1::Kvi> kvis;
  std::map<std::string, v1::Vla> vlas;

  // Data.
  std::unordered_map<uint64_t, Series> series;  // by (value stream, signal)
  absl::flat_hash_map<std::string, int32_t> item_ids;
  std::vector<ItemRecord> items;
  std::unordered_map<int32_t, ItemIndex> item_index;  // by value stream

  std::unordered_map<std::string, KviState> kvi_states;
  absl::flat_hash_set<int32_t> dirty_streams;
  bool definitions_dirty = true;

  static uint64_t SeriesKey(int32_t vs, int32_t signal) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(vs)) << 32) |
           static_cast<uint32_t>(signal);
  }

  int32_t AttrId(AttrSet a) {
    auto [it, inserted] =
        attr_ids.emplace(a, static_cast<int32_t>(attrs.size()));
    if (inserted) attrs.push_back(std::move(a));
    return it->second;
  }

  bool Matches(Selection& sel, int32_t attr) {
    if (static_cast<size_t>(attr) >= sel.match.size()) {
      sel.match.resize(attrs.size(), -1);
    }
    int8_t& m = sel.match[attr];
    if (m < 0) {
      const AttrSet& a = attrs[attr];
      bool ok = sel.service < 0 || a.service == sel.service;
      for (const auto& [k, v] : sel.labels) {
        if (!ok) break;
        auto it = std::lower_bound(a.labels.begin(), a.labels.end(),
                                   std::make_pair(k, INT32_MIN));
        ok = it != a.labels.end() && it->first == k && it->second == v;
      }
      if (ok && sel.by_reporter) ok = sel.reporters.contains(a.reporter);
      m = ok ? 1 : 0;
    }
    return m == 1;
  }

  const BlockVersions* VersionsOf(const Selection& sel) const {
    if (sel.source == v1::SOURCE_OBSERVATIONS) {
      auto it = series.find(SeriesKey(sel.value_stream, sel.signal));
      return it == series.end() ? nullptr : &it->second.versions;
    }
    auto it = item_index.find(sel.value_stream);
    return it == item_index.end() ? nullptr : &it->second.versions;
  }

  // Adds the values of `sel` with time in [from, to) from raw data.
  void ScanRaw(Selection& sel, int64_t from, int64_t to, Aggregate* out) {
    if (sel.source == v1::SOURCE_OBSERVATIONS) {
      auto sit = series.find(SeriesKey(sel.value_stream, sel.signal));
      if (sit == series.end()) return;
      auto& minutes = sit->second.minutes;
      for (auto it = minutes.lower_bound(FloorTo(from, kMinuteUs));
           it != minutes.end() && it->first < to; ++it) {
        for (const Sample& s : it->second) {
          if (s.time_us >= from && s.time_us < to && Matches(sel, s.attrs)) {
            out->Add(s.value);
          }
        }
      }
      return;
    }
    auto iit = item_index.find(sel.value_stream);
    if (iit == item_index.end()) return;
    auto& minutes = iit->second.minutes;
    for (auto it = minutes.lower_bound(FloorTo(from, kMinuteUs));
         it != minutes.end() && it->first < to; ++it) {
      for (int32_t idx : it->second) {
        const ItemRecord& item = items[idx];
        const int64_t t = item.derived.resolved_time_us;
        if (t < from || t >= to || !Matches(sel, item.attrs)) continue;
        if (auto v = FieldValue(item.derived, sel.field)) out->Add(*v);
      }
    }
  }

  // The aggregate of block `start` at `level`, from the cache when valid.
  const Aggregate* Block(Selection& sel, const BlockVersions& versions,
                         int level, int64_t start) {
    const uint64_t modified = versions.Get(level, start);
    if (modified == 0) return nullptr;  // no data ever
    auto& cache = sel.cache[level];
    auto it = cache.find(start);
    if (it != cache.end() && it->second.first >= modified) {
      return &it->second.second;
    }
    Aggregate agg(sel.spec);
    if (level == kLevels - 1) {
      ScanRaw(sel, start, start + kBlockUs[level], &agg);
    } else {
      // Days and hours are merged into windows often: their percentile
      // sketches are kept, so that a merge adds buckets, not values.
      agg.KeepSketch();
      for (int64_t t = start; t < start + kBlockUs[level];
           t += kBlockUs[level + 1]) {
        if (const Aggregate* child = Block(sel, versions, level + 1, t)) {
          agg.Merge(*child);
        }
      }
    }
    auto& slot =
        cache.insert_or_assign(start, std::make_pair(seq, agg)).first->second;
    return &slot.second;
  }

  // `span` holding [from, to) and computed after every modification in it;
  // `modified` gives the last modification of [from, to).
  template <typename Modified>
  static bool SpanIsValid(const Selection::Span& span,
                          const BlockVersions& versions, int64_t from,
                          int64_t to, Modified modified) {
    return span.agg.has_value() && span.from == from && span.to == to &&
           (span.computed_at >= versions.latest ||
            span.computed_at >= modified());
  }

  static const Aggregate& SetSpan(Selection::Span& span, int64_t from,
                                  int64_t to, uint64_t computed_at,
                                  Aggregate agg) {
    span.from = from;
    span.to = to;
    span.computed_at = computed_at;
    span.agg = std::move(agg);
    return *span.agg;
  }

  // The aggregate of the whole days [from, to), from the selection's day
  // span when no day in it changed.
  const Aggregate& Days(Selection& sel, const BlockVersions& versions,
                        int64_t from, int64_t to) {
    if (SpanIsValid(sel.day_span, versions, from, to,
                    [&] { return versions.Modified(0, from, to); })) {
      return *sel.day_span.agg;
    }
    Aggregate agg(sel.spec);
    for (int64_t d = from; d < to; d += kBlockUs[0]) {
      if (const Aggregate* b = Block(sel, versions, 0, d)) agg.Merge(*b);
    }
    return SetSpan(sel.day_span, from, to, seq, std::move(agg));
  }

  // The aggregate of [from, to), multiples of the smallest block, from the
  // selection's block span when no block in it changed: a window sliding
  // within a 5-minute block only adds its raw edges to it.
  const Aggregate& Blocks(Selection& sel, const BlockVersions& versions,
                          int64_t from, int64_t to) {
    const auto modified = [&] {
      uint64_t m = 0;
      ForEachBlock(from, to, [&](int level, int64_t start, int64_t end) {
        m = std::max(m, versions.Modified(level, start, end));
      });
      return m;
    };
    if (SpanIsValid(sel.block_span, versions, from, to, modified)) {
      return *sel.block_span.agg;
    }
    Aggregate agg(sel.spec);
    ForEachBlock(from, to, [&](int level, int64_t start, int64_t end) {
      if (level == 0) {
        agg.Merge(Days(sel, versions, start, end));
      } else if (const Aggregate* b = Block(sel, versions, level, start)) {
        agg.Merge(*b);
      }
    });
    return SetSpan(sel.block_span, from, to, seq, std::move(agg));
  }

  // The aggregate of [from, to), multiples of a minute, from the selection's
  // minute span when no 5-minute block it touches changed: the 5-minute
  // blocks inside it and the whole minutes at its two ends (scanned from raw
  // data once per minute the window slides, not once per evaluation).
  const Aggregate& Minutes(Selection& sel, const BlockVersions& versions,
                           int64_t from, int64_t to) {
    const int64_t unit = kBlockUs[kLevels - 1];
    const auto modified = [&] {
      return versions.Modified(kLevels - 1, FloorTo(from, unit),
                               CeilTo(to, unit));
    };
    if (SpanIsValid(sel.minute_span, versions, from, to, modified)) {
      return *sel.minute_span.agg;
    }
    const int64_t inner_from = CeilTo(from, unit);
    const int64_t inner_to = FloorTo(to, unit);
    Aggregate agg(sel.spec);
    if (inner_from >= inner_to) {
      ScanRaw(sel, from, to, &agg);
    } else {
      agg = Blocks(sel, versions, inner_from, inner_to);
      ScanRaw(sel, from, inner_from, &agg);
      ScanRaw(sel, inner_to, to, &agg);
    }
    return SetSpan(sel.minute_span, from, to, seq, std::move(agg));
  }

  // The aggregate of `sel` over [from, to): the whole minutes inside it
  // (cached), and the partial minutes at its ends scanned from raw data.
  Aggregate Range(Selection& sel, int64_t from, int64_t to) {
    const BlockVersions* versions = VersionsOf(sel);
    if (versions == nullptr) return Aggregate(sel.spec);
    const int64_t inner_from = CeilTo(from, kMinuteUs);
    const int64_t inner_to = FloorTo(to, kMinuteUs);
    if (inner_from >= inner_to) {
      Aggregate out(sel.spec);
      ScanRaw(sel, from, to, &out);
      return out;
    }
    Aggregate out = Minutes(sel, *versions, inner_from, inner_to);
    ScanRaw(sel, from, inner_from, &out);
    ScanRaw(sel, inner_to, to, &out);
    return out;
  }

  std::unique_ptr<Selection> MakeSelection(
      v1::Source source, const std::string& signal, v1::WorkItemField field,
      const v1::Scope& kvi_scope, const v1::Scope* extra_scope,
      int32_t value_stream, AggregateSpec spec) {
    auto sel = std::make_unique<Selection>();
    sel->source = source;
    sel->value_stream = value_stream;
    sel->signal = source == v1::SOURCE_OBSERVATIONS ? strings.Id(signal) : -1;
    sel->field = field;
    sel->spec = spec;
    std::map<int32_t, int32_t> labels;
    for (const v1::Scope* scope : {&kvi_scope, extra_scope}) {
      if (scope == nullptr) continue;
      if (!scope->service().empty())
        sel->service = strings.Id(scope->service());
      for (const auto& [k, v] : scope->labels()) {
        labels[strings.Id(k)] = strings.Id(v);
      }
    }
    sel->labels.assign(labels.begin(), labels.end());
    return sel;
  }

  KviState* StateOf(const std::string& name) {
    auto it = kvi_states.find(name);
    if (it != kvi_states.end()) return &it->second;
    auto kit = kvis.find(name);
    if (kit == kvis.end()) return nullptr;
    const v1::Kvi& kvi = kit->second;
    KviState st;
    const int32_t vs = strings.Id(kvi.value_stream());
    if (kvi.aggregation() == v1::AGGREGATION_RATIO) {
      st.mode = KviState::Mode::kRatio;
      for (const v1::Selection* side : {&kvi.numerator(), &kvi.denominator()}) {
        AggregateSpec spec;
        spec.aggregation = side->aggregation();
        st.selections.push_back(MakeSelection(side->source(), side->signal(),
                                              side->field(), kvi.scope(),
                                              &side->scope(), vs, spec));
      }
    } else {
      AggregateSpec spec;
      spec.aggregation = kvi.aggregation();
      spec.threshold = kvi.threshold();
      spec.percentile = kvi.percentile();
      if (kvi.co_measurement().enabled()) {
        st.mode = KviState::Mode::kComeasured;
        auto vsit = value_streams.find(kvi.value_stream());
        auto consumer = MakeSelection(kvi.source(), kvi.signal(), kvi.field(),
                                      kvi.scope(), nullptr, vs, spec);
        auto provider = MakeSelection(kvi.source(), kvi.signal(), kvi.field(),
                                      kvi.scope(), nullptr, vs, spec);
        consumer->by_reporter = provider->by_reporter = true;
        if (vsit != value_streams.end()) {
          st.consumer = strings.Id(vsit->second.consumer());
          consumer->reporters.insert(st.consumer);
          for (const std::string& p : vsit->second.providers()) {
            provider->reporters.insert(strings.Id(p));
          }
        }
        st.selections.push_back(std::move(consumer));
        st.selections.push_back(std::move(provider));
      } else {
        st.selections.push_back(MakeSelection(kvi.source(), kvi.signal(),
                                              kvi.field(), kvi.scope(), nullptr,
                                              vs, spec));
      }
    }
    return &kvi_states.emplace(name, std::move(st)).first->second;
  }

  // The KVI's window ending at `at`: [start, at).
  static int64_t WindowStart(const v1::Kvi& kvi, absl::Time at) {
    const v1::Window& w = kvi.window();
    if (w.has_rolling()) {
      return absl::ToUnixMicros(at - FromProtoDuration(w.rolling()));
    }
    absl::TimeZone tz = absl::UTCTimeZone();
    // Validation refused unknown zones; a zone missing from this machine's
    // tzdata falls back to UTC.
    if (!w.time_zone().empty() && !absl::LoadTimeZone(w.time_zone(), &tz)) {
      tz = absl::UTCTimeZone();
    }
    const absl::CivilSecond now = absl::ToCivilSecond(at, tz);
    absl::CivilSecond start;
    switch (w.calendar()) {
      case v1::CALENDAR_PERIOD_QUARTER:
        start = absl::CivilMonth(now.year(), (now.month() - 1) / 3 * 3 + 1);
        break;
      case v1::CALENDAR_PERIOD_YEAR:
        start = absl::CivilYear(now.year());
        break;
      default:
        start = absl::CivilMonth(now);
        break;
    }
    return absl::ToUnixMicros(absl::FromCivil(start, tz));
  }

  // KVI values computed at an instant, valid while no data or definition
  // changes: an evaluation pass computes each KVI once for all its VLAs.
  struct CachedValue {
    int64_t at_us;
    uint64_t seq;
    v1::KviValue value;
  };
  std::unordered_map<std::string, CachedValue> value_cache;

  // The value stays valid until the next ComputeKvi of `name` (or a change
  // of definitions).
  const v1::KviValue& ComputeKvi(const std::string& name, absl::Time at) {
    const int64_t at_us = absl::ToUnixMicros(at);
    auto cached = value_cache.find(name);
    if (cached != value_cache.end() && cached->second.at_us == at_us &&
        cached->second.seq == seq) {
      return cached->second.value;
    }
    return value_cache
        .insert_or_assign(name,
                          CachedValue{at_us, seq, ComputeKviUncached(name, at)})
        .first->second.value;
  }

  v1::KviValue ComputeKviUncached(const std::string& name, absl::Time at) {
    v1::KviValue out;
    out.set_kvi(name);
    KviState* st = StateOf(name);
    if (st == nullptr) return out;
    const v1::Kvi& kvi = kvis.at(name);
    const int64_t end = absl::ToUnixMicros(at);
    const int64_t start = std::min(WindowStart(kvi, at), end);
    *out.mutable_window_start() = ToProtoTime(absl::FromUnixMicros(start));
    *out.mutable_window_end() = ToProtoTime(at);
    const absl::Duration length = absl::Microseconds(end - start);
    const int64_t min_samples = std::max(1, kvi.min_samples());
    out.set_comeasurement(v1::CO_MEASUREMENT_STATE_NOT_COMEASURED);
    switch (st->mode) {
      case KviState::Mode::kRatio: {
        const Aggregate num = Range(*st->selections[0], start, end);
        const Aggregate den = Range(*st->selections[1], start, end);
        auto total = [](const Selection& sel, const Aggregate& a) {
          return sel.spec.aggregation == v1::AGGREGATION_SUM
                     ? a.sum()
                     : static_cast<double>(a.count());
        };
        const double n = total(*st->selections[0], num);
        const double d = total(*st->selections[1], den);
        out.set_samples(den.count());
        if (den.count() >= min_samples && d != 0) {
          out.set_has_value(true);
          out.set_value(n / d);
        }
        break;
      }
      case KviState::Mode::kPlain: {
        const Aggregate a = Range(*st->selections[0], start, end);
        out.set_samples(a.count());
        if (a.count() >= min_samples) {
          if (auto v = a.Value(length)) {
            out.set_has_value(true);
            out.set_value(*v);
          }
        }
        break;
      }
      case KviState::Mode::kComeasured: {
        std::optional<double> side[2];
        int64_t samples = 0;
        for (int i = 0; i < 2; ++i) {
          const Aggregate a = Range(*st->selections[i], start, end);
          samples += a.count();
          if (a.count() >= min_samples) side[i] = a.Value(length);
        }
        out.set_samples(samples);
        auto& parties = *out.mutable_party_values();
        if (side[0]) parties[strings.Name(st->consumer)] = *side[0];
        if (side[1]) {
          // The provider side is one value; every provider of the value
          // stream is listed with it.
          for (int32_t p : st->selections[1]->reporters) {
            parties[strings.Name(p)] = *side[1];
          }
        }
        if (side[0] && side[1]) {
          const v1::CoMeasurement& cm = kvi.co_measurement();
          const double diff = std::fabs(*side[0] - *side[1]);
          const bool disputed =
              (cm.absolute_tolerance() > 0 && diff > cm.absolute_tolerance()) ||
              (cm.relative_tolerance() > 0 &&
               diff > cm.relative_tolerance() * std::fabs(*side[0]));
          out.set_has_value(true);
          if (disputed) {
            out.set_comeasurement(v1::CO_MEASUREMENT_STATE_DISPUTED);
            out.set_value(*side[0]);  // the consumer's view
          } else {
            out.set_comeasurement(v1::CO_MEASUREMENT_STATE_AGREED);
            out.set_value((*side[0] + *side[1]) / 2);
          }
        } else if (side[0] || side[1]) {
          out.set_comeasurement(v1::CO_MEASUREMENT_STATE_ONE_SIDED);
          out.set_has_value(true);
          out.set_value(side[0] ? *side[0] : *side[1]);
        }
        break;
      }
    }
    return out;
  }

  void InvalidateDefinitions() {
    kvi_states.clear();
    value_cache.clear();
    definitions_dirty = true;
  }
};

Engine::Engine(const Clock* clock)
    : state_(std::make_unique<State>()), clock_(clock) {}

Engine::~Engine() = default;

void Engine::ApplyChange(const v1::Change& change) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  const bool deleted = change.kind() == v1::CHANGE_KIND_DELETED;
  switch (change.resource_case()) {
    case v1::Change::kTeam:
      if (deleted) {
        s.teams.erase(change.name());
      } else {
        s.teams.insert(change.name());
      }
      break;
    case v1::Change::kValueStream:
      if (deleted) {
        s.value_streams.erase(change.name());
      } else {
        s.value_streams[change.name()] = change.value_stream();
      }
      break;
    case v1::Change::kKvi:
      if (deleted) {
        s.kvis.erase(change.name());
      } else {
        s.kvis[change.name()] = change.kvi();
      }
      break;
    case v1::Change::kVla:
      if (deleted) {
        s.vlas.erase(change.name());
      } else {
        s.vlas[change.name()] = change.vla();
      }
      break;
    default:
      return;  // objectives are not the evaluator's business
  }
  s.InvalidateDefinitions();
}

void Engine::LoadDefinition(absl::string_view, absl::string_view data) {
  v1::Change change;
  if (change.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    ApplyChange(change);
  }
}

namespace {

absl::Status Reject(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

absl::Status CheckLabels(
    const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > IngestLimits::kMaxLabels) {
    return Reject(absl::StrCat("labels: more than ", IngestLimits::kMaxLabels));
  }
  for (const auto& [k, v] : labels) {
    if (k.empty()) return Reject("labels: empty key");
    if (k.size() > IngestLimits::kMaxLabelKey) {
      return Reject(absl::StrCat("labels: key longer than ",
                                 IngestLimits::kMaxLabelKey, " characters"));
    }
    if (v.size() > IngestLimits::kMaxLabelValue) {
      return Reject(absl::StrCat("labels[\"", k, "\"]: longer than ",
                                 IngestLimits::kMaxLabelValue, " characters"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCommon(
    const std::string& event_id, const google::protobuf::Timestamp& time,
    bool has_time, const std::string& value_stream, const std::string& service,
    const std::map<std::string, v1::ValueStream>& known_streams,
    absl::Time now) {
  if (event_id.empty()) return Reject("event_id: required");
  if (event_id.size() > IngestLimits::kMaxEventId) {
    return Reject(absl::StrCat("event_id: longer than ",
                               IngestLimits::kMaxEventId, " characters"));
  }
  if (!has_time) return Reject("time: required");
  if (!IsValidProtoTime(time)) return Reject("time: invalid timestamp");
  if (FromProtoTime(time) > now + IngestLimits::kMaxFuture) {
    return Reject("time: more than a day in the future");
  }
  if (value_stream.empty()) return Reject("value_stream: required");
  if (!known_streams.count(value_stream)) {
    return Reject(absl::StrCat("value_stream: ", value_stream.substr(0, 100),
                               " is not a known value stream"));
  }
  if (service.size() > IngestLimits::kMaxName) {
    return Reject("service: too long");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Engine::CheckObservation(const v1::Observation& o) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckObservationLocked(o, clock_->Now());
}

absl::Status Engine::CheckObservationLocked(const v1::Observation& o,
                                            absl::Time now) const {
  if (auto s =
          CheckCommon(o.event_id(), o.time(), o.has_time(), o.value_stream(),
                      o.service(), state_->value_streams, now);
      !s.ok()) {
    return s;
  }
  if (o.signal().empty()) return Reject("signal: required");
  if (o.signal().size() > IngestLimits::kMaxName)
    return Reject("signal: too long");
  if (!std::isfinite(o.value()))
    return Reject("value: must be a finite number");
  if (!o.reporter().empty() && !state_->teams.count(o.reporter())) {
    return Reject(absl::StrCat("reporter: ", o.reporter().substr(0, 100),
                               " is not a known team"));
  }
  return CheckLabels(o.labels());
}

absl::Status Engine::CheckEvent(const v1::WorkItemEvent& e) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckEventLocked(e, clock_->Now());
}

absl::Status Engine::CheckEventLocked(const v1::WorkItemEvent& e,
                                      absl::Time now) const {
  if (auto s =
          CheckCommon(e.event_id(), e.time(), e.has_time(), e.value_stream(),
                      e.service(), state_->value_streams, now);
      !s.ok()) {
    return s;
  }
  if (e.item_id().empty()) return Reject("item_id: required");
  if (e.item_id().size() > IngestLimits::kMaxName)
    return Reject("item_id: too long");
  if (!v1::ItemType_IsValid(e.item_type()))
    return Reject("item_type: unknown value");
  if (!v1::EventKind_IsValid(e.kind()) ||
      e.kind() == v1::EVENT_KIND_UNSPECIFIED) {
    return Reject("kind: unknown or unset event kind");
  }
  if (e.kind() == v1::EVENT_KIND_ASSIGNED) {
    if (e.team().empty()) return Reject("team: required for ASSIGNED");
    if (!state_->teams.count(e.team())) {
      return Reject(absl::StrCat("team: ", e.team().substr(0, 100),
                                 " is not a known team"));
    }
  }
  if (e.reason().size() > IngestLimits::kMaxName)
    return Reject("reason: too long");
  return CheckLabels(e.labels());
}

void Engine::AddObservation(const v1::Observation& o) {
  std::lock_guard<std::mutex> lock(mu_);
  AddObservationLocked(o);
}

void Engine::AddEvent(const v1::WorkItemEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  AddEventLocked(e);
}

std::vector<absl::Status> Engine::CheckBatch(
    const v1::IngestRequest& batch) const {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  std::vector<absl::Status> out;
  out.reserve(batch.observations_size() + batch.work_item_events_size());
  for (const auto& o : batch.observations()) {
    out.push_back(CheckObservationLocked(o, now));
  }
  for (const auto& e : batch.work_item_events()) {
    out.push_back(CheckEventLocked(e, now));
  }
  return out;
}

void Engine::AddBatch(const std::vector<const v1::Observation*>& observations,
                      const std::vector<const v1::WorkItemEvent*>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto* o : observations) AddObservationLocked(*o);
  for (const auto* e : events) AddEventLocked(*e);
}

void Engine::AddObservationLocked(const v1::Observation& o) {
  State& s = *state_;
  const int32_t vs = s.strings.Id(o.value_stream());
  AttrSet attrs;
  if (!o.service().empty()) attrs.service = s.strings.Id(o.service());
  for (const auto& [k, v] : o.labels()) {
    attrs.labels.emplace_back(s.strings.Id(k), s.strings.Id(v));
  }
  std::sort(attrs.labels.begin(), attrs.labels.end());
  if (!o.reporter().empty()) attrs.reporter = s.strings.Id(o.reporter());
  const int64_t t = ToUs(o.time());
  Series& series = s.series[State::SeriesKey(vs, s.strings.Id(o.signal()))];
  series.minutes[FloorTo(t, kMinuteUs)].push_back(
      {t, o.value(), s.AttrId(std::move(attrs))});
  series.versions.Bump(t, ++s.seq);
  s.dirty_streams.insert(vs);
}

void Engine::AddEventLocked(const v1::WorkItemEvent& e) {
  State& s = *state_;
  const int32_t vs = s.strings.Id(e.value_stream());
  const std::string key = absl::StrCat(e.value_stream(), "\n", e.item_id());
  auto [it, inserted] =
      s.item_ids.emplace(key, static_cast<int32_t>(s.items.size()));
  if (inserted) s.items.emplace_back().value_stream = vs;
  const int32_t idx = it->second;
  ItemRecord& item = s.items[idx];
  ItemEvent ev;
  ev.time_us = ToUs(e.time());
  ev.set_kind(e.kind());
  ev.team = e.team().empty() ? -1 : s.strings.Id(e.team());
  ev.sla_met = e.sla_met();
  ev.first_contact = e.first_contact();
  item.events.push_back(ev);
  if (!e.service().empty()) item.service = s.strings.Id(e.service());
  for (const auto& [k, v] : e.labels()) {
    item.labels[s.strings.Id(k)] = s.strings.Id(v);
  }
  AttrSet attrs;
  attrs.service = item.service;
  attrs.labels.assign(item.labels.begin(), item.labels.end());
  item.attrs = s.AttrId(std::move(attrs));
  item.derived = DeriveItem(item.events);

  ItemIndex& index = s.item_index[vs];
  const bool counts = item.derived.resolved && !item.derived.cancelled;
  const int64_t minute =
      counts ? FloorTo(item.derived.resolved_time_us, kMinuteUs) : -1;
  ++s.seq;
  if (item.indexed && (!counts || minute != item.indexed_minute)) {
    auto& list = index.minutes[item.indexed_minute];
    list.erase(std::find(list.begin(), list.end(), idx));
    index.versions.Bump(item.indexed_minute, s.seq);
    item.indexed = false;
  }
  if (counts) {
    if (!item.indexed) index.minutes[minute].push_back(idx);
    item.indexed = true;
    item.indexed_minute = minute;
    index.versions.Bump(minute, s.seq);
  }
  s.dirty_streams.insert(vs);
}

absl::StatusOr<v1::KviValue> Engine::KviValue(const std::string& kvi,
                                              absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state_->kvis.count(kvi)) {
    return absl::NotFoundError(absl::StrCat(kvi, " not found"));
  }
  return state_->ComputeKvi(kvi, at);
}

absl::StatusOr<v1::VlaStatus> Engine::VlaStatus(const std::string& name,
                                                absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  auto it = s.vlas.find(name);
  if (it == s.vlas.end()) {
    return absl::NotFoundError(absl::StrCat(name, " not found"));
  }
  const v1::Vla& vla = it->second;
  if (vla.state() != v1::VLA_STATE_ACTIVE) {
    return absl::FailedPreconditionError(
        absl::StrCat(name, " is ", v1::VlaState_Name(vla.state()),
                     "; only ACTIVE VLAs are evaluated"));
  }
  return EvaluateVla(
      vla,
      [&](const std::string& kvi) {
        KviInput in;
        auto kit = s.kvis.find(kvi);
        if (kit == s.kvis.end()) return in;
        in.kvi = &kit->second;
        in.value = &s.ComputeKvi(kvi, at);
        return in;
      },
      at);
}

absl::StatusOr<v1::ValueStreamFlow> Engine::Flow(
    const std::string& value_stream, absl::Duration window, absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  if (!s.value_streams.count(value_stream)) {
    return absl::NotFoundError(absl::StrCat(value_stream, " not found"));
  }
  v1::ValueStreamFlow flow;
  flow.set_value_stream(value_stream);
  const int64_t end = absl::ToUnixMicros(at);
  const int64_t start = absl::ToUnixMicros(at - window);
  *flow.mutable_window_start() = ToProtoTime(at - window);
  *flow.mutable_window_end() = ToProtoTime(at);
  struct TeamAcc {
    int64_t items = 0;
    double active = 0, wait = 0;
  };
  std::map<std::string, TeamAcc> teams;
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, double>>
      seams;
  double sum_active = 0, sum_lead = 0;
  const int32_t vs = s.strings.Find(value_stream);
  auto iit = s.item_index.find(vs);
  if (vs >= 0 && iit != s.item_index.end()) {
    auto& minutes = iit->second.minutes;
    for (auto it = minutes.lower_bound(FloorTo(start, kMinuteUs));
         it != minutes.end() && it->first < end; ++it) {
      for (int32_t idx : it->second) {
        const DerivedItem& d = s.items[idx].derived;
        if (d.resolved_time_us < start || d.resolved_time_us >= end) continue;
        flow.set_resolved_items(flow.resolved_items() + 1);
        if (d.ping_pong) flow.set_ping_pong_items(flow.ping_pong_items() + 1);
        sum_active += d.active_time;
        sum_lead += d.lead_time;
        for (const Custody& c : d.custody) {
          TeamAcc& acc = teams[s.strings.Name(c.team)];
          ++acc.items;
          acc.active += c.active_seconds;
          acc.wait += c.wait_seconds;
        }
        for (const Handoff& h : d.handoffs_detail) {
          auto& seam =
              seams[{s.strings.Name(h.from_team), s.strings.Name(h.to_team)}];
          ++seam.first;
          seam.second += h.wait_seconds;
        }
      }
    }
  }
  for (const auto& [team, acc] : teams) {
    v1::TeamFlow* t = flow.add_teams();
    t->set_team(team);
    t->set_items(acc.items);
    t->set_active_seconds(acc.active);
    t->set_wait_seconds(acc.wait);
  }
  for (const auto& [key, seam] : seams) {
    v1::Seam* out = flow.add_seams();
    out->set_from_team(key.first);
    out->set_to_team(key.second);
    out->set_handoffs(seam.first);
    out->set_mean_wait_seconds(seam.second / seam.first);
  }
  if (sum_lead > 0) flow.set_flow_efficiency(sum_active / sum_lead);
  return flow;
}

std::vector<std::string> Engine::ActiveVlas() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, vla] : state_->vlas) {
    if (vla.state() == v1::VLA_STATE_ACTIVE) out.push_back(name);
  }
  return out;
}

FilterAttributes Engine::VlaAttributes(const std::string& name,
                                       const v1::VlaStatus& status) const {
  std::lock_guard<std::mutex> lock(mu_);
  FilterAttributes attrs;
  attrs["state"] = {v1::ComplianceState_Name(status.state())};
  attrs["watermelon"] = {status.watermelon() ? "true" : "false"};
  attrs["disputed"] = {status.disputed() ? "true" : "false"};
  auto it = state_->vlas.find(name);
  if (it != state_->vlas.end()) {
    attrs["value_stream"] = {it->second.value_stream()};
    auto& teams = attrs["team"];
    teams.push_back(it->second.consumer());
    for (const std::string& p : it->second.providers()) teams.push_back(p);
  }
  return attrs;
}

std::vector<std::string> Engine::KviNames() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(state_->kvis.size());
  for (const auto& [name, kvi] : state_->kvis) out.push_back(name);
  return out;
}

FilterAttributes Engine::KviAttributes(const std::string& kvi) const {
  std::lock_guard<std::mutex> lock(mu_);
  FilterAttributes attrs;
  attrs["kvi"] = {kvi};
  auto it = state_->kvis.find(kvi);
  if (it != state_->kvis.end()) {
    attrs["value_stream"] = {it->second.value_stream()};
  }
  return attrs;
}

Engine::Dirty Engine::TakeDirty() {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  Dirty out;
  auto kvi_dirty = [&](const std::string& kvi_name) {
    if (s.definitions_dirty) return true;
    auto k = s.kvis.find(kvi_name);
    if (k == s.kvis.end()) return false;
    return s.dirty_streams.contains(s.strings.Find(k->second.value_stream()));
  };
  for (const auto& [name, kvi] : s.kvis) {
    if (kvi_dirty(name)) out.kvis.insert(name);
  }
  for (const auto& [name, vla] : s.vlas) {
    if (vla.state() != v1::VLA_STATE_ACTIVE) continue;
    bool dirty = s.definitions_dirty;
    for (const v1::Clause& c : vla.clauses())
      dirty = dirty || kvi_dirty(c.kvi());
    if (vla.has_sla()) dirty = dirty || kvi_dirty(vla.sla().kvi());
    if (dirty) out.vlas.insert(name);
  }
  s.dirty_streams.clear();
  s.definitions_dirty = false;
  return out;
}

}  // namespace vla::evaluator
