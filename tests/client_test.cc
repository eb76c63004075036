// The client library: connection options, channels, contexts, and retries
// against a real server that starts late.
#include "clients/lib/client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/lib/flags.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/server/server.h"
#include "tests/test_util.h"

namespace vla::client {
namespace {

using ::grpc::StatusCode;
using testing::AbslIsCodeWith;
using testing::TempDir;

// A port that was free a moment ago.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(BackoffTest, GrowsExponentiallyWithinTheJitterAndStopsAtTheCap) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(100);
  p.max_backoff = absl::Seconds(1);
  p.multiplier = 2;
  p.jitter = 0.2;
  absl::BitGen gen;
  const double expect[] = {0.1, 0.2, 0.4, 0.8, 1, 1, 1};
  for (int retry = 1; retry <= 7; ++retry) {
    for (int i = 0; i < 50; ++i) {
      const double d = absl::ToDoubleSeconds(BackoffDelay(p, retry, gen));
      EXPECT_GE(d, expect[retry - 1] * 0.8 - 1e-9) << retry;
      EXPECT_LE(d, expect[retry - 1] * 1.2 + 1e-9) << retry;
    }
  }
  p.jitter = 0;
  EXPECT_EQ(BackoffDelay(p, 3, gen), absl::Milliseconds(400));
}

TEST(BackoffTest, JitterSpreadsTheDelays) {
  RetryPolicy p;
  absl::BitGen gen;
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 100; ++i) {
    const absl::Duration d = BackoffDelay(p, 1, gen);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GT(hi - lo, absl::Milliseconds(10));
}

TEST(RetryLoopTest, RetriesOnlyUnavailable) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(1);
  int calls = 0;
  grpc::Status s = RetryLoop(p, [&] {
    ++calls;
    return grpc::Status(StatusCode::NOT_FOUND, "teams/x");
  });
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(calls, 1);

  calls = 0;
  s = RetryLoop(p, [&] {
    return ++calls < 3 ? grpc::Status(StatusCode::UNAVAILABLE, "down")
                       : grpc::Status::OK;
  });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 3);
}

TEST(RetryLoopTest, StopsAfterMaxAttemptsOrTotalTimeout) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(1);
  p.max_attempts = 4;
  int calls = 0;
  grpc::Status s = RetryLoop(p, [&] {
    ++calls;
    return grpc::Status(StatusCode::UNAVAILABLE, "down");
  });
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE);
  EXPECT_EQ(calls, 4);

  p.max_attempts = 0;
  p.initial_backoff = absl::Milliseconds(50);
  p.max_backoff = absl::Milliseconds(50);
  p.total_timeout = absl::Milliseconds(300);
  calls = 0;
  const absl::Time start = absl::Now();
  s = RetryLoop(p, [&] {
    ++calls;
    return grpc::Status(StatusCode::UNAVAILABLE, "down");
  });
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
  EXPECT_GE(calls, 3);
  EXPECT_LE(calls, 8);
}

// The server comes up 1.5 s after the first attempt: the call succeeds once
// it listens, after several attempts, and not much later.
TEST(RetryLoopTest, ReachesAServerThatStartsLate) {
  TempDir dir;
  const int port = FreePort();
  ConnectionOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.deadline = absl::Seconds(2);
  auto channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto health = grpc::health::v1::Health::NewStub(*channel);

  std::unique_ptr<Server> server;
  std::atomic<int64_t> started_ns{0};
  std::thread starter([&] {
    absl::SleepFor(absl::Milliseconds(1500));
    ServerOptions so;
    so.listen = options.address;
    so.data_dir = dir.path();
    so.shutdown_grace = absl::Seconds(1);
    auto s = Server::Start(so);
    ASSERT_TRUE(s.ok()) << s.status();
    started_ns = absl::ToUnixNanos(absl::Now());
    server = *std::move(s);
  });

  RetryPolicy p;
  p.max_attempts = 0;
  p.total_timeout = absl::Seconds(20);
  p.initial_backoff = absl::Milliseconds(50);
  p.max_backoff = absl::Milliseconds(400);
  int attempts = 0;
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s =
      CallWithRetry(options, p, [&](grpc::ClientContext* ctx) {
        ++attempts;
        return health->Check(ctx, grpc::health::v1::HealthCheckRequest(),
                             &resp);
      });
  const absl::Time done = absl::Now();
  starter.join();
  ASSERT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_GE(attempts, 3);
  EXPECT_GE(done, absl::FromUnixNanos(started_ns));
  // Backoff capped at 400 ms (+20 %) and the channel's reconnect backoff at
  // 2 s: the call does not lag far behind the server.
  EXPECT_LT(done - absl::FromUnixNanos(started_ns), absl::Seconds(3));
  server->Shutdown();
}

TEST(RetryLoopTest, WithoutRetriesADownServerIsUnavailable) {
  ConnectionOptions options;
  options.address = absl::StrCat("127.0.0.1:", FreePort());
  auto channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok());
  auto health = grpc::health::v1::Health::NewStub(*channel);
  RetryPolicy p;
  p.max_attempts = 1;
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = CallWithRetry(
      options, p,
      [&](grpc::ClientContext* ctx) { return health->Check(ctx, {}, &resp); });
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE);
}

// Records the metadata and deadline of each call.
class RecordingHealth final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* ctx,
                     const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse*) override {
    auto it = ctx->client_metadata().find("authorization");
    authorization = it == ctx->client_metadata().end()
                        ? ""
                        : std::string(it->second.data(), it->second.size());
    deadline = ctx->deadline();
    return grpc::Status::OK;
  }
  std::string authorization;
  std::chrono::system_clock::time_point deadline;
};

TEST(ContextTest, CarriesTheTokenAndTheDeadline) {
  grpc::EnableDefaultHealthCheckService(false);  // vla::Server turns it on
  RecordingHealth service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_GT(port, 0);
  ConnectionOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.token = "s3cret";
  options.deadline = absl::Seconds(7);
  auto channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok());
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::health::v1::HealthCheckResponse resp;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(stub->Check(MakeContext(options).get(), {}, &resp).ok());
  EXPECT_EQ(service.authorization, "Bearer s3cret");
  const absl::Duration left = absl::FromChrono(service.deadline) - before;
  EXPECT_GT(left, absl::Seconds(6));
  EXPECT_LE(left, absl::Seconds(7) + absl::Milliseconds(100));

  options.token.clear();
  ASSERT_TRUE(stub->Check(MakeContext(options, absl::InfiniteDuration()).get(),
                          {}, &resp)
                  .ok());
  EXPECT_EQ(service.authorization, "");
  EXPECT_GT(absl::FromChrono(service.deadline) - absl::Now(),
            absl::Hours(24 * 365));
  server->Shutdown();
}

TEST(MakeChannelTest, NamesTheFileThatCannotBeRead) {
  ConnectionOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(
      MakeChannel(options).status(),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                     "ca_file: cannot read file \"/nonexistent/ca.pem\""));
  TempDir dir;
  const std::string cert = dir.File("cert.pem");
  std::ofstream(cert) << "-----BEGIN CERTIFICATE-----\n";
  options.ca_file.clear();
  options.cert_file = cert;
  options.key_file = dir.File("missing-key.pem");
  EXPECT_THAT(MakeChannel(options).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "key_file: cannot read file"));
  options.key_file.clear();
  EXPECT_THAT(MakeChannel(options).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "cert_file, key_file"));
}

TEST(MakeChannelTest, RefusesAnEmptyAddressAndAnOverrideWithoutTls) {
  ConnectionOptions options;
  options.address.clear();
  EXPECT_THAT(MakeChannel(options).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "address"));
  options.address = "127.0.0.1:1";
  options.server_name_override = "vla.example.com";
  EXPECT_THAT(MakeChannel(options).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "server_name_override"));
  options.tls = true;
  EXPECT_TRUE(MakeChannel(options).ok());
}

TEST(ConnectionOptionsTest, EnvironmentThenFlags) {
  setenv("VLA_SERVER", "env-host:1", 1);
  setenv("VLA_TOKEN", "env-token", 1);
  setenv("VLA_CA_FILE", "/env/ca.pem", 1);
  setenv("VLA_CERT_FILE", "/env/cert.pem", 1);
  setenv("VLA_KEY_FILE", "/env/key.pem", 1);
  ConnectionOptions o = ConnectionOptions::FromEnv();
  EXPECT_EQ(o.address, "env-host:1");
  EXPECT_EQ(o.token, "env-token");
  EXPECT_EQ(o.ca_file, "/env/ca.pem");
  EXPECT_EQ(o.cert_file, "/env/cert.pem");
  EXPECT_EQ(o.key_file, "/env/key.pem");

  // Flags override the environment; what is not given keeps the env value.
  auto parse = [](std::vector<std::string> args) {
    CLI::App app("test", "client_test");
    ConnectionOptions parsed;
    AddConnectionFlags(&app, &parsed);
    std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
    app.parse(args);
    return parsed;
  };
  o = parse({"--server=flag-host:2"});
  EXPECT_EQ(o.address, "flag-host:2");
  EXPECT_EQ(o.token, "env-token");  // flag not set: the env wins
  o = parse({"--token", "flag-token", "--ca_file=/flag/ca.pem",
             "--deadline=2.5s", "--tls"});
  EXPECT_EQ(o.token, "flag-token");
  EXPECT_EQ(o.ca_file, "/flag/ca.pem");  // underscore spelling too
  EXPECT_EQ(o.deadline, absl::Milliseconds(2500));
  EXPECT_TRUE(o.tls);
  EXPECT_THROW(parse({"--deadline=-3s"}), CLI::ValidationError);
  EXPECT_THROW(parse({"--deadline=soon"}), CLI::ValidationError);

  for (const char* v : {"VLA_SERVER", "VLA_TOKEN", "VLA_CA_FILE",
                        "VLA_CERT_FILE", "VLA_KEY_FILE"}) {
    unsetenv(v);
  }
  o = parse({});
  EXPECT_EQ(o.address, "127.0.0.1:50051");
  EXPECT_EQ(o.token, "");
  EXPECT_FALSE(o.tls);
  EXPECT_EQ(o.deadline, absl::Seconds(30));
}

TEST(ExitCodeTest, OneTableForEveryClient) {
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kOk), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kNotFound), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInvalidArgument), kExitInvalid);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kAborted), kExitInvalid);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kUnavailable), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kDeadlineExceeded), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kPermissionDenied), kExitDenied);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "")),
            kExitDenied);
  EXPECT_EQ(ExitCodeFor(absl::StatusCode::kInternal), kExitServerError);
}

}  // namespace
}  // namespace vla::client
