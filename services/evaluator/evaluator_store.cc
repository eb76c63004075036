#include "services/evaluator/evaluator_store.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "services/common/sqlite_util.h"

namespace vla::evaluator {
namespace {

const std::vector<std::string>& Migrations() {
  static const auto* const m = new std::vector<std::string>{
      R"sql(
        CREATE TABLE records (
          event_id TEXT PRIMARY KEY,
          kind     INTEGER NOT NULL,
          data     BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE definitions (
          name TEXT PRIMARY KEY,
          data BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE evaluations (
          id           INTEGER PRIMARY KEY,
          vla          TEXT NOT NULL,
          vla_revision INTEGER NOT NULL,
          time_us      INTEGER NOT NULL,
          state        INTEGER NOT NULL,
          score        REAL NOT NULL,
          data         BLOB NOT NULL
        );
        CREATE INDEX evaluations_by_vla ON evaluations (vla, time_us);
        CREATE TABLE meta (
          key   TEXT PRIMARY KEY,
          value BLOB NOT NULL
        ) WITHOUT ROWID;
      )sql",
      // Records get a sequence in commit order (checkpoints replay what
      // came after them): the data moves to an append-only log keyed by
      // sequence, and the event_id index keeps only the sequence.
      R"sql(
        CREATE TABLE record_log (
          seq  INTEGER PRIMARY KEY,
          kind INTEGER NOT NULL,
          data BLOB NOT NULL
        );
        CREATE TABLE record_ids (
          event_id TEXT PRIMARY KEY,
          seq      INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO record_log (kind, data) SELECT kind, data FROM records
          ORDER BY event_id;
        INSERT INTO record_ids (event_id, seq)
          SELECT event_id, row_number() OVER (ORDER BY event_id)
          FROM records;
        DROP TABLE records;
      )sql",
      // History and reports: the flags time in state needs, beside the
      // state (NULL in rows stored before: derived from `data` at open),
      // every VLA revision seen, and an index for pruning by time.
      R"sql(
        ALTER TABLE evaluations ADD COLUMN watermelon INTEGER;
        ALTER TABLE evaluations ADD COLUMN disputed INTEGER;
        CREATE INDEX evaluations_by_time ON evaluations (time_us);
        CREATE TABLE vla_revisions (
          vla             TEXT NOT NULL,
          change_revision INTEGER NOT NULL,
          data            BLOB NOT NULL,
          PRIMARY KEY (vla, change_revision)
        ) WITHOUT ROWID;
      )sql",
  };
  return *m;
}

class SqliteEvaluatorStore final : public EvaluatorStore {
 public:
  static absl::StatusOr<std::unique_ptr<EvaluatorStore>> Open(
      const std::string& path) {
    auto store =
        std::unique_ptr<SqliteEvaluatorStore>(new SqliteEvaluatorStore());
    try {
      store->db_ = OpenWriter(path);
      if (auto s = Migrate(*store->db_, Migrations()); !s.ok()) return s;
      store->secret_ = LoadOrCreateSecret(*store->db_, "page_secret");
      if (auto s = store->DeriveEvaluationFlags(); !s.ok()) return s;
      store->insert_id_ = std::make_unique<SQLite::Statement>(
          *store->db_,
          "INSERT INTO record_ids (event_id, seq) VALUES (?, ?) "
          "ON CONFLICT (event_id) DO NOTHING");
      store->insert_data_ = std::make_unique<SQLite::Statement>(
          *store->db_,
          "INSERT INTO record_log (seq, kind, data) VALUES (?, ?, ?)");
      store->last_seq_ =
          store->db_->execAndGet("SELECT IFNULL(MAX(seq), 0) FROM record_log")
              .getInt64();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, absl::StrCat("opening ", path));
    }
    return std::unique_ptr<EvaluatorStore>(std::move(store));
  }

  absl::StatusOr<std::vector<int64_t>> InsertRecords(
      const std::vector<RecordRow>& rows) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> seqs(rows.size());
    int64_t seq = last_seq_;
    try {
      SQLite::Transaction tx(*db_);
      for (size_t i = 0; i < rows.size(); ++i) {
        insert_id_->bind(1, rows[i].event_id);
        insert_id_->bind(2, seq + 1);
        const bool is_new = insert_id_->exec() == 1;
        insert_id_->reset();
        if (!is_new) continue;
        seqs[i] = ++seq;
        insert_data_->bind(1, seq);
        insert_data_->bind(2, static_cast<int>(rows[i].kind));
        BindBlob(*insert_data_, 3, rows[i].data);
        insert_data_->exec();
        insert_data_->reset();
      }
      tx.commit();
    } catch (const SQLite::Exception& e) {
      insert_id_->reset();
      insert_data_->reset();
      return SqliteError(e, "storing records", db_.get());
    }
    last_seq_ = seq;
    return seqs;
  }

  absl::Status ForEachRecord(
      int64_t after,
      const std::function<void(int64_t, v1::RecordKind, absl::string_view)>& fn)
      override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(
          *db_,
          "SELECT seq, kind, data FROM record_log WHERE seq > ? ORDER BY seq");
      st.bind(1, after);
      while (st.executeStep()) {
        const SQLite::Column data = st.getColumn(2);
        fn(st.getColumn(0).getInt64(),
           static_cast<v1::RecordKind>(st.getColumn(1).getInt()),
           absl::string_view(static_cast<const char*>(data.getBlob()),
                             data.getBytes()));
      }
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading records");
    }
  }

  absl::StatusOr<int64_t> RecordCount() override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return db_->execAndGet("SELECT COUNT(*) FROM record_ids").getInt64();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "counting records");
    }
  }

  absl::Status ApplyDefinitions(const std::vector<DefinitionRow>& rows,
                                int64_t revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const DefinitionRow& row : rows)
      pairs.emplace_back(row.name, row.data);
    return StoreDefinitions(*db_, pairs, revision);
  }

  absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view, absl::string_view)>& fn)
      override {
    std::lock_guard<std::mutex> lock(mu_);
    return vla::LoadDefinitions(*db_, fn);
  }

  absl::Status AddVlaRevisions(
      const std::vector<VlaRevisionRow>& rows) override {
    if (rows.empty()) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Transaction tx(*db_);
      SQLite::Statement st(*db_,
                           "INSERT INTO vla_revisions (vla, change_revision, "
                           "data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
      for (const VlaRevisionRow& row : rows) {
        st.bind(1, row.vla);
        st.bind(2, static_cast<int64_t>(row.change_revision));
        BindBlob(st, 3, row.data);
        st.exec();
        st.reset();
      }
      tx.commit();
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "storing VLA revisions");
    }
  }

  absl::Status ForEachVlaRevision(
      const std::function<void(int64_t, absl::string_view)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(*db_,
                           "SELECT change_revision, data FROM vla_revisions");
      while (st.executeStep()) {
        const SQLite::Column data = st.getColumn(1);
        fn(st.getColumn(0).getInt64(),
           absl::string_view(static_cast<const char*>(data.getBlob()),
                             data.getBytes()));
      }
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading VLA revisions");
    }
  }

  absl::Status AppendEvaluations(
      const std::vector<v1::VlaStatus>& statuses) override {
    if (statuses.empty()) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Transaction tx(*db_);
      SQLite::Statement st(
          *db_,
          "INSERT INTO evaluations (vla, vla_revision, time_us, state, score, "
          "watermelon, disputed, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      for (const v1::VlaStatus& s : statuses) {
        st.bind(1, s.vla());
        st.bind(2, static_cast<int64_t>(s.vla_revision()));
        st.bind(3, static_cast<int64_t>(
                       absl::ToUnixMicros(FromProtoTime(s.evaluate_time()))));
        st.bind(4, static_cast<int>(s.state()));
        st.bind(5, s.score());
        st.bind(6, s.watermelon() ? 1 : 0);
        st.bind(7, s.disputed() ? 1 : 0);
        BindBlob(st, 8, s.SerializeAsString());
        st.exec();
        st.reset();
      }
      tx.commit();
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "storing evaluations", db_.get());
    }
  }

  absl::StatusOr<std::vector<StoredEvaluation>> Evaluations(
      absl::string_view vla, EvaluationCursor after, int64_t to_us,
      int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(
          *db_,
          "SELECT id, data FROM evaluations WHERE vla = ?1 AND time_us >= ?2 "
          "AND (time_us > ?2 OR id > ?3) AND time_us < ?4 "
          "ORDER BY time_us, id LIMIT ?5");
      st.bind(1, std::string(vla));
      st.bind(2, static_cast<int64_t>(after.time_us));
      st.bind(3, static_cast<int64_t>(after.id));
      st.bind(4, static_cast<int64_t>(to_us));
      st.bind(5, limit);
      std::vector<StoredEvaluation> out;
      while (st.executeStep()) {
        StoredEvaluation& e = out.emplace_back();
        e.id = st.getColumn(0).getInt64();
        if (!e.status.ParseFromString(st.getColumn(1).getString())) {
          return absl::DataLossError("stored evaluation does not parse");
        }
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading evaluations");
    }
  }

  absl::StatusOr<std::vector<v1::VlaStatus>> LatestEvaluations() override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(
          *db_,
          "SELECT data FROM evaluations WHERE id IN (SELECT (SELECT id FROM "
          "evaluations AS e WHERE e.vla = v.vla ORDER BY time_us DESC, id "
          "DESC LIMIT 1) FROM (SELECT DISTINCT vla FROM evaluations) AS v) "
          "ORDER BY vla");
      std::vector<v1::VlaStatus> out;
      while (st.executeStep()) {
        if (!out.emplace_back().ParseFromString(st.getColumn(0).getString())) {
          return absl::DataLossError("stored evaluation does not parse");
        }
      }
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading evaluations");
    }
  }

  absl::StatusOr<std::vector<EvaluationState>> EvaluationStates(
      absl::string_view vla, int64_t from_us, int64_t to_us) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      std::vector<EvaluationState> out;
      auto read = [&](SQLite::Statement& st) {
        while (st.executeStep()) {
          EvaluationState& e = out.emplace_back();
          e.time_us = st.getColumn(0).getInt64();
          e.state = static_cast<v1::ComplianceState>(st.getColumn(1).getInt());
          e.watermelon = st.getColumn(2).getInt() != 0;
          e.disputed = st.getColumn(3).getInt() != 0;
        }
      };
      SQLite::Statement before(
          *db_,
          "SELECT time_us, state, watermelon, disputed FROM evaluations "
          "WHERE vla = ? AND time_us < ? ORDER BY time_us DESC, id DESC "
          "LIMIT 1");
      before.bind(1, std::string(vla));
      before.bind(2, static_cast<int64_t>(from_us));
      read(before);
      SQLite::Statement in(
          *db_,
          "SELECT time_us, state, watermelon, disputed FROM evaluations "
          "WHERE vla = ? AND time_us >= ? AND time_us < ? ORDER BY time_us, "
          "id");
      in.bind(1, std::string(vla));
      in.bind(2, static_cast<int64_t>(from_us));
      in.bind(3, static_cast<int64_t>(to_us));
      read(in);
      return out;
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "reading evaluation states");
    }
  }

  absl::StatusOr<int64_t> PruneEvaluations(int64_t before_us) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(
          *db_,
          "DELETE FROM evaluations WHERE time_us < ?1 AND EXISTS ("
          "SELECT 1 FROM evaluations AS later WHERE later.vla = "
          "evaluations.vla AND later.time_us < ?1 AND (later.time_us > "
          "evaluations.time_us OR (later.time_us = evaluations.time_us AND "
          "later.id > evaluations.id)))");
      st.bind(1, static_cast<int64_t>(before_us));
      return static_cast<int64_t>(st.exec());
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "pruning evaluations");
    }
  }

  const std::string& secret() const override { return secret_; }

 private:
  SqliteEvaluatorStore() = default;

  // Sets the watermelon and disputed columns of evaluations stored before
  // they existed, from the stored statuses.
  absl::Status DeriveEvaluationFlags() {
    try {
      SQLite::Transaction tx(*db_);
      SQLite::Statement read(
          *db_, "SELECT id, data FROM evaluations WHERE watermelon IS NULL");
      SQLite::Statement write(
          *db_,
          "UPDATE evaluations SET watermelon = ?, disputed = ? WHERE id = ?");
      v1::VlaStatus status;
      while (read.executeStep()) {
        status.Clear();
        (void)status.ParseFromString(read.getColumn(1).getString());
        write.bind(1, status.watermelon() ? 1 : 0);
        write.bind(2, status.disputed() ? 1 : 0);
        write.bind(3, read.getColumn(0).getInt64());
        write.exec();
        write.reset();
      }
      tx.commit();
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "deriving evaluation flags");
    }
  }

  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<SQLite::Statement> insert_id_;
  std::unique_ptr<SQLite::Statement> insert_data_;
  int64_t last_seq_ = 0;  // of the last record committed
  std::string secret_;
};

// FNV-1a: a hash that every process computes the same.
uint64_t StableHash(absl::string_view a, absl::string_view b) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(a);
  mix("\n");
  mix(b);
  // A final avalanche (FNV's low bits mix poorly).
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::string PreferredOwner(const std::string& value_stream,
                           const std::vector<std::string>& replicas) {
  std::string best;
  uint64_t best_hash = 0;
  for (const std::string& r : replicas) {
    const uint64_t h = StableHash(value_stream, r);
    if (best.empty() || h > best_hash || (h == best_hash && r < best)) {
      best = r;
      best_hash = h;
    }
  }
  return best;
}

absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenSqliteEvaluatorStore(
    const std::string& path) {
  return SqliteEvaluatorStore::Open(path);
}

}  // namespace vla::evaluator
