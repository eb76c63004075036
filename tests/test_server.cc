#include "tests/test_server.h"

#include <thread>

#include "absl/strings/str_cat.h"

namespace vla::testing {

TestServer::TestServer(ServerOptions options, Db db)
    : options_(std::move(options)) {
  options_.listen = "127.0.0.1:0";
  options_.data_dir = dir_.path();
  // Tests do not depend on how full the machine's disk is; the reserve has
  // its own tests (disk_space_test, durability_e2e_test).
  options_.min_free_bytes = 0;
  if (db == Db::kPostgres) {
    pg_ = std::make_unique<PgDatabase>();
    options_.database = pg_->uri();
  }
  options_.shutdown_grace = absl::Seconds(2);
  Start();
}

TestServer::~TestServer() { Stop(); }

void TestServer::Start() {
  auto server = Server::Start(options_);
  if (!server.ok()) {
    ADD_FAILURE() << "server did not start: " << server.status();
    std::abort();
  }
  server_ = *std::move(server);
  channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  vmdb_ = v1::VmdbService::NewStub(channel_);
  evaluation_ = v1::EvaluationService::NewStub(channel_);
  okr_ = v1::OkrStatusService::NewStub(channel_);
}

void TestServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown();
  server_.reset();
}

void TestServer::Restart() {
  Stop();
  Start();
}

std::string TestServer::address() const {
  return absl::StrCat("127.0.0.1:", server_->port());
}

grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    grpc::Status* status_out) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(Ctx().get(), req, &resp);
  if (status_out != nullptr) *status_out = s;
  return resp.status();
}

ServerOptions FastOptions() {
  ServerOptions o;
  o.evaluation_debounce = absl::Milliseconds(10);
  o.evaluation_tick = absl::Milliseconds(200);
  return o;
}

}  // namespace vla::testing
