#include "services/evaluator/engine.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "services/evaluator/definitions.h"
#include "services/evaluator/flow.h"
#include "services/evaluator/kvi_value.h"
#include "services/evaluator/range_cache.h"
#include "services/evaluator/record_index.h"
#include "services/evaluator/selection.h"
#include "services/evaluator/snapshot_file.h"
#include "services/evaluator/vla_eval.h"

namespace vla::evaluator {

bool Definitions::Apply(const v1::Change& change) {
  const bool deleted = change.kind() == v1::CHANGE_KIND_DELETED;
  // Sets or erases `map[name]`.
  auto apply = [&](auto& map, const auto& resource) {
    if (deleted) {
      map.erase(change.name());
    } else {
      map[change.name()] = resource;
    }
  };
  switch (change.resource_case()) {
    case v1::Change::kTeam:
      if (deleted) {
        teams.erase(change.name());
      } else {
        teams.insert(change.name());
      }
      return true;
    case v1::Change::kValueStream:
      apply(value_streams, change.value_stream());
      return true;
    case v1::Change::kKvi:
      apply(kvis, change.kvi());
      return true;
    case v1::Change::kVla:
      apply(vlas, change.vla());
      if (!deleted) vla_revisions.Add(change.revision(), change.vla());
      return true;
    default:
      return false;  // objectives are not the evaluator's business
  }
}

std::vector<IngestRecord> RecordsOf(const v1::IngestRequest& batch) {
  std::vector<IngestRecord> records;
  records.reserve(batch.observations_size() + batch.work_item_events_size());
  for (int i = 0; i < batch.observations_size(); ++i) {
    IngestRecord& r = records.emplace_back();
    r.observation = &batch.observations(i);
    r.index = i;
  }
  for (int i = 0; i < batch.work_item_events_size(); ++i) {
    IngestRecord& r = records.emplace_back();
    r.event = &batch.work_item_events(i);
    r.index = i;
  }
  return records;
}

// Section types of the snapshot file.
enum SnapshotSection : uint8_t {
  kSeriesSection = 1,
  kItemsSection = 2,
  kTablesSection = 3,
  kCoverSection = 4,  // the sequence the whole snapshot covers
};
constexpr uint32_t kItemsPerPiece = 4096;

struct Engine::State {
  Definitions defs;
  std::unique_ptr<RecordIndex> index_ptr = std::make_unique<RecordIndex>();
  RecordIndex& index() { return *index_ptr; }
  int64_t applied_seq = 0;

  // What a loaded snapshot's pieces hold, while the records after it are
  // replayed: each series and each run of items up to a sequence.
  struct Coverage {
    absl::flat_hash_map<uint64_t, int64_t> series;
    std::vector<int64_t> items;  // per kItemsPerPiece items
  };
  std::unique_ptr<Coverage> coverage;

  // A KVI's selections bound to the index, built on first use after its
  // definition (or its value stream's) changed.
  struct KviPlan {
    std::vector<std::unique_ptr<Selection>> selections;
    Parties parties;
  };
  std::unordered_map<std::string, KviPlan> plans;

  // KVI values computed at an instant, valid while no data or definition
  // changes: an evaluation pass computes each KVI once for all its VLAs.
  struct CachedValue {
    int64_t at_us;
    uint64_t seq;
    v1::KviValue value;
  };
  std::unordered_map<std::string, CachedValue> value_cache;

  // The flow of each value stream, cached per block.
  absl::flat_hash_map<int32_t, RangeCache<FlowAggregate>> flows;

  absl::flat_hash_set<int32_t> dirty_streams;
  bool definitions_dirty = true;

  KviPlan* PlanOf(const std::string& name) {
    auto it = plans.find(name);
    if (it != plans.end()) return &it->second;
    auto kit = defs.kvis.find(name);
    if (kit == defs.kvis.end()) return nullptr;
    const v1::Kvi& kvi = kit->second;
    const v1::ValueStream* vs = defs.FindValueStream(kvi.value_stream());
    KviPlan plan;
    for (const SelectionDef& def : SelectionsOf(kvi, vs)) {
      plan.selections.push_back(std::make_unique<Selection>(def, &index()));
    }
    plan.parties = PartiesOf(vs);
    return &plans.emplace(name, std::move(plan)).first->second;
  }

  // The KVI over `window` (its own window at an instant, or a report
  // period's), from the spans of `slot`. Unknown KVIs have no value.
  v1::KviValue ComputeOver(const std::string& name, const TimeWindow& window,
                           SpanSlot slot) {
    KviPlan* plan = PlanOf(name);
    if (plan == nullptr) {
      v1::KviValue out;
      out.set_kvi(name);
      return out;
    }
    const v1::Kvi& kvi = defs.kvis.at(name);
    const int64_t from = absl::ToUnixMicros(window.start);
    const int64_t to = absl::ToUnixMicros(window.end);
    std::vector<Aggregate> aggregates;
    aggregates.reserve(plan->selections.size());
    for (auto& sel : plan->selections) {
      aggregates.push_back(sel->Range(index(), from, to, slot));
    }
    v1::KviValue out = KviValueOf(kvi, window, aggregates, plan->parties);
    out.set_kvi(name);
    return out;
  }

  // The KVI with its own window at `at`; `name` must be known.
  v1::KviValue ComputeAt(const std::string& name, absl::Time at,
                         SpanSlot slot) {
    return ComputeOver(name, KviWindow(defs.kvis.at(name).window(), at), slot);
  }

  // The value stays valid until the next Compute of `name` (or a change of
  // definitions).
  const v1::KviValue& Compute(const std::string& name, absl::Time at) {
    const int64_t at_us = absl::ToUnixMicros(at);
    auto cached = value_cache.find(name);
    if (cached != value_cache.end() && cached->second.at_us == at_us &&
        cached->second.seq == index().seq()) {
      return cached->second.value;
    }
    return value_cache
        .insert_or_assign(name,
                          CachedValue{at_us, index().seq(),
                                      ComputeAt(name, at, SpanSlot::kLive)})
        .first->second.value;
  }

  void InvalidateDefinitions() {
    plans.clear();
    value_cache.clear();
    definitions_dirty = true;
  }
};

Engine::Engine(const Clock* clock)
    : state_(std::make_unique<State>()), clock_(clock) {}

Engine::~Engine() = default;

void Engine::ApplyChange(const v1::Change& change) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_->defs.Apply(change)) state_->InvalidateDefinitions();
}

void Engine::LoadDefinition(absl::string_view, absl::string_view data) {
  v1::Change change;
  if (change.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    ApplyChange(change);
  }
}

void Engine::Check(absl::Span<IngestRecord> records) const {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = clock_->Now();
  const Definitions& defs = state_->defs;
  for (IngestRecord& r : records) {
    r.check = r.observation != nullptr
                  ? CheckObservation(*r.observation, defs, now)
                  : CheckEvent(*r.event, defs, now);
  }
}

void Engine::Add(absl::Span<const IngestRecord> records) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  for (const IngestRecord& r : records) {
    if (!r.check.ok() || !r.stored()) continue;
    s.dirty_streams.insert(r.observation != nullptr
                               ? s.index().AddObservation(*r.observation)
                               : s.index().AddEvent(*r.event));
    s.applied_seq = std::max(s.applied_seq, r.seq);
  }
}

void Engine::AddObservation(const v1::Observation& o, int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  state_->dirty_streams.insert(state_->index().AddObservation(o));
  state_->applied_seq = std::max(state_->applied_seq, seq);
}

void Engine::AddEvent(const v1::WorkItemEvent& e, int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  state_->dirty_streams.insert(state_->index().AddEvent(e));
  state_->applied_seq = std::max(state_->applied_seq, seq);
}

int64_t Engine::applied_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_->applied_seq;
}

absl::StatusOr<int64_t> Engine::SaveSnapshot(
    const std::string& path, const std::function<void(absl::Duration)>& pace) {
  VLA_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotWriter> writer,
                       SnapshotWriter::Create(path));
  ByteWriter piece;
  std::vector<uint64_t> series;
  int64_t covered = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    series = state_->index().SeriesKeys();
    // Every record up to here is in some piece; later ones may be too.
    covered = state_->applied_seq;
  }
  // Writes a piece made under the lock, with the sequence it covers.
  const auto add = [&](uint8_t type, const auto& make) -> absl::Status {
    const absl::Time started = absl::Now();
    piece.Clear();
    int64_t seq;
    {
      std::lock_guard<std::mutex> lock(mu_);
      make();
      seq = state_->applied_seq;
    }
    VLA_RETURN_IF_ERROR(writer->Add(type, seq, piece.bytes()));
    if (pace) pace(absl::Now() - started);
    return absl::OkStatus();
  };
  for (uint64_t key : series) {
    VLA_RETURN_IF_ERROR(
        add(kSeriesSection, [&] { state_->index().SaveSeries(key, &piece); }));
  }
  for (uint32_t begin = 0;; begin += kItemsPerPiece) {
    bool more = true;
    VLA_RETURN_IF_ERROR(add(kItemsSection, [&] {
      const auto count = static_cast<uint32_t>(state_->index().item_count());
      more = begin < count;
      const uint32_t end = std::min(count, begin + kItemsPerPiece);
      state_->index().SaveItems(std::min(begin, end), end, &piece);
    }));
    if (!more) break;
  }
  // The tables last: they hold every string and attribute set the pieces
  // name.
  VLA_RETURN_IF_ERROR(
      add(kTablesSection, [&] { state_->index().SaveTables(&piece); }));
  VLA_RETURN_IF_ERROR(writer->Add(kCoverSection, covered, ""));
  VLA_RETURN_IF_ERROR(writer->Commit());
  return covered;
}

absl::StatusOr<int64_t> Engine::LoadSnapshot(const std::string& path) {
  VLA_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotFile> file,
                       SnapshotFile::Open(path));
  const auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("snapshot ", path, ": ", why));
  };
  auto index = std::make_unique<RecordIndex>();
  auto coverage = std::make_unique<State::Coverage>();
  std::optional<int64_t> covered;
  bool tables = false;
  for (const SnapshotFile::Section& section : file->sections()) {
    if (section.type == kTablesSection) {
      ByteReader in(section.payload);
      if (tables || !index->LoadTables(&in)) return bad("bad tables");
      tables = true;
    } else if (section.type == kCoverSection) {
      covered = section.sequence;
    }
  }
  if (!tables || !covered.has_value()) return bad("incomplete");
  for (const SnapshotFile::Section& section : file->sections()) {
    ByteReader in(section.payload);
    if (section.type == kSeriesSection) {
      uint64_t key;
      if (!index->LoadSeries(&in, &key)) return bad("bad series");
      coverage->series[key] = section.sequence;
    } else if (section.type == kItemsSection) {
      uint32_t begin, end;
      if (!index->LoadItems(&in, &begin, &end) ||
          (begin != end && begin / kItemsPerPiece != coverage->items.size())) {
        return bad("bad work items");
      }
      if (begin != end) coverage->items.push_back(section.sequence);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  if (s.index().seq() != 0) {
    return absl::FailedPreconditionError("the engine holds records already");
  }
  s.index_ptr = std::move(index);
  s.plans.clear();
  s.value_cache.clear();
  s.flows.clear();
  s.coverage = std::move(coverage);
  s.applied_seq = *covered;
  s.definitions_dirty = true;
  return *covered;
}

void Engine::Replay(int64_t seq, const v1::Observation& o) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  if (s.coverage != nullptr) {
    if (std::optional<uint64_t> key = s.index().SeriesOf(o)) {
      auto it = s.coverage->series.find(*key);
      if (it != s.coverage->series.end() && seq <= it->second) return;
    }
  }
  s.dirty_streams.insert(s.index().AddObservation(o));
  s.applied_seq = std::max(s.applied_seq, seq);
}

void Engine::Replay(int64_t seq, const v1::WorkItemEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  if (s.coverage != nullptr) {
    if (std::optional<uint32_t> item = s.index().ItemOf(e)) {
      const size_t piece = *item / kItemsPerPiece;
      if (piece < s.coverage->items.size() && seq <= s.coverage->items[piece]) {
        return;
      }
    }
  }
  s.dirty_streams.insert(s.index().AddEvent(e));
  s.applied_seq = std::max(s.applied_seq, seq);
}

void Engine::EndReplay() {
  std::lock_guard<std::mutex> lock(mu_);
  state_->coverage.reset();
}

absl::StatusOr<v1::KviValue> Engine::KviValue(const std::string& kvi,
                                              absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state_->defs.kvis.count(kvi)) {
    return absl::NotFoundError(absl::StrCat(kvi, " not found"));
  }
  return state_->Compute(kvi, at);
}

absl::StatusOr<v1::VlaStatus> Engine::VlaStatus(const std::string& name,
                                                absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  auto it = s.defs.vlas.find(name);
  if (it == s.defs.vlas.end()) {
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
        auto kit = s.defs.kvis.find(kvi);
        if (kit == s.defs.kvis.end()) return in;
        in.kvi = &kit->second;
        in.value = &s.Compute(kvi, at);
        return in;
      },
      at);
}

absl::StatusOr<std::vector<v1::KviValue>> Engine::KviSeries(
    const std::string& kvi, absl::Span<const absl::Time> times) {
  std::vector<v1::KviValue> points;
  points.reserve(times.size());
  for (const absl::Time at : times) {
    // One point per lock: ingest and passes interleave with a long series.
    std::lock_guard<std::mutex> lock(mu_);
    if (!state_->defs.kvis.count(kvi)) {
      return absl::NotFoundError(absl::StrCat(kvi, " not found"));
    }
    points.push_back(state_->ComputeAt(kvi, at, SpanSlot::kHistory));
  }
  return points;
}

absl::StatusOr<v1::VlaStatus> Engine::VlaStatusOver(const std::string& name,
                                                    const TimeWindow& window) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  const v1::Vla* vla = s.defs.vla_revisions.At(name, window.end);
  if (vla == nullptr) {
    return absl::NotFoundError(absl::StrCat(name, " not found"));
  }
  // Each KVI over the window, once (a KVI may be a clause and the SLA).
  std::map<std::string, v1::KviValue> values;
  return EvaluateVla(
      *vla,
      [&](const std::string& kvi) {
        KviInput in;
        auto kit = s.defs.kvis.find(kvi);
        if (kit == s.defs.kvis.end()) return in;
        in.kvi = &kit->second;
        auto [it, added] = values.try_emplace(kvi);
        if (added) it->second = s.ComputeOver(kvi, window, SpanSlot::kHistory);
        in.value = &it->second;
        return in;
      },
      window.end);
}

bool Engine::KnowsVla(const std::string& vla) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_->defs.vla_revisions.Knows(vla);
}

void Engine::LoadVlaRevision(int64_t change_revision, const v1::Vla& vla) {
  std::lock_guard<std::mutex> lock(mu_);
  state_->defs.vla_revisions.Add(change_revision, vla);
}

absl::StatusOr<v1::ValueStreamFlow> Engine::Flow(
    const std::string& value_stream, absl::Duration window, absl::Time at) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = *state_;
  if (!s.defs.value_streams.count(value_stream)) {
    return absl::NotFoundError(absl::StrCat(value_stream, " not found"));
  }
  FlowAggregate agg;
  const int32_t vs = s.index().strings().Find(value_stream);
  const BlockVersions* versions =
      vs < 0 ? nullptr
             : s.index().Versions({v1::SOURCE_WORK_ITEMS, vs, /*signal=*/-1});
  if (versions != nullptr) {
    agg = s.flows[vs].Range(
        *versions, s.index().seq(), absl::ToUnixMicros(at - window),
        absl::ToUnixMicros(at), [](bool) { return FlowAggregate(); },
        [&](int64_t from, int64_t to, FlowAggregate* out) {
          s.index().ForEachItem(vs, from, to, [&](const Item& item) {
            out->Add(DeriveItem(item.events));
          });
        });
  }
  v1::ValueStreamFlow flow =
      agg.ToProto([&](int32_t team) -> const std::string& {
        return s.index().strings().Name(team);
      });
  flow.set_value_stream(value_stream);
  *flow.mutable_window_start() = ToProtoTime(at - window);
  *flow.mutable_window_end() = ToProtoTime(at);
  return flow;
}

std::vector<std::string> Engine::ActiveVlas() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, vla] : state_->defs.vlas) {
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
  auto it = state_->defs.vlas.find(name);
  if (it != state_->defs.vlas.end()) {
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
  out.reserve(state_->defs.kvis.size());
  for (const auto& [name, kvi] : state_->defs.kvis) out.push_back(name);
  return out;
}

FilterAttributes Engine::KviAttributes(const std::string& kvi) const {
  std::lock_guard<std::mutex> lock(mu_);
  FilterAttributes attrs;
  attrs["kvi"] = {kvi};
  auto it = state_->defs.kvis.find(kvi);
  if (it != state_->defs.kvis.end()) {
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
    auto k = s.defs.kvis.find(kvi_name);
    if (k == s.defs.kvis.end()) return false;
    return s.dirty_streams.contains(
        s.index().strings().Find(k->second.value_stream()));
  };
  for (const auto& [name, kvi] : s.defs.kvis) {
    if (kvi_dirty(name)) out.kvis.insert(name);
  }
  for (const auto& [name, vla] : s.defs.vlas) {
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
