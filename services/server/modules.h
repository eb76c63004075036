// Factories for the service modules the server can host.
#ifndef VLA_SERVICES_SERVER_MODULES_H_
#define VLA_SERVICES_SERVER_MODULES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/access.h"
#include "services/common/metrics.h"
#include "services/server/server.h"

namespace vla {

// The module called `name` (one of AllServiceNames()), storing its data
// under `options.data_dir`; its service enforces `policy` (null: nothing)
// and registers its metrics in `metrics` (null: none); both must outlive
// the module.
absl::StatusOr<std::unique_ptr<ServiceModule>> MakeModule(
    const std::string& name, const ServerOptions& options,
    const AccessPolicy* policy = nullptr, metrics::Registry* metrics = nullptr);

}  // namespace vla

#endif  // VLA_SERVICES_SERVER_MODULES_H_
