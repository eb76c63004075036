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
      store->insert_record_ = std::make_unique<SQLite::Statement>(
          *store->db_,
          "INSERT INTO records (event_id, kind, data) VALUES (?, ?, ?) "
          "ON CONFLICT (event_id) DO NOTHING");
    } catch (const SQLite::Exception& e) {
      return SqliteError(e, absl::StrCat("opening ", path));
    }
    return std::unique_ptr<EvaluatorStore>(std::move(store));
  }

  absl::StatusOr<std::vector<bool>> InsertRecords(
      const std::vector<RecordRow>& rows) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<bool> inserted(rows.size());
    try {
      SQLite::Transaction tx(*db_);
      SQLite::Statement& st = *insert_record_;
      for (size_t i = 0; i < rows.size(); ++i) {
        st.bind(1, rows[i].event_id);
        st.bind(2, static_cast<int>(rows[i].kind));
        BindBlob(st, 3, rows[i].data);
        inserted[i] = st.exec() == 1;
        st.reset();
      }
      tx.commit();
    } catch (const SQLite::Exception& e) {
      insert_record_->reset();
      return SqliteError(e, "storing records");
    }
    return inserted;
  }

  absl::Status ForEachRecord(
      const std::function<void(v1::RecordKind, absl::string_view)>& fn)
      override {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      SQLite::Statement st(*db_, "SELECT kind, data FROM records");
      while (st.executeStep()) {
        const SQLite::Column data = st.getColumn(1);
        fn(static_cast<v1::RecordKind>(st.getColumn(0).getInt()),
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
      return db_->execAndGet("SELECT COUNT(*) FROM records").getInt64();
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
      return SqliteError(e, "storing evaluations");
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
  std::unique_ptr<SQLite::Statement> insert_record_;
  std::string secret_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<EvaluatorStore>> OpenSqliteEvaluatorStore(
    const std::string& path) {
  return SqliteEvaluatorStore::Open(path);
}

}  // namespace vla::evaluator
