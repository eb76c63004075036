// RpcObserver: a gRPC server interceptor that watches every call of every
// service in one place, so that no service has to remember to:
//
// - count it: vla_rpc_total{method,code} and the latency histogram
//   vla_rpc_duration_seconds{method} (a stream counts once, when it ends;
//   its duration is the whole call);
// - give it a request id: the client's `x-request-id` metadata when it is a
//   sane token, else a new random one; returned to the client as initial
//   metadata `x-request-id`;
// - log it when it fails (one line per failed call: method, code, message,
//   duration, request id, peer) or when a unary call is slow. Metadata is
//   never logged, so neither are tokens.
//
// See docs/observability.md for the metric names.
#ifndef VLA_SERVICES_SERVER_RPC_OBSERVER_H_
#define VLA_SERVICES_SERVER_RPC_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"
#include "services/common/request_id.h"

namespace vla {

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `services`: full names of the hosted services; calls of other methods
  // are labelled method="unknown" (bounds the label set). A service missing
  // from the generated descriptor pool has all its method names accepted.
  // Successful unary calls taking longer than `slow` are logged.
  RpcObserverFactory(metrics::Registry* registry,
                     const std::vector<std::string>& services,
                     absl::Duration slow);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  friend class RpcObserver;
  // A hosted method's series for successful calls, registered at its first
  // call and then used without the registry's lock (a call's cost).
  struct Method {
    std::once_flag registered;
    metrics::Counter ok;
    metrics::Histogram duration;
  };
  // The series of `label`'s successful calls; null when `label` is not in
  // methods_ (then the registry is asked each time).
  Method* Registered(const std::string& label) const;

  metrics::Registry* registry_;
  // "/package.Service/Method" -> its series; never changes after the
  // constructor.
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_;
  std::set<std::string> open_services_;  // services without descriptors
  absl::Duration slow_;
};

}  // namespace vla

#endif  // VLA_SERVICES_SERVER_RPC_OBSERVER_H_
