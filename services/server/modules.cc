#include "services/server/modules.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "services/common/executor.h"
#include "services/common/status_util.h"
#include "services/vmdb/vmdb_core.h"
#include "services/vmdb/vmdb_service.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"

namespace vla {
namespace {

class VmdbModule final : public ServiceModule {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceModule>> Make(
      const ServerOptions& options) {
    const std::string path =
        (std::filesystem::path(options.data_dir) / "vmdb.db").string();
    VLA_ASSIGN_OR_RETURN(auto store, vmdb::OpenSqliteVmdbStore(path));
    return std::unique_ptr<ServiceModule>(
        new VmdbModule(std::move(store), options.clock));
  }

  std::string grpc_service_name() const override {
    return v1::VmdbService::service_full_name();
  }
  grpc::Service* service() override { return &service_; }
  void BeginShutdown(absl::Duration wait) override {
    core_.CloseSubscriptions(wait);
  }

 private:
  VmdbModule(std::unique_ptr<vmdb::VmdbStore> store, const Clock* clock)
      : core_(std::move(store), clock), writer_(4), service_(&core_, &writer_) {}

  vmdb::VmdbCore core_;
  Executor writer_;
  vmdb::VmdbServiceImpl service_;
};

// A service whose methods all answer UNIMPLEMENTED (until its issue lands).
template <typename Service>
class UnimplementedModule final : public ServiceModule {
 public:
  std::string grpc_service_name() const override {
    return Service::service_full_name();
  }
  grpc::Service* service() override { return &service_; }

 private:
  typename Service::CallbackService service_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceModule>> MakeModule(
    const std::string& name, const ServerOptions& options) {
  if (name == "vmdb") return VmdbModule::Make(options);
  if (name == "evaluator") {
    return std::unique_ptr<ServiceModule>(
        new UnimplementedModule<v1::EvaluationService>());
  }
  if (name == "okr-status") {
    return std::unique_ptr<ServiceModule>(
        new UnimplementedModule<v1::OkrStatusService>());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown service \"", name,
                   "\"; choose from vmdb, evaluator, okr-status"));
}

}  // namespace vla
