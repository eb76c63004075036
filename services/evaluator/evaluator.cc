#include "services/evaluator/evaluator.h"

#include <future>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/names.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace vla::evaluator {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr absl::Duration kDefaultFlowWindow = absl::Hours(24 * 30);
constexpr absl::Duration kMaxFlowWindow = absl::Hours(24 * 3660);

// True when `a` and `b` differ in what subscribers care about.
bool Changed(const v1::VlaStatus& a, const v1::VlaStatus& b) {
  if (a.state() != b.state() || a.score() != b.score() ||
      a.watermelon() != b.watermelon() || a.disputed() != b.disputed() ||
      a.vla_revision() != b.vla_revision() ||
      a.clauses_size() != b.clauses_size()) {
    return true;
  }
  for (int i = 0; i < a.clauses_size(); ++i) {
    if (a.clauses(i).state() != b.clauses(i).state()) return true;
  }
  return false;
}

// True when `a` and `b` differ in what subscribers of KVI values care about
// (not the window or the sample count, which move with every record).
bool Changed(const v1::KviValue& a, const v1::KviValue& b) {
  if (a.has_value() != b.has_value() ||
      (a.has_value() && a.value() != b.value()) ||
      a.comeasurement() != b.comeasurement() ||
      a.party_values_size() != b.party_values_size()) {
    return true;
  }
  for (const auto& [party, value] : a.party_values()) {
    auto it = b.party_values().find(party);
    if (it == b.party_values().end() || it->second != value) return true;
  }
  return false;
}

// Removes the board's keys that are not in `keep`.
template <typename Board>
void RemoveMissing(Board& board, const std::set<std::string>& keep) {
  for (const std::string& key : board.Keys()) {
    if (!keep.count(key)) board.Remove(key);
  }
}

// Whether `status` differs from the board's latest status of `key` (or the
// board has none).
template <typename Board, typename Status>
bool DiffersFromBoard(const Board& board, const std::string& key,
                      const Status& status) {
  return board.Inspect(key, [&](const Status* previous) {
    return previous == nullptr || Changed(*previous, status);
  });
}

// The builder of a watch stream's items (VlaStatusEvent, KviValueEvent,
// encoded as the `events` of its response): they share their shape
// (snapshot, snapshot_complete, removed); `fill` sets the status (or, for a
// removal, only its name).
template <typename EventProto, typename Status, typename Fill>
typename EncodedBoard<Status>::Builder EventBuilder(int field_number,
                                                    Fill fill) {
  return EncodedItems<EventProto, Status>(
      field_number, [fill](const BoardEvent<Status>& event, EventProto* out) {
        using Kind = typename BoardEvent<Status>::Kind;
        out->set_snapshot(event.snapshot);
        switch (event.kind) {
          case Kind::kSnapshotComplete:
            out->set_snapshot_complete(true);
            break;
          case Kind::kRemoved:
            out->set_removed(true);
            fill(event.key, Status(), out);
            break;
          case Kind::kStatus:
            fill(event.key, event.status, out);
            break;
        }
      });
}

}  // namespace

const std::vector<FilterField>& Evaluator::KviFilterFields() {
  static const auto* const fields = new std::vector<FilterField>{
      {"kvi", FilterField::Type::kString, nullptr},
      {"value_stream", FilterField::Type::kString, nullptr},
  };
  return *fields;
}

const std::vector<FilterField>& Evaluator::StatusFilterFields() {
  static const auto* const fields = new std::vector<FilterField>{
      {"state", FilterField::Type::kEnum, v1::ComplianceState_descriptor()},
      {"value_stream", FilterField::Type::kString, nullptr},
      {"team", FilterField::Type::kString, nullptr},
      {"watermelon", FilterField::Type::kBool, nullptr},
      {"disputed", FilterField::Type::kBool, nullptr},
  };
  return *fields;
}

absl::StatusOr<std::unique_ptr<Evaluator>> Evaluator::Open(
    const std::string& db_path, const Clock* clock, EvaluatorOptions options) {
  VLA_ASSIGN_OR_RETURN(auto store, OpenSqliteEvaluatorStore(db_path));
  auto ev = std::unique_ptr<Evaluator>(
      new Evaluator(std::move(store), clock, options));
  VLA_ASSIGN_OR_RETURN(int64_t revision,
                       ev->store_->LoadDefinitions(
                           [&](absl::string_view name, absl::string_view data) {
                             ev->engine_.LoadDefinition(name, data);
                           }));
  {
    std::lock_guard<std::mutex> lock(ev->mu_);
    ev->revision_ = revision;
  }
  // Rebuild memory from every stored record (definitions first, so that the
  // records' value streams are known).
  int64_t count = 0;
  v1::Observation o;
  v1::WorkItemEvent e;
  VLA_RETURN_IF_ERROR(ev->store_->ForEachRecord([&](v1::RecordKind kind,
                                                    absl::string_view data) {
    ++count;
    if (kind == v1::RECORD_KIND_OBSERVATION) {
      if (o.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
        ev->engine_.AddObservation(o);
      }
    } else if (e.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      ev->engine_.AddEvent(e);
    }
  }));
  Log(LogLevel::kInfo, "evaluator loaded",
      {{"records", absl::StrCat(count)},
       {"vmdb_revision", absl::StrCat(revision)}});
  ev->writer_ = std::thread([p = ev.get()] { p->WriterLoop(); });
  if (options.run_loop) {
    ev->loop_ = std::thread([p = ev.get()] { p->EvaluationLoop(); });
  }
  return ev;
}

Evaluator::Evaluator(std::unique_ptr<EvaluatorStore> store, const Clock* clock,
                     EvaluatorOptions options)
    : store_(std::move(store)),
      clock_(clock),
      options_(options),
      metrics_(MakeMetrics(options.metrics)),
      engine_(clock),
      board_(EventBuilder<v1::VlaStatusEvent, v1::VlaStatus>(
                 v1::WatchVlaStatusesResponse::kEventsFieldNumber,
                 [](const std::string& key, const v1::VlaStatus& status,
                    v1::VlaStatusEvent* out) {
                   *out->mutable_status() = status;
                   out->mutable_status()->set_vla(key);
                 }),
             StatusBoardOptions{.max_batch_size = options.watch_batch_bytes}),
      kvi_board_(
          EventBuilder<v1::KviValueEvent, v1::KviValue>(
              v1::WatchKviValuesResponse::kEventsFieldNumber,
              [](const std::string& key, const v1::KviValue& value,
                 v1::KviValueEvent* out) {
                *out->mutable_value() = value;
                out->mutable_value()->set_kvi(key);
              }),
          StatusBoardOptions{.max_batch_size = options.watch_batch_bytes}),
      page_tokens_(store_->secret()) {}

Evaluator::Metrics Evaluator::MakeMetrics(metrics::Registry* registry) {
  Metrics m;
  if (registry == nullptr) return m;
  constexpr char kIngest[] =
      "Ingested records by result: accepted (new), duplicate (event_id seen "
      "before), rejected (invalid).";
  m.accepted = registry->GetCounter("vla_ingest_records_total", kIngest,
                                    {{"result", "accepted"}});
  m.duplicates = registry->GetCounter("vla_ingest_records_total", kIngest,
                                      {{"result", "duplicate"}});
  m.rejected = registry->GetCounter("vla_ingest_records_total", kIngest,
                                    {{"result", "rejected"}});
  constexpr char kPass[] =
      "Evaluation pass duration: full (every VLA, on the tick) or changed "
      "(the VLAs whose inputs changed).";
  m.full_pass =
      registry->GetHistogram("vla_evaluation_pass_duration_seconds", kPass,
                             metrics::DurationBuckets(), {{"kind", "full"}});
  m.changed_pass =
      registry->GetHistogram("vla_evaluation_pass_duration_seconds", kPass,
                             metrics::DurationBuckets(), {{"kind", "changed"}});
  return m;
}

Evaluator::~Evaluator() { Shutdown(); }

void Evaluator::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  writer_cv_.notify_all();
  loop_cv_.notify_all();
  board_.Close();
  kvi_board_.Close();
  if (writer_.joinable()) writer_.join();
  if (loop_.joinable()) loop_.join();
}

absl::Status Evaluator::ApplyChanges(const std::vector<v1::Change>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<DefinitionRow> rows;
  for (const v1::Change& c : changes) {
    rows.push_back({c.name(), c.kind() == v1::CHANGE_KIND_DELETED
                                  ? std::string()
                                  : c.SerializeAsString()});
  }
  VLA_RETURN_IF_ERROR(
      store_->ApplyDefinitions(rows, changes.back().revision()));
  for (const v1::Change& c : changes) engine_.ApplyChange(c);
  {
    // VLAs no longer evaluated and deleted KVIs leave the boards now, not at
    // the next pass, so that reads never answer for them (a pass running
    // meanwhile is over before this; the next one sees the change).
    std::lock_guard<std::mutex> pass_lock(pass_mu_);
    for (const v1::Change& c : changes) {
      const bool deleted = c.kind() == v1::CHANGE_KIND_DELETED;
      if (c.has_vla() && (deleted || c.vla().state() != v1::VLA_STATE_ACTIVE)) {
        board_.Remove(c.name());
      } else if (c.has_kvi() && deleted) {
        kvi_board_.Remove(c.name());
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    revision_ = changes.back().revision();
    data_changed_ = true;
  }
  loop_cv_.notify_all();
  return absl::OkStatus();
}

int64_t Evaluator::definitions_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return revision_;
}

void Evaluator::SetDefinitionsReady() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = true;
    data_changed_ = true;
  }
  loop_cv_.notify_all();
}

void Evaluator::IngestAsync(const v1::IngestRequest* batch, IngestDone done) {
  const int records =
      batch->observations_size() + batch->work_item_events_size();
  if (records > options_.max_batch_records) {
    done(absl::ResourceExhaustedError(
        absl::StrCat("batch has ", records, " records; at most ",
                     options_.max_batch_records, " per batch: split it")));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      done(absl::UnavailableError("evaluator is shutting down; retry"));
      return;
    }
    if (!ready_) {
      done(absl::UnavailableError(
          "evaluator is still loading definitions from the VMDB; retry"));
      return;
    }
    queue_.push_back({batch, std::move(done)});
  }
  writer_cv_.notify_one();
}

absl::StatusOr<v1::IngestResponse> Evaluator::Ingest(
    const v1::IngestRequest& batch) {
  std::promise<absl::StatusOr<v1::IngestResponse>> promise;
  auto future = promise.get_future();
  IngestAsync(&batch, [&promise](absl::StatusOr<v1::IngestResponse> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

void Evaluator::WriterLoop() {
  constexpr size_t kGroupRecords = 20000;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    writer_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    std::vector<PendingIngest> work;
    size_t records = 0;
    while (!queue_.empty() && (work.empty() || records < kGroupRecords)) {
      records += queue_.front().batch->observations_size() +
                 queue_.front().batch->work_item_events_size();
      work.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    ProcessBatches(std::move(work));
    lock.lock();
  }
}

void Evaluator::ProcessBatches(std::vector<PendingIngest> work) {
  // Every record of every batch on one path: checked, the good ones stored
  // in one transaction, the new ones added to memory, each answered in its
  // batch's response.
  std::vector<std::vector<IngestRecord>> batches;
  std::vector<RecordRow> rows;
  for (const PendingIngest& p : work) {
    std::vector<IngestRecord>& records =
        batches.emplace_back(RecordsOf(*p.batch));
    engine_.Check(absl::MakeSpan(records));
    for (const IngestRecord& r : records) {
      if (r.check.ok()) rows.push_back({r.event_id(), r.kind(), r.Serialize()});
    }
  }
  absl::StatusOr<std::vector<bool>> inserted = store_->InsertRecords(rows);
  if (!inserted.ok()) {
    for (PendingIngest& p : work) p.done(inserted.status());
    return;
  }
  auto is_new = inserted->begin();
  std::vector<v1::IngestResponse> responses(work.size());
  int64_t accepted = 0, duplicates = 0, rejected = 0;
  for (size_t b = 0; b < work.size(); ++b) {
    v1::IngestResponse& resp = responses[b];
    for (IngestRecord& r : batches[b]) {
      if (!r.check.ok()) {
        v1::Rejection* rejection = resp.add_rejected();
        rejection->set_index(r.index);
        rejection->set_kind(r.kind());
        rejection->set_reason(std::string(r.check.message()));
        continue;
      }
      r.stored = *is_new++;
      if (r.stored) {
        resp.set_accepted(resp.accepted() + 1);
      } else {
        resp.set_duplicates(resp.duplicates() + 1);
      }
    }
    engine_.Add(batches[b]);
    accepted += resp.accepted();
    duplicates += resp.duplicates();
    rejected += resp.rejected_size();
  }
  metrics_.accepted.Increment(static_cast<double>(accepted));
  metrics_.duplicates.Increment(static_cast<double>(duplicates));
  metrics_.rejected.Increment(static_cast<double>(rejected));
  if (accepted > 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      data_changed_ = true;
    }
    loop_cv_.notify_all();
  }
  for (size_t b = 0; b < work.size(); ++b)
    work[b].done(std::move(responses[b]));
}

absl::StatusOr<v1::KviValue> Evaluator::GetKviValue(
    const std::string& kvi, std::optional<absl::Time> at) {
  VLA_RETURN_IF_ERROR(ParseName("kvi", kvi, "kvis").status());
  if (!at.has_value()) {
    if (std::optional<v1::KviValue> latest = kvi_board_.Get(kvi)) {
      latest->set_kvi(kvi);
      return *std::move(latest);
    }
  }
  return engine_.KviValue(kvi, at.value_or(Now()));
}

absl::StatusOr<v1::VlaStatus> Evaluator::GetVlaStatus(
    const std::string& vla, std::optional<absl::Time> at) {
  VLA_RETURN_IF_ERROR(ParseName("vla", vla, "vlas").status());
  if (!at.has_value()) {
    if (std::optional<v1::VlaStatus> latest = board_.Get(vla)) {
      return *std::move(latest);
    }
  }
  return engine_.VlaStatus(vla, at.value_or(Now()));
}

absl::Status Evaluator::ListVlaStatuses(const std::string& filter_text,
                                        int page_size,
                                        const std::string& page_token,
                                        v1::ListVlaStatusesResponse* response) {
  if (page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  VLA_ASSIGN_OR_RETURN(Filter filter,
                       Filter::Parse(filter_text, StatusFilterFields()));
  const std::string scope = absl::StrCat("ListVlaStatuses\n", filter_text);
  VLA_ASSIGN_OR_RETURN(std::string after,
                       page_tokens_.Decode(scope, page_token));
  bool more = false;
  auto page = board_.List(filter, after, page_size, &more);
  for (auto& [key, status] : page)
    *response->add_statuses() = std::move(status);
  if (more && !page.empty()) {
    response->set_next_page_token(
        page_tokens_.Encode(scope, page.back().first));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ValueStreamFlow> Evaluator::GetValueStreamFlow(
    const std::string& value_stream, std::optional<absl::Duration> window,
    std::optional<absl::Time> at) {
  VLA_RETURN_IF_ERROR(
      ParseName("value_stream", value_stream, "valueStreams").status());
  const absl::Duration w = window.value_or(kDefaultFlowWindow);
  if (w <= absl::ZeroDuration() || w > kMaxFlowWindow) {
    return absl::InvalidArgumentError(
        "window: must be positive and at most 3660 days");
  }
  return engine_.Flow(value_stream, w, at.value_or(Now()));
}

absl::StatusOr<std::vector<v1::VlaStatus>> Evaluator::EvaluationHistory(
    const std::string& vla, absl::Time from, absl::Time to, int limit) {
  return store_->Evaluations(vla, absl::ToUnixMicros(from),
                             absl::ToUnixMicros(to), limit);
}

absl::Time Evaluator::Now() const {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(clock_->Now()));
}

void Evaluator::EvaluatePass(bool all) {
  std::lock_guard<std::mutex> pass_lock(pass_mu_);
  const auto started = std::chrono::steady_clock::now();
  const absl::Time now = Now();
  const std::vector<std::string> active = engine_.ActiveVlas();
  const std::vector<std::string> kvis = engine_.KviNames();
  Engine::Dirty dirty = engine_.TakeDirty();
  std::set<std::string>& todo = dirty.vlas;
  if (all) {
    todo.insert(active.begin(), active.end());
    dirty.kvis.insert(kvis.begin(), kvis.end());
  }
  // VLAs no longer ACTIVE (or deleted) and deleted KVIs leave the boards.
  RemoveMissing(board_, std::set<std::string>(active.begin(), active.end()));
  RemoveMissing(kvi_board_, std::set<std::string>(kvis.begin(), kvis.end()));
  std::vector<KviBoard::Update> kvi_updates;
  for (const std::string& name : dirty.kvis) {
    absl::StatusOr<v1::KviValue> value = engine_.KviValue(name, now);
    if (!value.ok()) continue;
    if (!DiffersFromBoard(kvi_board_, name, *value)) {
      kvi_board_.Refresh(name, *std::move(value));
      continue;
    }
    kvi_updates.push_back(
        {name, *std::move(value), engine_.KviAttributes(name)});
  }
  kvi_board_.Publish(std::move(kvi_updates));
  std::vector<v1::VlaStatus> changed;
  std::vector<VlaBoard::Update> updates;
  for (const std::string& name : todo) {
    absl::StatusOr<v1::VlaStatus> status = engine_.VlaStatus(name, now);
    if (!status.ok()) continue;
    if (!DiffersFromBoard(board_, name, *status)) {
      board_.Refresh(name, *std::move(status));
      continue;
    }
    updates.push_back({name, *status, engine_.VlaAttributes(name, *status)});
    changed.push_back(*std::move(status));
  }
  board_.Publish(std::move(updates));
  if (absl::Status s = store_->AppendEvaluations(changed); !s.ok()) {
    Log(LogLevel::kError, "storing evaluations failed",
        {{"error", s.ToString()}});
  }
  (all ? metrics_.full_pass : metrics_.changed_pass)
      .ObserveDuration(
          absl::FromChrono(std::chrono::steady_clock::now() - started));
}

void Evaluator::EvaluationLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto last_full = std::chrono::steady_clock::now() -
                   absl::ToChronoMilliseconds(options_.tick);
  while (!stopping_) {
    const auto next_full =
        last_full + absl::ToChronoMilliseconds(options_.tick);
    loop_cv_.wait_until(lock, next_full,
                        [this] { return stopping_ || data_changed_; });
    if (stopping_) return;
    const bool full = std::chrono::steady_clock::now() >= next_full;
    if (!full) {
      // Debounce: let a burst of ingest settle.
      loop_cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.debounce),
                        [this] { return stopping_; });
      if (stopping_) return;
    }
    if (!ready_) {
      last_full = std::chrono::steady_clock::now();
      continue;
    }
    data_changed_ = false;
    lock.unlock();
    EvaluatePass(full);
    lock.lock();
    if (full) last_full = std::chrono::steady_clock::now();
  }
}

}  // namespace vla::evaluator
