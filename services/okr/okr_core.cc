#include "services/okr/okr_core.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/names.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "services/okr/scoring.h"

namespace vla::okr {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxNote = 4000;
constexpr absl::string_view kResumeScope = "WatchObjectiveStatuses";

bool Changed(const v1::ObjectiveStatus& a, const v1::ObjectiveStatus& b) {
  if (a.status() != b.status() || a.color() != b.color() ||
      a.score() != b.score() || a.key_results_size() != b.key_results_size()) {
    return true;
  }
  for (int i = 0; i < a.key_results_size(); ++i) {
    if (a.key_results(i).status() != b.key_results(i).status()) return true;
  }
  return false;
}

}  // namespace

const std::vector<FilterField>& OkrCore::FilterFields() {
  static const auto* const fields = new std::vector<FilterField>{
      {"owner", FilterField::Type::kString, nullptr},
      {"status", FilterField::Type::kEnum, v1::OkrStatus_descriptor()},
      {"objective", FilterField::Type::kString, nullptr},
  };
  return *fields;
}

absl::StatusOr<std::unique_ptr<OkrCore>> OkrCore::Open(const std::string& path,
                                                       const Clock* clock,
                                                       KviSource* kvis,
                                                       OkrOptions options) {
  VLA_ASSIGN_OR_RETURN(auto store, OpenSqliteOkrStore(path));
  return Open(std::move(store), clock, kvis, options);
}

absl::StatusOr<std::unique_ptr<OkrCore>> OkrCore::Open(
    std::unique_ptr<OkrStore> store, const Clock* clock, KviSource* kvis,
    OkrOptions options) {
  auto core = std::unique_ptr<OkrCore>(
      new OkrCore(std::move(store), clock, kvis, options));
  {
    std::lock_guard<std::mutex> lock(core->mu_);
    VLA_ASSIGN_OR_RETURN(
        core->revision_,
        core->store_->LoadDefinitions([&](absl::string_view data) {
          v1::Change c;
          if (c.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
            core->ApplyChangeLocked(c);
          }
        }));
    VLA_RETURN_IF_ERROR(core->ReadCheckInsLocked());
  }
  // Check-ins other replicas record are read by the loop.
  core->store_->OnCheckIns([p = core.get()] {
    {
      std::lock_guard<std::mutex> lock(p->mu_);
      p->check_ins_pending_ = true;
    }
    p->cv_.notify_all();
  });
  if (options.run_loop) {
    core->loop_ = std::thread([p = core.get()] { p->Loop(); });
  }
  return core;
}

OkrCore::OkrCore(std::unique_ptr<OkrStore> store, const Clock* clock,
                 KviSource* kvis, OkrOptions options)
    : store_(std::move(store)),
      clock_(clock),
      kvis_(kvis),
      options_(options),
      board_(EncodedItems<v1::ObjectiveStatusEvent, v1::ObjectiveStatus>(
                 v1::WatchObjectiveStatusesResponse::kEventsFieldNumber,
                 [this](const ObjectiveBoard::Event& event,
                        v1::ObjectiveStatusEvent* out) {
                   out->set_snapshot(event.snapshot);
                   out->set_sequence(event.sequence);
                   // Not in the middle of a snapshot: resuming there could
                   // miss what the snapshot has not sent yet.
                   if (!event.snapshot ||
                       event.kind != ObjectiveBoard::Event::Kind::kStatus) {
                     out->set_resume_token(ResumeToken(event.sequence));
                   }
                   switch (event.kind) {
                     case ObjectiveBoard::Event::Kind::kSnapshotComplete:
                       out->set_snapshot_complete(true);
                       break;
                     case ObjectiveBoard::Event::Kind::kRemoved:
                       out->mutable_status()->set_objective(event.key);
                       break;
                     case ObjectiveBoard::Event::Kind::kStatus:
                       *out->mutable_status() = event.status;
                       break;
                   }
                 }),
             StatusBoardOptions{.max_batch_size = options.watch_batch_bytes}),
      resume_tokens_(store_->secret(), std::string(kResumeScope),
                     board_.epoch()),
      tokens_(store_->secret()) {}

OkrCore::~OkrCore() { Shutdown(); }

void OkrCore::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  store_->OnCheckIns(nullptr);
  board_.Close();
  if (loop_.joinable()) loop_.join();
}

absl::Status OkrCore::ReadCheckInsLocked() {
  VLA_ASSIGN_OR_RETURN(
      check_in_cursor_,
      store_->ReadCheckIns(check_in_cursor_,
                           [this](int64_t, const v1::CheckIn& c) {
                             check_ins_[c.objective()].push_back(c);
                             dirty_ = true;
                           }));
  check_ins_pending_ = false;
  return absl::OkStatus();
}

void OkrCore::ApplyChangeLocked(const v1::Change& c) {
  const bool deleted = c.kind() == v1::CHANGE_KIND_DELETED;
  if (c.has_team()) {
    if (deleted) {
      teams_.erase(c.name());
    } else {
      teams_.insert(c.name());
    }
  } else if (c.has_objective()) {
    if (deleted) {
      objectives_.erase(c.name());
    } else {
      objectives_[c.name()] = c.objective();
    }
  }
}

absl::Status OkrCore::ApplyChanges(const std::vector<v1::Change>& changes) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const v1::Change& c : changes) {
    if (!c.has_team() && !c.has_objective()) continue;
    rows.emplace_back(c.name(), c.kind() == v1::CHANGE_KIND_DELETED
                                    ? std::string()
                                    : c.SerializeAsString());
  }
  if (changes.empty()) return absl::OkStatus();
  VLA_RETURN_IF_ERROR(
      store_->ApplyDefinitions(rows, changes.back().revision()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const v1::Change& c : changes) ApplyChangeLocked(c);
    revision_ = changes.back().revision();
    dirty_ = true;
  }
  {
    // Deleted objectives leave the board now, not at the next pass, so that
    // reads never answer for them (a pass running meanwhile is over before
    // this; the next one sees the change).
    std::lock_guard<std::mutex> pass_lock(pass_mu_);
    for (const v1::Change& c : changes) {
      if (c.has_objective() && c.kind() == v1::CHANGE_KIND_DELETED) {
        board_.Remove(c.name());
      }
    }
  }
  cv_.notify_all();
  return absl::OkStatus();
}

int64_t OkrCore::definitions_revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return revision_;
}

v1::ObjectiveStatus OkrCore::Score(const v1::Objective& objective,
                                   absl::Time at,
                                   const std::vector<v1::CheckIn>& check_ins) {
  const absl::Time grading = GradingTime(objective, at);
  return ScoreObjective(
      objective,
      [&](const v1::KeyResult& kr) {
        KeyResultInput in;
        if (!kr.kvi().empty()) {
          absl::StatusOr<v1::KviValue> v = kvis_->Value(kr.kvi(), grading);
          if (v.ok() && v->has_value()) in.value = v->value();
          return in;
        }
        // The latest check-in recorded at or before the grading time.
        for (const v1::CheckIn& c : check_ins) {
          if (c.key_result_id() != kr.id()) continue;
          if (FromProtoTime(c.create_time()) > grading) continue;
          in.value = c.value();
          in.confidence = c.confidence();
        }
        return in;
      },
      at);
}

FilterAttributes OkrCore::Attributes(const v1::Objective& objective,
                                     const v1::ObjectiveStatus& status) const {
  FilterAttributes attrs;
  auto& owners = attrs["owner"];
  owners.assign(objective.owners().begin(), objective.owners().end());
  owners.push_back(objective.lead());
  attrs["status"] = {v1::OkrStatus_Name(status.status())};
  attrs["objective"] = {objective.name()};
  return attrs;
}

absl::StatusOr<v1::ObjectiveStatus> OkrCore::GetObjectiveStatus(
    const std::string& name, std::optional<absl::Time> at) {
  VLA_RETURN_IF_ERROR(ParseName("objective", name, "objectives").status());
  if (!at.has_value()) {
    if (std::optional<v1::ObjectiveStatus> latest = board_.Get(name)) {
      return *std::move(latest);
    }
  }
  v1::Objective objective;
  std::vector<v1::CheckIn> check_ins;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objectives_.find(name);
    if (it == objectives_.end()) {
      return absl::NotFoundError(absl::StrCat(name, " not found"));
    }
    objective = it->second;
    auto c = check_ins_.find(name);
    if (c != check_ins_.end()) check_ins = c->second;
  }
  return Score(objective, at.value_or(clock_->Now()), check_ins);
}

absl::Status OkrCore::ListObjectiveStatuses(
    const std::string& filter_text, int page_size,
    const std::string& page_token,
    v1::ListObjectiveStatusesResponse* response) {
  if (page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  VLA_ASSIGN_OR_RETURN(Filter filter,
                       Filter::Parse(filter_text, FilterFields()));
  const std::string scope =
      absl::StrCat("ListObjectiveStatuses\n", filter_text);
  VLA_ASSIGN_OR_RETURN(std::string after, tokens_.Decode(scope, page_token));
  bool more = false;
  auto page = board_.List(filter, after, page_size, &more);
  for (auto& [key, status] : page)
    *response->add_statuses() = std::move(status);
  if (more && !page.empty()) {
    response->set_next_page_token(tokens_.Encode(scope, page.back().first));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CheckIn> OkrCore::RecordCheckIn(
    const v1::RecordCheckInRequest& req) {
  VLA_RETURN_IF_ERROR(
      ParseName("objective", req.objective(), "objectives").status());
  if (req.key_result_id().empty()) {
    return absl::InvalidArgumentError("key_result_id: required");
  }
  if (!std::isfinite(req.value())) {
    return absl::InvalidArgumentError("value: must be a finite number");
  }
  if (!std::isfinite(req.confidence()) || req.confidence() < 0 ||
      req.confidence() > 1) {
    return absl::InvalidArgumentError("confidence: must be in [0, 1]");
  }
  if (req.note().size() > kMaxNote) {
    return absl::InvalidArgumentError(
        absl::StrCat("note: longer than ", kMaxNote, " characters"));
  }
  v1::CheckIn check_in;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objectives_.find(req.objective());
    if (it == objectives_.end()) {
      return absl::NotFoundError(absl::StrCat(req.objective(), " not found"));
    }
    const v1::KeyResult* kr = nullptr;
    for (const v1::KeyResult& k : it->second.key_results()) {
      if (k.id() == req.key_result_id()) kr = &k;
    }
    if (kr == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key_result_id: ", req.objective(), " has no key result \"",
          req.key_result_id().substr(0, 80), "\""));
    }
    if (!kr->kvi().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("key_result_id: ", kr->id(), " takes its value from ",
                       kr->kvi(), "; only manual key results take check-ins"));
    }
    if (!req.team().empty() && !teams_.count(req.team())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "team: ", req.team().substr(0, 100), " is not a known team"));
    }
    check_in.set_objective(req.objective());
    check_in.set_key_result_id(req.key_result_id());
    check_in.set_value(req.value());
    check_in.set_confidence(req.confidence());
    check_in.set_note(req.note());
    check_in.set_team(req.team());
    *check_in.mutable_create_time() = ToProtoTime(clock_->Now());
    // Stored before it is acknowledged or used; memory learns of it (and of
    // those other replicas recorded before it) from the store.
    VLA_RETURN_IF_ERROR(store_->AddCheckIn(check_in));
    if (absl::Status s = ReadCheckInsLocked(); !s.ok()) {
      check_ins_pending_ = true;  // the loop tries again
    }
  }
  cv_.notify_all();
  return check_in;
}

std::string OkrCore::ResumeToken(int64_t sequence) const {
  return resume_tokens_.Encode(sequence);
}

absl::StatusOr<int64_t> OkrCore::ParseResumeToken(
    const std::string& token) const {
  return resume_tokens_.Decode(token);
}

void OkrCore::KviChanged(const std::string& kvi) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirty_) return;
    bool used = kvi.empty();
    for (auto it = objectives_.begin(); !used && it != objectives_.end();
         ++it) {
      for (const v1::KeyResult& kr : it->second.key_results()) {
        if (kr.kvi() == kvi) {
          used = true;
          break;
        }
      }
    }
    if (!used) return;
    dirty_ = true;
  }
  cv_.notify_all();
}

void OkrCore::EvaluatePass() {
  std::lock_guard<std::mutex> pass_lock(pass_mu_);
  std::map<std::string, v1::Objective> objectives;
  std::map<std::string, std::vector<v1::CheckIn>> check_ins;
  {
    std::lock_guard<std::mutex> lock(mu_);
    objectives = objectives_;
    check_ins = check_ins_;
    dirty_ = false;
  }
  for (const std::string& key : board_.Keys()) {
    if (!objectives.count(key)) board_.Remove(key);
  }
  const absl::Time now = clock_->Now();
  std::vector<ObjectiveBoard::Update> updates;
  for (const auto& [name, objective] : objectives) {
    v1::ObjectiveStatus status = Score(objective, now, check_ins[name]);
    const bool changed =
        board_.Inspect(name, [&](const v1::ObjectiveStatus* previous) {
          return previous == nullptr || Changed(*previous, status);
        });
    if (!changed) {
      board_.Refresh(name, std::move(status));
      continue;
    }
    FilterAttributes attrs = Attributes(objective, status);
    updates.push_back({name, std::move(status), std::move(attrs)});
  }
  board_.Publish(std::move(updates));
}

void OkrCore::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.tick),
                 [this] { return stopping_ || dirty_ || check_ins_pending_; });
    if (stopping_) return;
    if (check_ins_pending_) {
      if (absl::Status s = ReadCheckInsLocked(); !s.ok()) {
        Log(LogLevel::kWarning, "reading check-ins failed; retrying",
            {{"error", s.ToString()}});
      }
    }
    lock.unlock();
    EvaluatePass();
    lock.lock();
  }
}

}  // namespace vla::okr
