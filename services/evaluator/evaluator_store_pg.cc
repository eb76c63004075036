// EvaluatorStore on PostgreSQL (schema vla_evaluator), shared by the
// evaluator's replicas. Records are numbered by a sequence while an advisory
// lock excludes other writers until the commit, so sequence order is commit
// order (RecordLog); a batch is one multi-row INSERT of binary arrays with
// ON CONFLICT (event_id) DO NOTHING (dedupe by the unique key), and a NOTIFY
// tells the other replicas.
#include <mutex>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_util.h"
#include "services/common/pg_util.h"
#include "services/evaluator/evaluator_store.h"

namespace vla::evaluator {
namespace {

constexpr char kSchema[] = "vla_evaluator";
constexpr char kChannel[] = "vla_evaluator_records";
constexpr absl::Duration kPollInterval = absl::Seconds(1);
// Rows per read of the log.
constexpr int kReadChunk = 10000;

// Schema migrations, in order; never edit a released one, append instead.
const std::vector<std::string>& Migrations() {
  static const auto* const m = new std::vector<std::string>{
      R"sql(
        CREATE TABLE records (
          seq          bigserial PRIMARY KEY,
          event_id     text COLLATE "C" NOT NULL UNIQUE,
          kind         integer NOT NULL,
          value_stream text COLLATE "C" NOT NULL,
          data         bytea NOT NULL
        );
        CREATE INDEX records_by_value_stream ON records (value_stream, seq);
        CREATE TABLE definitions (
          name text COLLATE "C" PRIMARY KEY,
          data bytea NOT NULL
        );
        CREATE TABLE evaluations (
          id           bigserial PRIMARY KEY,
          vla          text COLLATE "C" NOT NULL,
          vla_revision bigint NOT NULL,
          time_us      bigint NOT NULL,
          state        integer NOT NULL,
          score        double precision NOT NULL,
          data         bytea NOT NULL
        );
        CREATE INDEX evaluations_by_vla ON evaluations (vla, time_us);
        CREATE TABLE meta (
          key   text PRIMARY KEY,
          value bytea NOT NULL
        );
        CREATE TABLE replicas (
          id        text COLLATE "C" PRIMARY KEY,
          address   text NOT NULL,
          heartbeat timestamptz NOT NULL
        );
        CREATE TABLE leases (
          value_stream text COLLATE "C" PRIMARY KEY,
          owner        text COLLATE "C" NOT NULL,
          expires      timestamptz NOT NULL
        );
        CREATE SEQUENCE published_seq;
        CREATE TABLE published (
          board integer NOT NULL,
          key   text COLLATE "C" NOT NULL,
          seq   bigint NOT NULL,
          data  bytea NOT NULL,
          PRIMARY KEY (board, key)
        );
        CREATE INDEX published_by_seq ON published (seq);
      )sql",
      // History and reports: the flags time in state needs, beside the
      // state (NULL in rows stored before: derived from `data` at open),
      // every VLA revision seen, and an index for pruning by time.
      R"sql(
        ALTER TABLE evaluations ADD COLUMN watermelon boolean;
        ALTER TABLE evaluations ADD COLUMN disputed boolean;
        CREATE INDEX evaluations_by_time ON evaluations (time_us);
        CREATE TABLE vla_revisions (
          vla             text COLLATE "C" NOT NULL,
          change_revision bigint NOT NULL,
          data            bytea NOT NULL,
          PRIMARY KEY (vla, change_revision)
        );
      )sql",
  };
  return *m;
}

using pg::Params;
using pg::Result;
using pg::Statement;

// Held from the start of a record-inserting transaction to its end.
constexpr Statement kLockRecords{
    "evaluator_lock_records",
    "SELECT pg_advisory_xact_lock(hashtext('vla_evaluator.records'))"};
// Rows in the order given (the first of two with one event_id is stored).
constexpr Statement kInsertRecords{
    "evaluator_insert_records",
    "INSERT INTO records (event_id, kind, value_stream, data) "
    "SELECT e, k, v, d FROM unnest($1::text[], $2::int4[], $3::text[], "
    "$4::bytea[]) WITH ORDINALITY AS t(e, k, v, d, i) ORDER BY i "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq"};
constexpr Statement kNotifyRecords{
    "evaluator_notify_records",
    "SELECT pg_notify('vla_evaluator_records', '')"};
constexpr Statement kReadRecords{
    "evaluator_read_records",
    "SELECT seq, kind, value_stream, data FROM records WHERE seq > $1 "
    "ORDER BY seq LIMIT $2"};
constexpr Statement kReadValueStream{
    "evaluator_read_value_stream",
    "SELECT seq, kind, value_stream, data FROM records "
    "WHERE value_stream = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"};
constexpr Statement kLastSequence{"evaluator_last_sequence",
                                  "SELECT COALESCE(MAX(seq), 0) FROM records"};
constexpr Statement kCountRecords{"evaluator_count_records",
                                  "SELECT COUNT(*) FROM records"};
constexpr Statement kInsertEvaluations{
    "evaluator_insert_evaluations",
    "INSERT INTO evaluations (vla, vla_revision, time_us, state, score, "
    "watermelon, disputed, data) "
    "SELECT v, r, t, st, sc, w <> 0, d <> 0, b FROM unnest($1::text[], "
    "$2::int8[], $3::int8[], $4::int4[], $5::float8[], $6::int4[], "
    "$7::int4[], $8::bytea[]) WITH ORDINALITY AS x(v, r, t, st, sc, w, d, b, "
    "i) ORDER BY i"};
constexpr Statement kEvaluations{
    "evaluator_evaluations",
    "SELECT id, data FROM evaluations WHERE vla = $1 AND time_us >= $2 AND "
    "(time_us > $2 OR id > $3) AND time_us < $4 ORDER BY time_us, id "
    "LIMIT $5"};
constexpr Statement kLatestEvaluations{
    "evaluator_latest_evaluations",
    "SELECT DISTINCT ON (vla) data FROM evaluations "
    "ORDER BY vla, time_us DESC, id DESC"};
constexpr Statement kStateBefore{
    "evaluator_state_before",
    "SELECT time_us, state, watermelon, disputed FROM evaluations "
    "WHERE vla = $1 AND time_us < $2 ORDER BY time_us DESC, id DESC LIMIT 1"};
constexpr Statement kStatesIn{
    "evaluator_states_in",
    "SELECT time_us, state, watermelon, disputed FROM evaluations "
    "WHERE vla = $1 AND time_us >= $2 AND time_us < $3 ORDER BY time_us, id"};
// Keeps, per VLA, the last evaluation before $1.
constexpr Statement kPruneEvaluations{
    "evaluator_prune_evaluations",
    "DELETE FROM evaluations e WHERE e.time_us < $1 AND EXISTS ("
    "SELECT 1 FROM evaluations l WHERE l.vla = e.vla AND l.time_us < $1 AND "
    "(l.time_us > e.time_us OR (l.time_us = e.time_us AND l.id > e.id)))"};
constexpr Statement kUnflaggedEvaluations{
    "evaluator_unflagged_evaluations",
    "SELECT id, data FROM evaluations WHERE watermelon IS NULL"};
constexpr Statement kSetEvaluationFlags{
    "evaluator_set_evaluation_flags",
    "UPDATE evaluations e SET watermelon = x.w <> 0, disputed = x.d <> 0 "
    "FROM unnest($1::int8[], $2::int4[], $3::int4[]) AS x(id, w, d) "
    "WHERE e.id = x.id"};
constexpr Statement kAddVlaRevisions{
    "evaluator_add_vla_revisions",
    "INSERT INTO vla_revisions (vla, change_revision, data) "
    "SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[]) "
    "ON CONFLICT DO NOTHING"};
constexpr Statement kVlaRevisions{
    "evaluator_vla_revisions",
    "SELECT change_revision, data FROM vla_revisions"};

constexpr char kPublishedChannel[] = "vla_evaluator_published";
constexpr Statement kLockLeases{
    "evaluator_lock_leases",
    "SELECT pg_advisory_xact_lock(hashtext('vla_evaluator.leases'))"};
constexpr Statement kBeat{
    "evaluator_beat",
    "INSERT INTO replicas (id, address, heartbeat) VALUES ($1, $2, now()) "
    "ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
    "heartbeat = now()"};
constexpr Statement kForgetSilent{
    "evaluator_forget_silent",
    "DELETE FROM replicas WHERE heartbeat < now() - $1::interval"};
constexpr Statement kExpireLeases{"evaluator_expire_leases",
                                  "DELETE FROM leases WHERE expires < now()"};
constexpr Statement kLiveReplicas{"evaluator_live_replicas",
                                  "SELECT id FROM replicas"};
constexpr Statement kRenewLeases{
    "evaluator_renew_leases",
    "UPDATE leases SET expires = now() + $2::interval WHERE owner = $1"};
constexpr Statement kLeaseOwners{"evaluator_lease_owners",
                                 "SELECT value_stream, owner FROM leases"};
constexpr Statement kGiveUp{
    "evaluator_give_up",
    "DELETE FROM leases WHERE owner = $1 AND value_stream = ANY($2::text[])"};
constexpr Statement kTake{"evaluator_take",
                          "INSERT INTO leases (value_stream, owner, expires) "
                          "SELECT unnest($1::text[]), $2, now() + $3::interval "
                          "ON CONFLICT (value_stream) DO NOTHING"};
constexpr Statement kLeases{
    "evaluator_leases",
    "SELECT l.value_stream, l.owner, r.address FROM leases l "
    "JOIN replicas r ON r.id = l.owner ORDER BY l.value_stream"};
constexpr Statement kLeaveLeases{"evaluator_leave_leases",
                                 "DELETE FROM leases WHERE owner = $1"};
constexpr Statement kLeaveReplica{"evaluator_leave_replica",
                                  "DELETE FROM replicas WHERE id = $1"};
constexpr Statement kLockPublished{
    "evaluator_lock_published",
    "SELECT pg_advisory_xact_lock(hashtext('vla_evaluator.published'))"};
constexpr Statement kPublish{
    "evaluator_publish",
    "INSERT INTO published (board, key, seq, data) "
    "SELECT b, k, nextval('published_seq'), d FROM unnest($1::int4[], "
    "$2::text[], $3::bytea[]) WITH ORDINALITY AS t(b, k, d, i) ORDER BY i "
    "ON CONFLICT (board, key) DO UPDATE SET seq = excluded.seq, "
    "data = excluded.data"};
constexpr Statement kNotifyPublished{
    "evaluator_notify_published",
    "SELECT pg_notify('vla_evaluator_published', '')"};
constexpr Statement kReadPublished{
    "evaluator_read_published",
    "SELECT seq, board, key, data FROM published WHERE seq > $1 "
    "ORDER BY seq"};

std::string Interval(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), " milliseconds");
}

class PgEvaluatorStore final : public EvaluatorStore,
                               public RecordLog,
                               public ReplicaCoordinator {
 public:
  static absl::StatusOr<std::unique_ptr<EvaluatorStore>> Open(
      const std::string& uri, int connections) {
    auto store = std::unique_ptr<PgEvaluatorStore>(
        new PgEvaluatorStore(uri, connections));
    VLA_RETURN_IF_ERROR(
        store->pool_.Run([&](pg::Connection& c) -> absl::Status {
          VLA_RETURN_IF_ERROR(pg::Migrate(c, kSchema, Migrations()));
          VLA_ASSIGN_OR_RETURN(store->secret_,
                               pg::LoadOrCreateSecret(c, "page_secret"));
          return DeriveEvaluationFlags(c);
        }));
    store->listener_ = std::make_unique<pg::Listener>(
        uri, kChannel, kPollInterval,
        [p = store.get()] { p->Wake(p->on_stored_); });
    store->published_listener_ = std::make_unique<pg::Listener>(
        uri, kPublishedChannel, kPollInterval,
        [p = store.get()] { p->Wake(p->on_published_); });
    return std::unique_ptr<EvaluatorStore>(std::move(store));
  }

  ~PgEvaluatorStore() override {
    listener_.reset();
    published_listener_.reset();
  }

  absl::StatusOr<std::vector<int64_t>> InsertRecords(
      const std::vector<RecordRow>& rows) override {
    std::vector<absl::string_view> ids, streams, data;
    std::vector<int32_t> kinds;
    ids.reserve(rows.size());
    streams.reserve(rows.size());
    data.reserve(rows.size());
    kinds.reserve(rows.size());
    for (const RecordRow& r : rows) {
      ids.push_back(r.event_id);
      kinds.push_back(static_cast<int32_t>(r.kind));
      streams.push_back(r.value_stream);
      data.push_back(r.data);
    }
    Params params;
    params.TextArray(ids).IntArray(kinds).TextArray(streams).BytesArray(data);
    std::vector<int64_t> inserted(rows.size(), 0);
    if (rows.empty()) return inserted;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_RETURN_IF_ERROR(c.Begin());
      VLA_RETURN_IF_ERROR(c.Run(kLockRecords).status());
      VLA_ASSIGN_OR_RETURN(Result r, c.Run(kInsertRecords, params));
      if (r.rows() > 0) VLA_RETURN_IF_ERROR(c.Run(kNotifyRecords).status());
      VLA_RETURN_IF_ERROR(c.Commit());
      // The first row with each returned event_id is the one stored.
      absl::flat_hash_map<absl::string_view, int64_t> fresh;
      fresh.reserve(r.rows());
      for (int i = 0; i < r.rows(); ++i) fresh[r.Bytes(i, 0)] = r.Int(i, 1);
      for (size_t i = 0; i < rows.size(); ++i) {
        auto it = fresh.find(rows[i].event_id);
        if (it == fresh.end()) continue;
        inserted[i] = it->second;
        fresh.erase(it);
      }
      return absl::OkStatus();
    }));
    return inserted;
  }

  absl::Status ForEachRecord(
      int64_t after,
      const std::function<void(int64_t, v1::RecordKind, absl::string_view)>& fn)
      override {
    while (true) {
      int n = 0;
      VLA_ASSIGN_OR_RETURN(int64_t last,
                           Read(after, kReadChunk, [&](const LoggedRecord& r) {
                             ++n;
                             fn(r.sequence, r.kind, r.data);
                           }));
      if (n < kReadChunk) return absl::OkStatus();
      after = last;
    }
  }

  absl::StatusOr<int64_t> RecordCount() override {
    return QueryInt(kCountRecords);
  }

  absl::Status ApplyDefinitions(const std::vector<DefinitionRow>& rows,
                                int64_t revision) override {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const DefinitionRow& row : rows)
      pairs.emplace_back(row.name, row.data);
    return pool_.Run([&](pg::Connection& c) {
      return pg::StoreDefinitions(c, pairs, revision);
    });
  }

  absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view, absl::string_view)>& fn)
      override {
    // Collected first: a retried attempt must not call fn twice.
    std::vector<std::pair<std::string, std::string>> rows;
    int64_t revision = 0;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      rows.clear();
      VLA_ASSIGN_OR_RETURN(
          revision, pg::LoadDefinitions(
                        c, [&](absl::string_view name, absl::string_view data) {
                          rows.emplace_back(name, data);
                        }));
      return absl::OkStatus();
    }));
    for (const auto& [name, data] : rows) fn(name, data);
    return revision;
  }

  absl::Status AddVlaRevisions(
      const std::vector<VlaRevisionRow>& rows) override {
    if (rows.empty()) return absl::OkStatus();
    std::vector<absl::string_view> vlas, data;
    std::vector<int64_t> revisions;
    for (const VlaRevisionRow& row : rows) {
      vlas.push_back(row.vla);
      revisions.push_back(row.change_revision);
      data.push_back(row.data);
    }
    Params params;
    params.TextArray(vlas).Int64Array(revisions).BytesArray(data);
    return pool_.Run([&](pg::Connection& c) {
      return c.Run(kAddVlaRevisions, params).status();
    });
  }

  absl::Status ForEachVlaRevision(
      const std::function<void(int64_t, absl::string_view)>& fn) override {
    // Read whole first: a retried attempt must not call fn twice.
    Result r;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(r, c.Run(kVlaRevisions));
      return absl::OkStatus();
    }));
    for (int i = 0; i < r.rows(); ++i) fn(r.Int(i, 0), r.Bytes(i, 1));
    return absl::OkStatus();
  }

  absl::Status AppendEvaluations(
      const std::vector<v1::VlaStatus>& statuses) override {
    if (statuses.empty()) return absl::OkStatus();
    std::vector<absl::string_view> vlas;
    std::vector<int64_t> revisions, times;
    std::vector<int32_t> states, watermelons, disputed;
    std::vector<double> scores;
    std::vector<std::string> data;
    for (const v1::VlaStatus& s : statuses) {
      vlas.push_back(s.vla());
      revisions.push_back(s.vla_revision());
      times.push_back(absl::ToUnixMicros(FromProtoTime(s.evaluate_time())));
      states.push_back(static_cast<int32_t>(s.state()));
      scores.push_back(s.score());
      watermelons.push_back(s.watermelon() ? 1 : 0);
      disputed.push_back(s.disputed() ? 1 : 0);
      data.push_back(s.SerializeAsString());
    }
    Params params;
    params.TextArray(vlas)
        .Int64Array(revisions)
        .Int64Array(times)
        .IntArray(states)
        .DoubleArray(scores)
        .IntArray(watermelons)
        .IntArray(disputed)
        .BytesArray(std::vector<absl::string_view>(data.begin(), data.end()));
    return pool_.Run([&](pg::Connection& c) {
      return c.Run(kInsertEvaluations, params).status();
    });
  }

  absl::StatusOr<std::vector<StoredEvaluation>> Evaluations(
      absl::string_view vla, EvaluationCursor after, int64_t to_us,
      int limit) override {
    std::vector<StoredEvaluation> out;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      out.clear();
      VLA_ASSIGN_OR_RETURN(Result r, c.Run(kEvaluations, Params()
                                                             .Text(vla)
                                                             .Int(after.time_us)
                                                             .Int(after.id)
                                                             .Int(to_us)
                                                             .Int(limit)));
      for (int i = 0; i < r.rows(); ++i) {
        StoredEvaluation& e = out.emplace_back();
        e.id = r.Int(i, 0);
        const absl::string_view d = r.Bytes(i, 1);
        if (!e.status.ParseFromArray(d.data(), static_cast<int>(d.size()))) {
          return absl::DataLossError("stored evaluation does not parse");
        }
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<v1::VlaStatus>> LatestEvaluations() override {
    std::vector<v1::VlaStatus> out;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      out.clear();
      VLA_ASSIGN_OR_RETURN(Result r, c.Run(kLatestEvaluations));
      for (int i = 0; i < r.rows(); ++i) {
        const absl::string_view d = r.Bytes(i, 0);
        if (!out.emplace_back().ParseFromArray(d.data(),
                                               static_cast<int>(d.size()))) {
          return absl::DataLossError("stored evaluation does not parse");
        }
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<EvaluationState>> EvaluationStates(
      absl::string_view vla, int64_t from_us, int64_t to_us) override {
    std::vector<EvaluationState> out;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      out.clear();
      auto read = [&out](const Result& r) {
        for (int i = 0; i < r.rows(); ++i) {
          EvaluationState& e = out.emplace_back();
          e.time_us = r.Int(i, 0);
          e.state = static_cast<v1::ComplianceState>(r.Int(i, 1));
          e.watermelon = r.Int(i, 2) != 0;
          e.disputed = r.Int(i, 3) != 0;
        }
      };
      VLA_RETURN_IF_ERROR(c.Begin());
      VLA_ASSIGN_OR_RETURN(
          Result before, c.Run(kStateBefore, Params().Text(vla).Int(from_us)));
      VLA_ASSIGN_OR_RETURN(
          Result in,
          c.Run(kStatesIn, Params().Text(vla).Int(from_us).Int(to_us)));
      VLA_RETURN_IF_ERROR(c.Commit());
      read(before);
      read(in);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<int64_t> PruneEvaluations(int64_t before_us) override {
    int64_t deleted = 0;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(Result r,
                           c.Run(kPruneEvaluations, Params().Int(before_us)));
      deleted = r.Affected();
      return absl::OkStatus();
    }));
    return deleted;
  }

  const std::string& secret() const override { return secret_; }
  RecordLog* record_log() override { return this; }
  ReplicaCoordinator* coordinator() override { return this; }
  absl::Status CheckHealth() override { return pool_.Ping(); }

  // --- RecordLog ---

  absl::StatusOr<int64_t> Read(
      int64_t after, int limit,
      const std::function<void(const LoggedRecord&)>& fn) override {
    Result r;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(r,
                           c.Run(kReadRecords, Params().Int(after).Int(limit)));
      return absl::OkStatus();
    }));
    return Deliver(r, after, fn);
  }

  absl::Status ReadValueStream(
      absl::string_view value_stream, int64_t upto,
      const std::function<void(const LoggedRecord&)>& fn) override {
    int64_t after = 0;
    while (true) {
      Result r;
      VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
        VLA_ASSIGN_OR_RETURN(r, c.Run(kReadValueStream, Params()
                                                            .Text(value_stream)
                                                            .Int(after)
                                                            .Int(upto)
                                                            .Int(kReadChunk)));
        return absl::OkStatus();
      }));
      after = Deliver(r, after, fn);
      if (r.rows() < kReadChunk) return absl::OkStatus();
    }
  }

  absl::StatusOr<int64_t> LastSequence() override {
    return QueryInt(kLastSequence);
  }

  void OnStored(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(wake_mu_);
    on_stored_ = std::move(fn);
  }

  // --- ReplicaCoordinator ---

  absl::StatusOr<std::vector<Lease>> Heartbeat(
      const std::string& replica, const std::string& address,
      const std::vector<std::string>& value_streams,
      absl::Duration ttl) override {
    std::vector<Lease> leases;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      leases.clear();
      VLA_RETURN_IF_ERROR(c.Begin());
      VLA_RETURN_IF_ERROR(c.Run(kLockLeases).status());
      VLA_RETURN_IF_ERROR(
          c.Run(kBeat, Params().Text(replica).Text(address)).status());
      VLA_RETURN_IF_ERROR(
          c.Run(kForgetSilent, Params().Text(Interval(ttl))).status());
      VLA_RETURN_IF_ERROR(c.Run(kExpireLeases).status());
      VLA_ASSIGN_OR_RETURN(Result live_rows, c.Run(kLiveReplicas));
      std::vector<std::string> live;
      for (int i = 0; i < live_rows.rows(); ++i) {
        live.push_back(live_rows.String(i, 0));
      }
      VLA_RETURN_IF_ERROR(
          c.Run(kRenewLeases, Params().Text(replica).Text(Interval(ttl)))
              .status());
      VLA_ASSIGN_OR_RETURN(Result owners, c.Run(kLeaseOwners));
      std::set<std::string> owned_by_anyone;
      std::vector<absl::string_view> give_up;
      for (int i = 0; i < owners.rows(); ++i) {
        const std::string vs = owners.String(i, 0);
        owned_by_anyone.insert(vs);
        if (owners.Bytes(i, 1) == replica &&
            PreferredOwner(vs, live) != replica) {
          give_up.push_back(owners.Bytes(i, 0));
        }
      }
      std::vector<absl::string_view> take;
      for (const std::string& vs : value_streams) {
        if (!owned_by_anyone.count(vs) && PreferredOwner(vs, live) == replica) {
          take.push_back(vs);
        }
      }
      if (!give_up.empty()) {
        VLA_RETURN_IF_ERROR(
            c.Run(kGiveUp, Params().Text(replica).TextArray(give_up)).status());
      }
      if (!take.empty()) {
        VLA_RETURN_IF_ERROR(
            c.Run(kTake,
                  Params().TextArray(take).Text(replica).Text(Interval(ttl)))
                .status());
      }
      VLA_ASSIGN_OR_RETURN(Result r, c.Run(kLeases));
      VLA_RETURN_IF_ERROR(c.Commit());
      for (int i = 0; i < r.rows(); ++i) {
        leases.push_back({r.String(i, 0), r.String(i, 1), r.String(i, 2)});
      }
      return absl::OkStatus();
    }));
    return leases;
  }

  absl::Status Leave(const std::string& replica) override {
    return pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_RETURN_IF_ERROR(c.Begin());
      VLA_RETURN_IF_ERROR(c.Run(kLockLeases).status());
      VLA_RETURN_IF_ERROR(c.Run(kLeaveLeases, Params().Text(replica)).status());
      VLA_RETURN_IF_ERROR(
          c.Run(kLeaveReplica, Params().Text(replica)).status());
      return c.Commit();
    });
  }

  absl::Status Publish(const std::vector<PublishedStatus>& statuses) override {
    // The last status of each key (one row may change once per statement).
    std::map<std::pair<int, absl::string_view>, const PublishedStatus*> last;
    for (const PublishedStatus& s : statuses) {
      last[{static_cast<int>(s.board), s.key}] = &s;
    }
    if (last.empty()) return absl::OkStatus();
    std::vector<int32_t> boards;
    std::vector<absl::string_view> keys, data;
    for (const auto& [key, s] : last) {
      boards.push_back(key.first);
      keys.push_back(s->key);
      data.push_back(s->data);
    }
    Params params;
    params.IntArray(boards).TextArray(keys).BytesArray(data);
    return pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_RETURN_IF_ERROR(c.Begin());
      VLA_RETURN_IF_ERROR(c.Run(kLockPublished).status());
      VLA_RETURN_IF_ERROR(c.Run(kPublish, params).status());
      VLA_RETURN_IF_ERROR(c.Run(kNotifyPublished).status());
      return c.Commit();
    });
  }

  absl::StatusOr<int64_t> ReadPublished(
      int64_t after,
      const std::function<void(const PublishedStatus&)>& fn) override {
    Result r;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(r, c.Run(kReadPublished, Params().Int(after)));
      return absl::OkStatus();
    }));
    PublishedStatus s;
    for (int i = 0; i < r.rows(); ++i) {
      s.sequence = r.Int(i, 0);
      s.board = static_cast<PublishedStatus::Board>(r.Int(i, 1));
      s.key = r.String(i, 2);
      s.data = r.String(i, 3);
      fn(s);
      after = s.sequence;
    }
    return after;
  }

  void OnPublished(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(wake_mu_);
    on_published_ = std::move(fn);
  }

 private:
  PgEvaluatorStore(const std::string& uri, int connections)
      : pool_(uri, kSchema, connections) {}

  // Sets the watermelon and disputed columns of evaluations stored before
  // they existed, from the stored statuses.
  static absl::Status DeriveEvaluationFlags(pg::Connection& c) {
    VLA_RETURN_IF_ERROR(c.Begin());
    VLA_ASSIGN_OR_RETURN(Result r, c.Run(kUnflaggedEvaluations));
    if (r.rows() > 0) {
      std::vector<int64_t> ids;
      std::vector<int32_t> watermelons, disputed;
      v1::VlaStatus status;
      for (int i = 0; i < r.rows(); ++i) {
        status.Clear();
        const absl::string_view d = r.Bytes(i, 1);
        (void)status.ParseFromArray(d.data(), static_cast<int>(d.size()));
        ids.push_back(r.Int(i, 0));
        watermelons.push_back(status.watermelon() ? 1 : 0);
        disputed.push_back(status.disputed() ? 1 : 0);
      }
      Params params;
      params.Int64Array(ids).IntArray(watermelons).IntArray(disputed);
      VLA_RETURN_IF_ERROR(c.Run(kSetEvaluationFlags, params).status());
    }
    return c.Commit();
  }

  // Calls fn for each row (seq, kind, value_stream, data) of `r`; returns
  // the last sequence (`after` if none).
  static int64_t Deliver(const Result& r, int64_t after,
                         const std::function<void(const LoggedRecord&)>& fn) {
    LoggedRecord record;
    for (int i = 0; i < r.rows(); ++i) {
      record.sequence = r.Int(i, 0);
      record.kind = static_cast<v1::RecordKind>(r.Int(i, 1));
      record.value_stream = r.Bytes(i, 2);
      record.data = r.Bytes(i, 3);
      fn(record);
      after = record.sequence;
    }
    return after;
  }

  absl::StatusOr<int64_t> QueryInt(const Statement& st) {
    int64_t v = 0;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(Result r, c.Run(st));
      v = r.Int(0, 0);
      return absl::OkStatus();
    }));
    return v;
  }

  void Wake(const std::function<void()>& fn) {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (fn) fn();
  }

  pg::Pool pool_;
  std::string secret_;
  std::mutex wake_mu_;
  std::function<void()> on_stored_, on_published_;
  // Last: stopped first.
  std::unique_ptr<pg::Listener> listener_, published_listener_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenPostgresEvaluatorStore(
    const std::string& uri, int connections) {
  return PgEvaluatorStore::Open(uri, connections);
}

}  // namespace vla::evaluator
