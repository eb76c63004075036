// A real server on a loopback port with stubs for every service.
#ifndef VLA_TESTS_TEST_SERVER_H_
#define VLA_TESTS_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "services/server/server.h"
#include "tests/pg_test_util.h"
#include "tests/test_util.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla::testing {

// A vla::Server on 127.0.0.1:0 over a temporary data folder (SQLite) or a
// new PostgreSQL database, with a TCP channel to it. Restart() keeps the
// data.
class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}, Db db = Db::kSqlite);
  ~TestServer();

  void Restart();
  void Stop();
  Server& server() { return *server_; }
  const std::string& data_dir() const { return dir_.path(); }
  // The PostgreSQL URI (empty with SQLite).
  const std::string& database() const { return options_.database; }
  std::string address() const;
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  v1::VmdbService::Stub& vmdb() { return *vmdb_; }
  v1::EvaluationService::Stub& evaluation() { return *evaluation_; }
  v1::OkrStatusService::Stub& okr() { return *okr_; }

 private:
  void Start();

  TempDir dir_;
  std::unique_ptr<PgDatabase> pg_;  // with Db::kPostgres
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmdbService::Stub> vmdb_;
  std::unique_ptr<v1::EvaluationService::Stub> evaluation_;
  std::unique_ptr<v1::OkrStatusService::Stub> okr_;
};

// The health of `service` ("" for overall) as the server reports it
// (SERVICE_UNKNOWN when the call fails; its status in `status_out`).
grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    grpc::Status* status_out = nullptr);

// Server options with a fast evaluation loop, for tests.
ServerOptions FastOptions();

}  // namespace vla::testing

#endif  // VLA_TESTS_TEST_SERVER_H_
