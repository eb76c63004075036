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
      const std::function<void(int64_t, v1::RecordKind, absl::string_view)>&
          fn) override {
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

  absl::Status AppendEvaluations(
      const std::vector<v1::VlaStatus>& statuses) override {
    if (statuses.empty()) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Transaction tx(*db_);
      SQLite::Statement st(
          *db_,
          "INSERT INTO evaluations (vla, vla_revision, time_us, "
          "state, score, data) VALUES (?, ?, ?, ?, ?, ?)");
      for (const v1::VlaStatus& s : statuses) {
        st.bind(1, s.vla());
        st.bind(2, static_cast<int64_t>(s.vla_revision()));
        st.bind(3, static_cast<int64_t>(
                       absl::ToUnixMicros(FromProtoTime(s.evaluate_time()))));
        st.bind(4, static_cast<int>(s.state()));
        st.bind(5, s.score());
        BindBlob(st, 6, s.SerializeAsString());
        st.exec();
        st.reset();
      }
      tx.commit();
      return absl::OkStatus();
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, "storing evaluations", db_.get());
    }
  }

  absl::StatusOr<std::vector<v1::VlaStatus>> Evaluations(absl::string_view vla,
                                                         int64_t from_us,
                                                         int64_t to_us,
                                                         int limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(*db_,
                           "SELECT data FROM evaluations WHERE vla = ? AND "
                           "time_us >= ? AND time_us < ? ORDER BY time_us, id "
                           "LIMIT ?");
      st.bind(1, std::string(vla));
      st.bind(2, static_cast<int64_t>(from_us));
      st.bind(3, static_cast<int64_t>(to_us));
      st.bind(4, limit);
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

  const std::string& secret() const override { return secret_; }

 private:
  SqliteEvaluatorStore() = default;

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
