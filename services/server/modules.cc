#include "services/server/modules.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_util.h"
#include "services/common/executor.h"
#include "services/common/pg_util.h"
#include "services/common/stream_follower.h"
#include "services/evaluator/evaluation_service.h"
#include "services/evaluator/evaluator.h"
#include "services/okr/okr_core.h"
#include "services/okr/okr_service.h"
#include "services/server/security.h"
#include "services/vmdb/change_follower.h"
#include "services/vmdb/vmdb_core.h"
#include "services/vmdb/vmdb_service.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"

namespace vla {
namespace {

// vla_database_size_bytes{service}: the SQLite file at `path` and its WAL,
// read at each scrape.
void AddDatabaseSize(metrics::Registry* registry, const std::string& service,
                     const std::string& path) {
  if (registry == nullptr) return;
  registry->AddSampled(
      "vla_database_size_bytes",
      "Bytes on disk of the service's SQLite database (file and WAL).",
      metrics::Registry::Type::kGauge, {{"service", service}}, [path] {
        double bytes = 0;
        for (const char* suffix : {"", "-wal"}) {
          std::error_code ec;
          const auto n = std::filesystem::file_size(path + suffix, ec);
          if (!ec) bytes += static_cast<double>(n);
        }
        return bytes;
      });
}

// Opens a service's store: PostgreSQL at options.database when set (with
// `open_postgres`), else the SQLite file `file` in options.data_dir (with
// `open_sqlite`, and its size as vla_database_size_bytes{service}).
template <typename Store, typename OpenSqlite, typename OpenPostgres>
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const ServerOptions& options,
                                                 metrics::Registry* metrics,
                                                 const std::string& service,
                                                 const std::string& file,
                                                 OpenSqlite open_sqlite,
                                                 OpenPostgres open_postgres) {
  if (!options.database.empty()) {
    if (!pg::IsPostgresUri(options.database)) {
      return absl::InvalidArgumentError(
          "database: must be a postgresql:// URI (or empty: SQLite files in "
          "data_dir)");
    }
    return open_postgres(options.database);
  }
  const std::string path =
      (std::filesystem::path(options.data_dir) / file).string();
  VLA_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, open_sqlite(path));
  AddDatabaseSize(metrics, service, path);
  return store;
}

// vla_watch_subscribers{method}: open streams of a watch method, read at
// each scrape by `count`.
void AddWatchSubscribers(metrics::Registry* registry, const std::string& method,
                         std::function<double()> count) {
  if (registry == nullptr) return;
  registry->AddSampled(
      "vla_watch_subscribers", "Open streams of a watch method.",
      metrics::Registry::Type::kGauge, {{"method", method}}, std::move(count));
}

// The watch metrics of a status board streamed by `method`.
template <typename Board>
void AddBoardMetrics(metrics::Registry* registry, const std::string& method,
                     const Board* board) {
  if (registry == nullptr) return;
  AddWatchSubscribers(registry, method, [board] {
    return static_cast<double>(board->subscriber_count());
  });
  registry->AddSampled(
      "vla_watch_updates_coalesced_total",
      "Status updates folded into one already queued for the same "
      "subscriber and key (the subscriber gets the latest status once).",
      metrics::Registry::Type::kCounter, {{"method", method}},
      [board] { return static_cast<double>(board->coalesced_count()); });
  registry->AddSampled(
      "vla_watch_events_sent_total", "Events written to watch streams.",
      metrics::Registry::Type::kCounter, {{"method", method}},
      [board] { return static_cast<double>(board->delivered_count()); });
  registry->AddSampled(
      "vla_watch_messages_sent_total",
      "Messages written to watch streams (each a batch of events).",
      metrics::Registry::Type::kCounter, {{"method", method}},
      [board] { return static_cast<double>(board->message_count()); });
}

class VmdbModule final : public ServiceModule {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceModule>> Make(
      const ServerOptions& options, const AccessPolicy* policy,
      metrics::Registry* metrics) {
    VLA_ASSIGN_OR_RETURN(auto store,
                         OpenStore<vmdb::VmdbStore>(
                             options, metrics, "vmdb", "vmdb.db",
                             [](const std::string& path) {
                               return vmdb::OpenSqliteVmdbStore(path);
                             },
                             [](const std::string& uri) {
                               return vmdb::OpenPostgresVmdbStore(uri);
                             }));
    vmdb::VmdbStore* raw = store.get();
    auto module = std::unique_ptr<VmdbModule>(
        new VmdbModule(std::move(store), options, policy));
    module->store_ = raw;
    AddWatchSubscribers(metrics, "/vla.v1.VmdbService/WatchChanges",
                        [core = &module->core_] {
                          return static_cast<double>(core->subscriber_count());
                        });
    return std::unique_ptr<ServiceModule>(std::move(module));
  }

  std::string grpc_service_name() const override {
    return v1::VmdbService::service_full_name();
  }
  grpc::Service* service() override { return &service_; }
  absl::Status CheckHealth() override { return store_->CheckHealth(); }
  void BeginShutdown(absl::Duration wait) override {
    core_.CloseSubscriptions(wait);
  }

 private:
  VmdbModule(std::unique_ptr<vmdb::VmdbStore> store,
             const ServerOptions& options, const AccessPolicy* policy)
      : core_(std::move(store), options.clock),
        writer_(4),
        service_(&core_, &writer_, policy,
                 static_cast<size_t>(options.watch_batch_bytes)) {}

  vmdb::VmdbCore core_;
  vmdb::VmdbStore* store_ = nullptr;  // owned by core_
  Executor writer_;
  vmdb::VmdbServiceImpl service_;
};

// The channel to the VMDB: this server itself when it hosts the VMDB, else
// --vmdb_address.
absl::StatusOr<std::shared_ptr<grpc::Channel>> VmdbChannel(
    const ServerOptions& options, std::shared_ptr<grpc::Channel> self) {
  if (std::find(options.services.begin(), options.services.end(), "vmdb") !=
      options.services.end()) {
    return self;
  }
  if (options.vmdb_address.empty()) {
    return absl::InvalidArgumentError(
        "vmdb_address: required when this server does not host the vmdb "
        "service");
  }
  return MakePeerChannel(options.vmdb_address, options);
}

class EvaluatorModule final : public ServiceModule {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceModule>> Make(
      const ServerOptions& options, const AccessPolicy* policy,
      metrics::Registry* metrics) {
    evaluator::EvaluatorOptions eo;
    eo.debounce = options.evaluation_debounce;
    eo.tick = options.evaluation_tick;
    eo.snapshot_interval = options.snapshot_interval;
    eo.snapshot_cpu_share = options.snapshot_cpu_share;
    eo.min_free_bytes = static_cast<uint64_t>(options.min_free_bytes);
    eo.max_batch_records = options.max_ingest_batch_records;
    eo.metrics = metrics;
    eo.watch_batch_bytes = static_cast<size_t>(options.watch_batch_bytes);
    // SQLite in data_dir: checkpoints and the free-space reserve there.
    if (options.database.empty()) eo.local_dir = options.data_dir;
    VLA_ASSIGN_OR_RETURN(
        auto store, OpenStore<evaluator::EvaluatorStore>(
                        options, metrics, "evaluator", "evaluator.db",
                        [](const std::string& path) {
                          return evaluator::OpenSqliteEvaluatorStore(path);
                        },
                        [](const std::string& uri) {
                          return evaluator::OpenPostgresEvaluatorStore(uri);
                        }));
    VLA_ASSIGN_OR_RETURN(auto ev, evaluator::Evaluator::Open(
                                      std::move(store), options.clock, eo));
    AddBoardMetrics(metrics, "/vla.v1.EvaluationService/WatchVlaStatuses",
                    &ev->board());
    return std::unique_ptr<ServiceModule>(
        new EvaluatorModule(std::move(ev), options, policy));
  }

  std::string grpc_service_name() const override {
    return v1::EvaluationService::service_full_name();
  }
  grpc::Service* service() override { return &service_; }
  void ServeAsync(AsyncQueues* queues) override { service_.ServeAsync(queues); }
  absl::Status CheckHealth() override { return evaluator_->CheckHealth(); }

  absl::Status Start(std::shared_ptr<grpc::Channel> self,
                     const std::string& address) override {
    evaluator::ReplicationOptions replication;
    replication.address = address;
    replication.heartbeat = options_.evaluator_heartbeat;
    replication.ttl = options_.evaluator_lease_ttl;
    VLA_RETURN_IF_ERROR(evaluator_->StartReplication(replication));
    VLA_ASSIGN_OR_RETURN(auto channel, VmdbChannel(options_, self));
    // With definitions stored from an earlier run, ingest need not wait for
    // the VMDB; the feed resumes after the stored revision.
    if (evaluator_->definitions_revision() > 0) {
      evaluator_->SetDefinitionsReady();
    }
    follower_ = MakeChangeFollower(
        channel, evaluator_->definitions_revision(),
        [this](const std::vector<v1::Change>& batch) {
          return evaluator_->ApplyChanges(batch);
        },
        [this] { evaluator_->SetDefinitionsReady(); });
    follower_->Start();
    return absl::OkStatus();
  }

  void BeginShutdown(absl::Duration) override {
    evaluator_->LeaveReplicas();
    follower_.reset();
    evaluator_->board().Close();
    evaluator_->kvi_board().Close();
  }

 private:
  EvaluatorModule(std::unique_ptr<evaluator::Evaluator> ev,
                  const ServerOptions& options, const AccessPolicy* policy)
      : evaluator_(std::move(ev)),
        options_(options),
        service_(evaluator_.get(), policy,
                 [options](const std::string& address) {
                   return MakePeerChannel(address, options);
                 }) {}

  std::unique_ptr<evaluator::Evaluator> evaluator_;
  ServerOptions options_;
  evaluator::EvaluationServiceImpl service_;
  std::unique_ptr<ChangeFollower> follower_;
};

// The channel to the evaluator: this server itself when it hosts it, else
// --evaluator_address.
absl::StatusOr<std::shared_ptr<grpc::Channel>> EvaluatorChannel(
    const ServerOptions& options, std::shared_ptr<grpc::Channel> self) {
  if (std::find(options.services.begin(), options.services.end(),
                "evaluator") != options.services.end()) {
    return self;
  }
  if (options.evaluator_address.empty()) {
    return absl::InvalidArgumentError(
        "evaluator_address: required when this server does not host the "
        "evaluator service");
  }
  return MakePeerChannel(options.evaluator_address, options);
}

class OkrModule final : public ServiceModule {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceModule>> Make(
      const ServerOptions& options, const AccessPolicy* policy,
      metrics::Registry* metrics) {
    auto kvis = std::make_unique<okr::GrpcKviSource>();
    okr::OkrOptions oo;
    oo.tick = options.evaluation_tick;
    oo.watch_batch_bytes = static_cast<size_t>(options.watch_batch_bytes);
    VLA_ASSIGN_OR_RETURN(auto store,
                         OpenStore<okr::OkrStore>(
                             options, metrics, "okr-status", "okr.db",
                             [](const std::string& path) {
                               return okr::OpenSqliteOkrStore(path);
                             },
                             [](const std::string& uri) {
                               return okr::OpenPostgresOkrStore(uri);
                             }));
    VLA_ASSIGN_OR_RETURN(
        auto core,
        okr::OkrCore::Open(std::move(store), options.clock, kvis.get(), oo));
    AddBoardMetrics(metrics, "/vla.v1.OkrStatusService/WatchObjectiveStatuses",
                    &core->board());
    return std::unique_ptr<ServiceModule>(
        new OkrModule(options, std::move(kvis), std::move(core), policy));
  }

  std::string grpc_service_name() const override {
    return v1::OkrStatusService::service_full_name();
  }
  grpc::Service* service() override { return &service_; }
  void ServeAsync(AsyncQueues* queues) override { service_.ServeAsync(queues); }
  absl::Status CheckHealth() override { return core_->CheckHealth(); }

  absl::Status Start(std::shared_ptr<grpc::Channel> self,
                     const std::string&) override {
    VLA_ASSIGN_OR_RETURN(auto vmdb, VmdbChannel(options_, self));
    VLA_ASSIGN_OR_RETURN(auto evaluator, EvaluatorChannel(options_, self));
    kvis_->Connect(evaluator);
    // KVI values moving re-score the objectives that use them.
    kvi_follower_ =
        std::make_unique<StreamFollower<v1::WatchKviValuesResponse>>(
            "KVI value stream",
            [stub = std::shared_ptr<v1::EvaluationService::Stub>(
                 v1::EvaluationService::NewStub(evaluator)),
             request = v1::WatchKviValuesRequest()](
                grpc::ClientContext* ctx,
                grpc::ClientReadReactor<v1::WatchKviValuesResponse>* reactor) {
              stub->async()->WatchKviValues(ctx, &request, reactor);
            },
            [this](const v1::WatchKviValuesResponse& message) {
              for (const v1::KviValueEvent& event : message.events()) {
                core_->KviChanged(event.value().kvi());
              }
            });
    kvi_follower_->Start();
    follower_ =
        MakeChangeFollower(vmdb, core_->definitions_revision(),
                           [this](const std::vector<v1::Change>& batch) {
                             return core_->ApplyChanges(batch);
                           });
    follower_->Start();
    return absl::OkStatus();
  }

  void BeginShutdown(absl::Duration) override {
    follower_.reset();
    kvi_follower_.reset();
    kvis_->Connect(nullptr);
    core_->board().Close();
  }

 private:
  OkrModule(const ServerOptions& options,
            std::unique_ptr<okr::GrpcKviSource> kvis,
            std::unique_ptr<okr::OkrCore> core, const AccessPolicy* policy)
      : options_(options),
        kvis_(std::move(kvis)),
        core_(std::move(core)),
        service_(core_.get(), policy) {}

  ServerOptions options_;
  std::unique_ptr<okr::GrpcKviSource> kvis_;
  std::unique_ptr<okr::OkrCore> core_;
  okr::OkrStatusServiceImpl service_;
  std::unique_ptr<ChangeFollower> follower_;
  std::unique_ptr<StreamFollower<v1::WatchKviValuesResponse>> kvi_follower_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceModule>> MakeModule(
    const std::string& name, const ServerOptions& options,
    const AccessPolicy* policy, metrics::Registry* metrics) {
  if (name == "vmdb") return VmdbModule::Make(options, policy, metrics);
  if (name == "evaluator") {
    return EvaluatorModule::Make(options, policy, metrics);
  }
  if (name == "okr-status") return OkrModule::Make(options, policy, metrics);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown service \"", name,
                   "\"; choose from vmdb, evaluator, okr-status"));
}

}  // namespace vla
