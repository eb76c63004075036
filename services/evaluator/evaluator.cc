#include "services/evaluator/evaluator.h"

#include <filesystem>
#include <future>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/names.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/evaluator/period_report.h"

namespace vla::evaluator {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr absl::Duration kDefaultFlowWindow = absl::Hours(24 * 30);
constexpr absl::Duration kMaxFlowWindow = absl::Hours(24 * 3660);
// History: ListVlaEvaluations and GetKviSeries look back this far by
// default; GetVlaReport reports this many periods by default, at most
// kMaxReportPeriods; a series has at most kMaxSeriesPoints points, at least
// kMinSeriesStep apart.
constexpr absl::Duration kDefaultLookBack = absl::Hours(24 * 30);
constexpr int kDefaultReportPeriods = 6;
constexpr size_t kMaxReportPeriods = 120;
constexpr int64_t kMaxSeriesPoints = 10000;
constexpr absl::Duration kMinSeriesStep = absl::Seconds(60);
constexpr absl::Duration kDefaultSeriesStep = absl::Hours(24);

// A List method's page size: 0 means the default; capped at the maximum.
absl::StatusOr<int> PageSizeOf(int requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

// "": the time is unset (a default applies, resolved once per listing).
std::string TimeKey(std::optional<absl::Time> t) {
  return t ? absl::StrCat(absl::ToUnixMicros(*t)) : "";
}

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
  if (options.local_dir.empty()) {
    options.local_dir = std::filesystem::path(db_path).parent_path().string();
  }
  return Open(std::move(store), clock, options);
}

absl::StatusOr<std::unique_ptr<Evaluator>> Evaluator::Open(
    std::unique_ptr<EvaluatorStore> store, const Clock* clock,
    EvaluatorOptions options) {
  auto ev = std::unique_ptr<Evaluator>(
      new Evaluator(std::move(store), clock, options));
  VLA_RETURN_IF_ERROR(ev->store_->ForEachVlaRevision(
      [&](int64_t change_revision, absl::string_view data) {
        v1::Vla vla;
        if (vla.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
          ev->engine_.LoadVlaRevision(change_revision, vla);
        }
      }));
  VLA_ASSIGN_OR_RETURN(
      int64_t revision,
      ev->store_->LoadDefinitions(
          [&](absl::string_view name, absl::string_view data) {
            ev->engine_.LoadDefinition(name, data);
            v1::Change c;
            if (c.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
              ev->TrackDefinition(c);
            }
          }));
  {
    std::lock_guard<std::mutex> lock(ev->mu_);
    ev->revision_ = revision;
  }
  if (ev->store_->coordinator() == nullptr) {
    VLA_ASSIGN_OR_RETURN(std::vector<v1::VlaStatus> latest,
                         ev->store_->LatestEvaluations());
    std::lock_guard<std::mutex> lock(ev->pass_mu_);
    for (v1::VlaStatus& status : latest) {
      const std::string name = status.vla();
      ev->stored_at_open_.emplace(name, std::move(status));
    }
  }
  if (RecordLog* log = ev->store_->record_log(); log != nullptr) {
    // Memory follows the shared log, from its start: every record, or with
    // replicas (StartReplication) those of the value streams owned here.
    ev->follower_ = std::make_unique<RecordFollower>(
        log,
        [p = ev.get()](const auto& observations, const auto& events) {
          p->AddToEngine(observations, events);
        },
        /*filter=*/ev->store_->coordinator() != nullptr);
    log->OnStored([p = ev->follower_.get()] { p->Wake(); });
    ev->follower_->Start();
    ev->StartThreads();
    return ev;
  }
  // Memory from the newest usable snapshot in the local folder (if any) and
  // the records stored after it.
  if (!options.local_dir.empty()) {
    ev->snapshot_path_ =
        (std::filesystem::path(options.local_dir) / "evaluator.db.snapshot")
            .string();
    if (options.min_free_bytes > 0) {
      ev->reserve_ = std::make_unique<DiskReserve>(
          options.local_dir, options.min_free_bytes, options.free_bytes);
    }
  }
  VLA_RETURN_IF_ERROR(ev->LoadRecords());
  ev->StartThreads();
  return ev;
}

absl::Status Evaluator::StartReplication(
    const ReplicationOptions& replication) {
  ReplicaCoordinator* coordinator = store_->coordinator();
  if (coordinator == nullptr || replication_owner_ != nullptr) {
    return absl::OkStatus();
  }
  if (replication.address.empty()) {
    return absl::InvalidArgumentError(
        "advertise_address: required for evaluator replicas");
  }
  replication_owner_ = std::make_unique<Replication>(
      coordinator, follower_.get(), replication,
      [this] {
        std::lock_guard<std::mutex> lock(mu_);
        return std::vector<std::string>(value_streams_.begin(),
                                        value_streams_.end());
      },
      [this](const PublishedStatus& s) { ApplyPublished(s); });
  replication_owner_->Start();
  replication_ = replication_owner_.get();
  return absl::OkStatus();
}

void Evaluator::LeaveReplicas() {
  if (Replication* r = replication_; r != nullptr) r->Leave();
}

void Evaluator::TrackDefinition(const v1::Change& c) {
  const bool deleted = c.kind() == v1::CHANGE_KIND_DELETED;
  std::lock_guard<std::mutex> lock(mu_);
  if (c.has_value_stream()) {
    if (deleted) {
      value_streams_.erase(c.name());
    } else {
      value_streams_.insert(c.name());
    }
  } else if (c.has_kvi() || c.has_vla()) {
    // A VLA that is not ACTIVE is nobody's: every replica answers for it
    // (FAILED_PRECONDITION), and its last published status is not shown.
    if (deleted || (c.has_vla() && c.vla().state() != v1::VLA_STATE_ACTIVE)) {
      value_stream_of_.erase(c.name());
    } else {
      value_stream_of_[c.name()] =
          c.has_kvi() ? c.kvi().value_stream() : c.vla().value_stream();
    }
  }
}

std::string Evaluator::ValueStreamOf(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::StartsWith(name, "valueStreams/")) {
    return value_streams_.count(name) ? name : "";
  }
  auto it = value_stream_of_.find(name);
  return it == value_stream_of_.end() ? "" : it->second;
}

Replication::Route Evaluator::RouteOf(const std::string& name,
                                      absl::Duration wait) const {
  if (store_->coordinator() == nullptr) {
    return {Replication::Route::Kind::kLocal, ""};
  }
  // Unknown names are answered here (NOT_FOUND, INVALID_ARGUMENT).
  const std::string vs = ValueStreamOf(name);
  if (vs.empty()) return {Replication::Route::Kind::kLocal, ""};
  const absl::Time deadline = absl::Now() + wait;
  Replication* r = replication_;
  while (r == nullptr) {  // the server is starting
    if (absl::Now() >= deadline) return {};
    absl::SleepFor(absl::Milliseconds(20));
    r = replication_;
  }
  return r->RouteOf(vs, deadline - absl::Now());
}

bool Evaluator::Serves(const std::string& name) const {
  if (store_->coordinator() == nullptr) return true;
  Replication* r = replication_;
  const std::string vs = ValueStreamOf(name);
  return r != nullptr && !vs.empty() && r->Owns(vs);
}

void Evaluator::ApplyPublished(const PublishedStatus& s) {
  // This replica's own statuses, and those of deleted KVIs and of VLAs no
  // longer ACTIVE, stay off the board.
  if (ValueStreamOf(s.key).empty() || Serves(s.key)) return;
  if (s.board == PublishedStatus::Board::kVla) {
    v1::VlaStatus status;
    if (!status.ParseFromString(s.data)) return;
    if (DiffersFromBoard(board_, s.key, status)) {
      board_.Publish(s.key, status, engine_.VlaAttributes(s.key, status));
    }
  } else {
    v1::KviValue value;
    if (!value.ParseFromString(s.data)) return;
    if (DiffersFromBoard(kvi_board_, s.key, value)) {
      kvi_board_.Publish(s.key, value, engine_.KviAttributes(s.key));
    }
  }
}

void Evaluator::StartThreads() {
  writer_ = std::thread([this] { WriterLoop(); });
  if (options_.run_loop) loop_ = std::thread([this] { EvaluationLoop(); });
  if (!snapshot_path_.empty() &&
      options_.snapshot_interval > absl::ZeroDuration()) {
    snapshotter_ = std::thread([this] { SnapshotLoop(); });
  }
}

absl::Status Evaluator::LoadRecords() {
  const absl::Time started = absl::Now();
  const std::string& snapshot_path = snapshot_path_;
  absl::StatusOr<int64_t> covered = snapshot_path.empty()
                                        ? absl::NotFoundError("no local folder")
                                        : engine_.LoadSnapshot(snapshot_path);
  if (covered.ok()) {
    snapshot_seq_ = *covered;
  } else if (covered.status().code() == absl::StatusCode::kNotFound) {
    Log(LogLevel::kInfo, "no snapshot: rebuilding memory from every record",
        {{"snapshot", snapshot_path}});
  } else {
    Log(LogLevel::kWarning,
        "snapshot unusable: rebuilding memory from every record",
        {{"snapshot", snapshot_path},
         {"error", std::string(covered.status().message())}});
  }
  const int64_t after = covered.value_or(0);
  // Then every record stored after the snapshot (definitions first, so that
  // the records' value streams are known), in sequence order.
  int64_t count = 0;
  v1::Observation o;
  v1::WorkItemEvent e;
  VLA_RETURN_IF_ERROR(store_->ForEachRecord(
      after, [&](int64_t seq, v1::RecordKind kind, absl::string_view data) {
        ++count;
        if (kind == v1::RECORD_KIND_OBSERVATION) {
          if (o.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
            engine_.Replay(seq, o);
          }
        } else if (e.ParseFromArray(data.data(),
                                    static_cast<int>(data.size()))) {
          engine_.Replay(seq, e);
        }
      }));
  engine_.EndReplay();
  load_stats_ = {after, count};
  Log(LogLevel::kInfo, "evaluator loaded",
      {{"snapshot_covers", absl::StrCat(after)},
       {"records_replayed", absl::StrCat(count)},
       {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - started))},
       {"vmdb_revision", absl::StrCat(definitions_revision())}});
  return absl::OkStatus();
}

absl::Status Evaluator::WriteSnapshot(bool paced) {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  if (snapshot_path_.empty() || engine_.applied_seq() == snapshot_seq_) {
    return absl::OkStatus();
  }
  const absl::Time started = absl::Now();
  const double share = std::clamp(options_.snapshot_cpu_share, 0.01, 1.0);
  std::function<void(absl::Duration)> pace;
  if (paced && share < 1) {
    // Idle for (1 - share) / share of each piece's time; a shutdown ends
    // the pauses (the rest is written at full speed).
    pace = [this, share](absl::Duration piece) {
      std::unique_lock<std::mutex> lock(mu_);
      snapshot_cv_.wait_for(
          lock, absl::ToChronoMicroseconds(piece * ((1 - share) / share)),
          [this] { return stopping_; });
    };
  }
  absl::StatusOr<int64_t> covered = engine_.SaveSnapshot(snapshot_path_, pace);
  if (!covered.ok()) {
    Log(LogLevel::kError, "writing the snapshot failed",
        {{"snapshot", snapshot_path_},
         {"error", std::string(covered.status().message())}});
    return covered.status();
  }
  snapshot_seq_ = *covered;
  Log(LogLevel::kInfo, "snapshot written",
      {{"snapshot", snapshot_path_},
       {"covers", absl::StrCat(*covered)},
       {"seconds",
        absl::StrCat(absl::ToDoubleSeconds(absl::Now() - started))}});
  return absl::OkStatus();
}

void Evaluator::SnapshotLoop() {
  // Background work, paced to a share of a core (WriteSnapshot). Not a
  // lower priority: the thread takes the engine's lock for each piece, and
  // preempted while holding it, it would stall ingest behind it.
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    snapshot_cv_.wait_for(
        lock, absl::ToChronoMilliseconds(options_.snapshot_interval),
        [this] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    (void)WriteSnapshot(/*paced=*/true);  // logged; the next one retries
    lock.lock();
  }
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
  snapshot_cv_.notify_all();
  board_.Close();
  kvi_board_.Close();
  if (writer_.joinable()) writer_.join();
  if (loop_.joinable()) loop_.join();
  if (snapshotter_.joinable()) snapshotter_.join();
  // The next start loads this instead of replaying everything.
  if (options_.snapshot_at_shutdown) (void)WriteSnapshot();
  replication_ = nullptr;
  replication_owner_.reset();  // gives up the leases
  if (follower_ != nullptr) {
    store_->record_log()->OnStored(nullptr);
    follower_.reset();
  }
}

absl::Status Evaluator::ApplyChanges(const std::vector<v1::Change>& changes) {
  if (changes.empty()) return absl::OkStatus();
  std::vector<DefinitionRow> rows;
  std::vector<VlaRevisionRow> revisions;
  for (const v1::Change& c : changes) {
    const bool deleted = c.kind() == v1::CHANGE_KIND_DELETED;
    rows.push_back({c.name(), deleted ? std::string() : c.SerializeAsString()});
    if (!deleted && c.has_vla()) {
      revisions.push_back(
          {c.vla().name(), c.revision(), c.vla().SerializeAsString()});
    }
  }
  // Revisions first: if the definitions then fail to be stored, the feed
  // replays these changes, and storing a revision again changes nothing.
  VLA_RETURN_IF_ERROR(store_->AddVlaRevisions(revisions));
  VLA_RETURN_IF_ERROR(
      store_->ApplyDefinitions(rows, changes.back().revision()));
  bool value_streams_changed = false;
  for (const v1::Change& c : changes) {
    engine_.ApplyChange(c);
    TrackDefinition(c);
    value_streams_changed = value_streams_changed || c.has_value_stream();
  }
  if (Replication* r = replication_; value_streams_changed && r != nullptr) {
    r->Wake();
  }
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

absl::StatusOr<std::vector<int64_t>> Evaluator::StoreRecords(
    const std::vector<RecordRow>& rows) {
  if (rows.empty()) return std::vector<int64_t>();
  if (reserve_ != nullptr) {
    VLA_RETURN_IF_ERROR(reserve_->Check("records not stored"));
  }
  absl::StatusOr<std::vector<int64_t>> inserted = store_->InsertRecords(rows);
  if (inserted.ok()) {
    full_at_free_ = -1;
  } else if (inserted.status().code() == absl::StatusCode::kResourceExhausted) {
    full_at_free_ = static_cast<int64_t>(FreeBytesNow().value_or(0));
  }
  return inserted;
}

absl::StatusOr<uint64_t> Evaluator::FreeBytesNow() const {
  if (options_.free_bytes != nullptr) return options_.free_bytes();
  if (reserve_ != nullptr) return FreeBytes(reserve_->folder());
  return absl::UnavailableError("no data folder");
}

absl::Status Evaluator::CheckHealth() {
  VLA_RETURN_IF_ERROR(store_->CheckHealth());
  return StorageHealth();
}

absl::Status Evaluator::StorageHealth() {
  if (reserve_ != nullptr) {
    VLA_RETURN_IF_ERROR(reserve_->Check("records cannot be stored"));
  }
  const int64_t full_at = full_at_free_;
  if (full_at < 0) return absl::OkStatus();
  // Space freed since the failure (1 MiB more): try again.
  const absl::StatusOr<uint64_t> now = FreeBytesNow();
  if (now.ok() && *now > static_cast<uint64_t>(full_at) + (1 << 20)) {
    full_at_free_ = -1;
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      "records cannot be stored: the disk was full at the last insert");
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
      if (r.check.ok()) {
        rows.push_back(
            {r.event_id(), r.kind(), r.Serialize(), r.value_stream()});
      }
    }
  }
  absl::StatusOr<std::vector<int64_t>> inserted = StoreRecords(rows);
  if (!inserted.ok()) {
    for (PendingIngest& p : work) p.done(inserted.status());
    return;
  }
  auto seq = inserted->begin();
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
      r.seq = *seq++;
      if (r.stored()) {
        resp.set_accepted(resp.accepted() + 1);
      } else {
        resp.set_duplicates(resp.duplicates() + 1);
      }
    }
    // Over PostgreSQL, memory holds what the follower reads (below).
    if (follower_ == nullptr) engine_.Add(batches[b]);
    accepted += resp.accepted();
    duplicates += resp.duplicates();
    rejected += resp.rejected_size();
  }
  metrics_.accepted.Increment(static_cast<double>(accepted));
  metrics_.duplicates.Increment(static_cast<double>(duplicates));
  metrics_.rejected.Increment(static_cast<double>(rejected));
  if (follower_ != nullptr) {
    // Memory learns of them from the store's log, as of every replica's
    // records: acknowledged once there (or, the database gone, once
    // committed: they reach memory when it is back).
    if (absl::Status s = follower_->CatchUp(absl::Seconds(5)); !s.ok()) {
      Log(LogLevel::kWarning, "acknowledging records not yet in memory",
          {{"error", s.ToString()}});
    }
  } else if (accepted > 0) {
    DataChanged();
  }
  for (size_t b = 0; b < work.size(); ++b)
    work[b].done(std::move(responses[b]));
}

void Evaluator::AddToEngine(
    const std::vector<const v1::Observation*>& observations,
    const std::vector<const v1::WorkItemEvent*>& events) {
  if (observations.empty() && events.empty()) return;
  std::vector<IngestRecord> records;
  records.reserve(observations.size() + events.size());
  for (const v1::Observation* o : observations) {
    records.emplace_back().observation = o;
  }
  for (const v1::WorkItemEvent* e : events) {
    records.emplace_back().event = e;
  }
  // Stored in the shared log. Their sequences do not matter here: memory
  // over a shared store has no snapshots (it follows the log instead).
  for (IngestRecord& r : records) r.seq = 1;
  engine_.Add(records);
  DataChanged();
}

void Evaluator::DataChanged() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    data_changed_ = true;
  }
  loop_cv_.notify_all();
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
  VLA_ASSIGN_OR_RETURN(page_size, PageSizeOf(page_size));
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

absl::Status Evaluator::ListVlaEvaluations(
    const std::string& vla, std::optional<absl::Time> start,
    std::optional<absl::Time> end, int page_size, const std::string& page_token,
    v1::ListVlaEvaluationsResponse* response) {
  VLA_RETURN_IF_ERROR(ParseName("vla", vla, "vlas").status());
  VLA_ASSIGN_OR_RETURN(page_size, PageSizeOf(page_size));
  if (!engine_.KnowsVla(vla)) {
    return absl::NotFoundError(absl::StrCat(vla, " not found"));
  }
  // The token is bound to the request as given; the resolved end and the
  // last row travel in its cursor ("<to_us> <time_us> <id>"), so that a
  // default end (now) stays the first page's.
  const std::string scope = absl::StrCat("ListVlaEvaluations\n", vla, "\n",
                                         TimeKey(start), "\n", TimeKey(end));
  VLA_ASSIGN_OR_RETURN(const std::string cursor,
                       page_tokens_.Decode(scope, page_token));
  int64_t to_us = 0;
  EvaluationCursor after;
  if (cursor.empty()) {
    const absl::Time to = end.value_or(Now());
    const absl::Time from = start.value_or(to - kDefaultLookBack);
    if (from > to) {
      return absl::InvalidArgumentError(
          "start_time: must not be after end_time");
    }
    to_us = absl::ToUnixMicros(to);
    after = {absl::ToUnixMicros(from), 0};
  } else {
    const std::vector<absl::string_view> parts = absl::StrSplit(cursor, ' ');
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &to_us) ||
        !absl::SimpleAtoi(parts[1], &after.time_us) ||
        !absl::SimpleAtoi(parts[2], &after.id)) {
      return absl::InvalidArgumentError("page_token: malformed cursor");
    }
  }
  VLA_ASSIGN_OR_RETURN(std::vector<StoredEvaluation> rows,
                       store_->Evaluations(vla, after, to_us, page_size + 1));
  const bool more = rows.size() > static_cast<size_t>(page_size);
  if (more) rows.resize(page_size);
  for (StoredEvaluation& row : rows) {
    *response->add_evaluations() = std::move(row.status);
  }
  if (more) {
    const int64_t last_us = absl::ToUnixMicros(
        FromProtoTime(response->evaluations().rbegin()->evaluate_time()));
    response->set_next_page_token(page_tokens_.Encode(
        scope, absl::StrCat(to_us, " ", last_us, " ", rows.back().id)));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::VlaReport> Evaluator::GetVlaReport(
    const std::string& vla, v1::CalendarPeriod period,
    const std::string& time_zone, std::optional<absl::Time> start,
    std::optional<absl::Time> end) {
  VLA_RETURN_IF_ERROR(ParseName("vla", vla, "vlas").status());
  if (period == v1::CALENDAR_PERIOD_UNSPECIFIED) {
    period = v1::CALENDAR_PERIOD_MONTH;
  }
  if (!v1::CalendarPeriod_IsValid(period)) {
    return absl::InvalidArgumentError("period: must be MONTH, QUARTER or YEAR");
  }
  const std::string zone = time_zone.empty() ? "UTC" : time_zone;
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(zone, &tz)) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_zone: \"", zone.substr(0, 64),
                     "\" is not a known IANA time zone (like Europe/Berlin)"));
  }
  if (!engine_.KnowsVla(vla)) {
    return absl::NotFoundError(absl::StrCat(vla, " not found"));
  }
  const absl::Time now = Now();
  const absl::Time to = end.value_or(now);
  const absl::Time from = start.value_or(PeriodsBefore(
      period, tz, to - absl::Nanoseconds(1), kDefaultReportPeriods - 1));
  if (from >= to) {
    return absl::InvalidArgumentError("start_time: must be before end_time");
  }
  const std::vector<TimeWindow> periods = CalendarPeriods(
      period, tz, from, std::min(to, now), kMaxReportPeriods + 1);
  if (periods.size() > kMaxReportPeriods) {
    return absl::InvalidArgumentError(absl::StrCat(
        "start_time: more than ", kMaxReportPeriods,
        " periods between start_time and end_time; ask for fewer or longer "
        "periods"));
  }
  v1::VlaReport report;
  report.set_vla(vla);
  report.set_period(period);
  report.set_time_zone(zone);
  if (periods.empty()) return report;
  VLA_ASSIGN_OR_RETURN(
      const std::vector<EvaluationState> rows,
      store_->EvaluationStates(
          vla, absl::ToUnixMicros(periods.front().start),
          absl::ToUnixMicros(std::min(periods.back().end, now))));
  std::vector<PublishedState> published;
  published.reserve(rows.size());
  for (const EvaluationState& row : rows) {
    published.push_back({absl::FromUnixMicros(row.time_us), row.state,
                         row.watermelon, row.disputed});
  }
  VLA_ASSIGN_OR_RETURN(
      std::vector<v1::PeriodReport> reports,
      PeriodReports(periods, now, published, [&](const TimeWindow& window) {
        return engine_.VlaStatusOver(vla, window);
      }));
  for (v1::PeriodReport& r : reports) *report.add_periods() = std::move(r);
  return report;
}

absl::StatusOr<v1::KviSeries> Evaluator::GetKviSeries(
    const std::string& kvi, std::optional<absl::Time> start,
    std::optional<absl::Time> end, std::optional<absl::Duration> step) {
  VLA_RETURN_IF_ERROR(ParseName("kvi", kvi, "kvis").status());
  const absl::Time to = end.value_or(Now());
  const absl::Time from = start.value_or(to - kDefaultLookBack);
  const absl::Duration every = step.value_or(kDefaultSeriesStep);
  if (every < kMinSeriesStep) {
    return absl::InvalidArgumentError("step: must be at least 60 s");
  }
  if (from >= to) {
    return absl::InvalidArgumentError("start_time: must be before end_time");
  }
  absl::Duration rest;
  const int64_t points = absl::IDivDuration(to - from, every, &rest) +
                         (rest > absl::ZeroDuration());
  if (points > kMaxSeriesPoints) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step: ", points, " points between start_time and end_time; at most ",
        kMaxSeriesPoints, ": take a longer step or a shorter range"));
  }
  std::vector<absl::Time> times;
  times.reserve(points);
  for (int64_t i = 0; i < points; ++i) times.push_back(from + i * every);
  VLA_ASSIGN_OR_RETURN(std::vector<v1::KviValue> values,
                       engine_.KviSeries(kvi, times));
  v1::KviSeries series;
  series.set_kvi(kvi);
  for (v1::KviValue& v : values) *series.add_points() = std::move(v);
  return series;
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
  // With replicas: only the owned value streams' KVIs and VLAs, published
  // for the other replicas too.
  Replication* const replication = replication_;
  std::vector<PublishedStatus> for_replicas;
  std::vector<KviBoard::Update> kvi_updates;
  for (const std::string& name : dirty.kvis) {
    if (!Serves(name)) continue;
    absl::StatusOr<v1::KviValue> value = engine_.KviValue(name, now);
    if (!value.ok()) continue;
    if (!DiffersFromBoard(kvi_board_, name, *value)) {
      kvi_board_.Refresh(name, *std::move(value));
      continue;
    }
    if (replication != nullptr) {
      for_replicas.push_back(
          {0, PublishedStatus::Board::kKvi, name, value->SerializeAsString()});
    }
    kvi_updates.push_back(
        {name, *std::move(value), engine_.KviAttributes(name)});
  }
  kvi_board_.Publish(std::move(kvi_updates));
  std::vector<v1::VlaStatus> changed;
  std::vector<VlaBoard::Update> updates;
  for (const std::string& name : todo) {
    if (!Serves(name)) continue;
    absl::StatusOr<v1::VlaStatus> status = engine_.VlaStatus(name, now);
    if (!status.ok()) continue;
    if (!DiffersFromBoard(board_, name, *status)) {
      board_.Refresh(name, *std::move(status));
      continue;
    }
    if (replication != nullptr) {
      for_replicas.push_back(
          {0, PublishedStatus::Board::kVla, name, status->SerializeAsString()});
    }
    updates.push_back({name, *status, engine_.VlaAttributes(name, *status)});
    if (!RepeatsStoredAtOpen(name, *status)) {
      changed.push_back(*std::move(status));
    }
  }
  // In the history before it is published: a status seen is a status kept.
  if (absl::Status s = store_->AppendEvaluations(changed); !s.ok()) {
    Log(LogLevel::kError, "storing evaluations failed",
        {{"error", s.ToString()}});
  }
  board_.Publish(std::move(updates));
  if (replication != nullptr) replication->Publish(for_replicas);
  MaybePrune(now);
  (all ? metrics_.full_pass : metrics_.changed_pass)
      .ObserveDuration(
          absl::FromChrono(std::chrono::steady_clock::now() - started));
}

bool Evaluator::RepeatsStoredAtOpen(const std::string& name,
                                    const v1::VlaStatus& status) {
  auto it = stored_at_open_.find(name);
  if (it == stored_at_open_.end()) return false;
  const bool same = !Changed(it->second, status);
  stored_at_open_.erase(it);
  return same;
}

void Evaluator::MaybePrune(absl::Time now) {
  if (now - last_prune_ < options_.prune_interval) return;
  last_prune_ = now;
  const absl::StatusOr<int64_t> pruned = store_->PruneEvaluations(
      absl::ToUnixMicros(now - options_.evaluation_retention));
  if (!pruned.ok()) {
    Log(LogLevel::kError, "pruning evaluations failed",
        {{"error", pruned.status().ToString()}});
  } else if (*pruned > 0) {
    Log(LogLevel::kInfo, "pruned old evaluations",
        {{"evaluations", absl::StrCat(*pruned)}});
  }
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
