#include "services/server/rpc_observer.h"

#include <grpcpp/server_context.h>

#include <chrono>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "google/protobuf/descriptor.h"

namespace vla {
namespace {

using grpc::experimental::InterceptionHookPoints;

// The level of the line logged for a call that failed with `code`: info
// when the client cancelled (the usual end of a watch stream), warning when
// the caller asked for something wrong, error when the server failed.
LogLevel FailureLevel(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return LogLevel::kInfo;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::UNIMPLEMENTED:
      return LogLevel::kWarning;
    default:
      return LogLevel::kError;
  }
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

constexpr char kRpcTotal[] = "vla_rpc_total";
constexpr char kRpcTotalHelp[] =
    "Finished RPCs by full method name and gRPC status code.";
constexpr char kRpcDuration[] = "vla_rpc_duration_seconds";
constexpr char kRpcDurationHelp[] =
    "RPC duration (streams: the whole call) by full method name.";

}  // namespace

// One per call; gRPC deletes it with the call.
class RpcObserver final : public grpc::experimental::Interceptor {
 public:
  RpcObserver(const RpcObserverFactory* factory,
              grpc::experimental::ServerRpcInfo* info)
      : factory_(factory),
        info_(info),
        method_(MethodLabel(factory, info->method())),
        unary_(info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY),
        start_(std::chrono::steady_clock::now()) {}

  ~RpcObserver() override {
    // A call that ended without the server sending a status: the client
    // went away first.
    std::lock_guard<std::mutex> lock(mu_);
    if (!recorded_) {
      Record(grpc::Status(grpc::StatusCode::CANCELLED,
                          "call ended before the server answered"),
             "");
    }
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    // Most batches of a stream are its messages: nothing to do for them
    // (and no lock to take).
    if (!methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA) &&
        !methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA) &&
        !methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        !methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_CLOSE)) {
      methods->Proceed();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
        absl::string_view id;
        auto* md = methods->GetRecvInitialMetadata();
        if (auto it = md->find(kRequestIdKey); it != md->end()) {
          id = absl::string_view(it->second.data(), it->second.size());
        }
        request_id_ = RequestIdOrNew(id);
      }
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
        if (request_id_.empty()) request_id_ = RequestIdOrNew("");
        methods->GetSendInitialMetadata()->emplace(kRequestIdKey, request_id_);
      }
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::PRE_SEND_STATUS) &&
          !recorded_) {
        // A call the client cancelled (or whose deadline passed) before
        // this status: whatever the server sends now, nobody receives. The
        // cancellation may reach the service (OnCancel, which then finishes)
        // before the POST_RECV_CLOSE hook reaches us, so ask the context too.
        const bool cancelled =
            closed_ || info_->server_context()->IsCancelled();
        Record(cancelled ? grpc::Status(grpc::StatusCode::CANCELLED,
                                        "client cancelled the call")
                         : methods->GetSendStatus(),
               info_->server_context()->peer());
      }
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::POST_RECV_CLOSE)) {
        closed_ = true;
      }
    }
    methods->Proceed();
  }

 private:
  // Called with mu_ held, once. `peer` is empty from the destructor (the
  // call is gone by then).
  void Record(const grpc::Status& status, const std::string& peer) {
    recorded_ = true;
    const absl::Duration duration =
        absl::FromChrono(std::chrono::steady_clock::now() - start_);
    const std::string& method = method_;
    const std::string code = CodeName(status.error_code());
    metrics::Registry* registry = factory_->registry_;
    RpcObserverFactory::Method* registered =
        factory_->Registered(method);  // null for "unknown", open services
    if (status.ok() && registered != nullptr) {
      registered->ok.Increment();
      registered->duration.ObserveDuration(duration);
    } else {
      registry
          ->GetCounter(kRpcTotal, kRpcTotalHelp,
                       {{"method", method}, {"code", code}})
          .Increment();
      registry
          ->GetHistogram(kRpcDuration, kRpcDurationHelp,
                         metrics::DurationBuckets(), {{"method", method}})
          .ObserveDuration(duration);
    }
    const bool slow = unary_ && duration > factory_->slow_;
    if (status.ok() && !slow) return;
    if (request_id_.empty()) request_id_ = RequestIdOrNew("");
    const std::string ms =
        absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(duration));
    if (!status.ok()) {
      Log(FailureLevel(status.error_code()), "rpc failed",
          {{"method", method},
           {"code", code},
           {"message", status.error_message()},
           {"duration_ms", ms},
           {"request_id", request_id_},
           {"peer", peer}});
    } else {
      Log(LogLevel::kWarning, "slow rpc",
          {{"method", method},
           {"duration_ms", ms},
           {"request_id", request_id_},
           {"peer", peer}});
    }
  }

  // The full method name when it is a method of a hosted service, else
  // "unknown" (so that clients cannot grow the label set).
  static std::string MethodLabel(const RpcObserverFactory* factory,
                                 const char* full_method) {
    const std::string m = full_method == nullptr ? "" : full_method;
    if (factory->methods_.count(m)) return m;
    const size_t slash = m.find('/', 1);
    if (m.size() > 1 && m[0] == '/' && slash != std::string::npos &&
        factory->open_services_.count(m.substr(1, slash - 1))) {
      return m;
    }
    return "unknown";
  }

  const RpcObserverFactory* factory_;
  grpc::experimental::ServerRpcInfo* info_;
  const std::string method_;
  const bool unary_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::string request_id_;
  bool closed_ = false;
  bool recorded_ = false;
};

RpcObserverFactory::RpcObserverFactory(metrics::Registry* registry,
                                       const std::vector<std::string>& services,
                                       absl::Duration slow)
    : registry_(registry), slow_(slow) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    if (service == nullptr) {
      open_services_.insert(name);
      continue;
    }
    for (int i = 0; i < service->method_count(); ++i) {
      methods_.emplace(absl::StrCat("/", name, "/", service->method(i)->name()),
                       std::make_unique<Method>());
    }
  }
}

RpcObserverFactory::Method* RpcObserverFactory::Registered(
    const std::string& label) const {
  auto it = methods_.find(label);
  if (it == methods_.end()) return nullptr;
  Method* m = it->second.get();
  std::call_once(m->registered, [&] {
    m->ok = registry_->GetCounter(kRpcTotal, kRpcTotalHelp,
                                  {{"method", label}, {"code", "OK"}});
    m->duration = registry_->GetHistogram(kRpcDuration, kRpcDurationHelp,
                                          metrics::DurationBuckets(),
                                          {{"method", label}});
  });
  return m;
}

grpc::experimental::Interceptor* RpcObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcObserver(this, info);
}

}  // namespace vla
