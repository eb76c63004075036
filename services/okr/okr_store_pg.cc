// OkrStore on PostgreSQL (schema vla_okr), shared by the service's replicas:
// check-ins are numbered max + 1 under an advisory lock held to the commit
// (gapless, in commit order), and each announces itself with a NOTIFY.
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "services/common/pg_util.h"
#include "services/okr/okr_store.h"

namespace vla::okr {
namespace {

constexpr char kSchema[] = "vla_okr";
constexpr char kChannel[] = "vla_okr_check_ins";
constexpr absl::Duration kPollInterval = absl::Seconds(1);

// Schema migrations, in order; never edit a released one, append instead.
const std::vector<std::string>& Migrations() {
  static const auto* const m = new std::vector<std::string>{
      R"sql(
        CREATE TABLE check_ins (
          id        bigint PRIMARY KEY,
          objective text COLLATE "C" NOT NULL,
          data      bytea NOT NULL
        );
        CREATE INDEX check_ins_by_objective ON check_ins (objective, id);
        CREATE TABLE definitions (
          name text COLLATE "C" PRIMARY KEY,
          data bytea NOT NULL
        );
        CREATE TABLE meta (
          key   text PRIMARY KEY,
          value bytea NOT NULL
        );
      )sql",
  };
  return *m;
}

using pg::Params;
using pg::Result;
using pg::Statement;

constexpr Statement kLockCheckIns{
    "okr_lock_check_ins",
    "SELECT pg_advisory_xact_lock(hashtext('vla_okr.check_ins'))"};
constexpr Statement kInsertCheckIn{
    "okr_insert_check_in",
    "INSERT INTO check_ins (id, objective, data) "
    "SELECT COALESCE(MAX(id), 0) + 1, $1, $2 FROM check_ins"};
constexpr Statement kNotify{"okr_notify",
                            "SELECT pg_notify('vla_okr_check_ins', '')"};
constexpr Statement kReadCheckIns{
    "okr_read_check_ins",
    "SELECT id, data FROM check_ins WHERE id > $1 ORDER BY id"};

class PgOkrStore final : public OkrStore {
 public:
  static absl::StatusOr<std::unique_ptr<OkrStore>> Open(const std::string& uri,
                                                        int connections) {
    auto store = std::unique_ptr<PgOkrStore>(new PgOkrStore(uri, connections));
    VLA_RETURN_IF_ERROR(
        store->pool_.Run([&](pg::Connection& c) -> absl::Status {
          VLA_RETURN_IF_ERROR(pg::Migrate(c, kSchema, Migrations()));
          VLA_ASSIGN_OR_RETURN(store->secret_,
                               pg::LoadOrCreateSecret(c, "page_secret"));
          return absl::OkStatus();
        }));
    store->listener_ = std::make_unique<pg::Listener>(
        uri, kChannel, kPollInterval, [p = store.get()] { p->Wake(); });
    return std::unique_ptr<OkrStore>(std::move(store));
  }

  ~PgOkrStore() override { listener_.reset(); }

  absl::Status AddCheckIn(const v1::CheckIn& c) override {
    const std::string data = c.SerializeAsString();
    return pool_.Run([&](pg::Connection& conn) -> absl::Status {
      VLA_RETURN_IF_ERROR(conn.Begin());
      VLA_RETURN_IF_ERROR(conn.Run(kLockCheckIns).status());
      VLA_RETURN_IF_ERROR(
          conn.Run(kInsertCheckIn, Params().Text(c.objective()).Bytes(data))
              .status());
      VLA_RETURN_IF_ERROR(conn.Run(kNotify).status());
      return conn.Commit();
    });
  }

  absl::StatusOr<int64_t> ReadCheckIns(
      int64_t after,
      const std::function<void(int64_t, const v1::CheckIn&)>& fn) override {
    Result r;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      VLA_ASSIGN_OR_RETURN(r, c.Run(kReadCheckIns, Params().Int(after)));
      return absl::OkStatus();
    }));
    v1::CheckIn c;
    for (int i = 0; i < r.rows(); ++i) {
      after = r.Int(i, 0);
      const absl::string_view d = r.Bytes(i, 1);
      if (c.ParseFromArray(d.data(), static_cast<int>(d.size()))) fn(after, c);
    }
    return after;
  }

  absl::Status ApplyDefinitions(
      const std::vector<std::pair<std::string, std::string>>& rows,
      int64_t revision) override {
    return pool_.Run([&](pg::Connection& c) {
      return pg::StoreDefinitions(c, rows, revision);
    });
  }

  absl::StatusOr<int64_t> LoadDefinitions(
      const std::function<void(absl::string_view)>& fn) override {
    // Collected first: a retried attempt must not call fn twice.
    std::vector<std::string> rows;
    int64_t revision = 0;
    VLA_RETURN_IF_ERROR(pool_.Run([&](pg::Connection& c) -> absl::Status {
      rows.clear();
      VLA_ASSIGN_OR_RETURN(
          revision, pg::LoadDefinitions(
                        c, [&](absl::string_view, absl::string_view data) {
                          rows.emplace_back(data);
                        }));
      return absl::OkStatus();
    }));
    for (const std::string& data : rows) fn(data);
    return revision;
  }

  const std::string& secret() const override { return secret_; }

  void OnCheckIns(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(wake_mu_);
    on_check_ins_ = std::move(fn);
  }

  absl::Status CheckHealth() override { return pool_.Ping(); }

 private:
  PgOkrStore(const std::string& uri, int connections)
      : pool_(uri, kSchema, connections) {}

  void Wake() {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (on_check_ins_) on_check_ins_();
  }

  pg::Pool pool_;
  std::string secret_;
  std::mutex wake_mu_;
  std::function<void()> on_check_ins_;
  // Last: stopped first.
  std::unique_ptr<pg::Listener> listener_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OkrStore>> OpenPostgresOkrStore(
    const std::string& uri, int connections) {
  return PgOkrStore::Open(uri, connections);
}

}  // namespace vla::okr
