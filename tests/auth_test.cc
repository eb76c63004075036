// Authentication and roles: every method of every hosted service, called
// with no token, a wrong token and each role's token, answers
// UNAUTHENTICATED / PERMISSION_DENIED / anything else (allowed) exactly as
// the role table says. Methods come from the server's reflection and the
// descriptors, so a new method cannot be forgotten.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "services/common/access.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::IsCode;
using testing::TestServer;

// The role table, written out: what each method needs.
const std::map<std::string, Role>& ExpectedRoles() {
  static const auto* const roles = [] {
    auto* m = new std::map<std::string, Role>();
    for (const char* r : {"Team", "ValueStream", "Kvi", "Vla", "Objective"}) {
      const std::string base = "/vla.v1.VmdbService/";
      (*m)[absl::StrCat(base, "Create", r)] = Role::kAdmin;
      (*m)[absl::StrCat(base, "Get", r)] = Role::kReader;
      (*m)[absl::StrCat(base, "List", r, "s")] = Role::kReader;
      (*m)[absl::StrCat(base, "Update", r)] = Role::kAdmin;
      (*m)[absl::StrCat(base, "Delete", r)] = Role::kAdmin;
    }
    (*m)["/vla.v1.VmdbService/ListVlaRevisions"] = Role::kReader;
    (*m)["/vla.v1.VmdbService/WatchChanges"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/Ingest"] = Role::kWriter;
    (*m)["/vla.v1.EvaluationService/IngestBatch"] = Role::kWriter;
    (*m)["/vla.v1.EvaluationService/GetKviValue"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/GetVlaStatus"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/ListVlaStatuses"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/WatchVlaStatuses"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/WatchKviValues"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/GetValueStreamFlow"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/ListVlaEvaluations"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/GetVlaReport"] = Role::kReader;
    (*m)["/vla.v1.EvaluationService/GetKviSeries"] = Role::kReader;
    (*m)["/vla.v1.OkrStatusService/GetObjectiveStatus"] = Role::kReader;
    (*m)["/vla.v1.OkrStatusService/ListObjectiveStatuses"] = Role::kReader;
    (*m)["/vla.v1.OkrStatusService/WatchObjectiveStatuses"] = Role::kReader;
    (*m)["/vla.v1.OkrStatusService/RecordCheckIn"] = Role::kWriter;
    return m;
  }();
  return *roles;
}

constexpr char kReaderToken[] = "reader-secret-1";
constexpr char kWriterToken[] = "writer-secret-2";
constexpr char kAdminToken[] = "admin-secret-3";

std::string TokensFile(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/tokens");
  std::ofstream out(path);
  out << "# role name sha256(token)\n\n"
      << "reader dashboards " << Sha256Hex(kReaderToken) << "\n"
      << "writer itsm " << Sha256Hex(kWriterToken) << "\n"
      << "admin vlactl " << Sha256Hex(kAdminToken) << "\n";
  return path;
}

// The services the server hosts, from its reflection (called without a
// token: reflection stays open).
std::vector<std::string> HostedServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("*");
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  std::vector<std::string> names;
  if (!stream->Write(req) || !stream->Read(&resp)) return names;
  for (const auto& s : resp.list_services_response().service()) {
    names.push_back(s.name());
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  return names;
}

// Every method of the hosted vla services, as "/pkg.Service/Method".
std::vector<std::string> AllMethods(
    const std::shared_ptr<grpc::Channel>& channel) {
  std::vector<std::string> methods;
  for (const std::string& name : HostedServices(channel)) {
    if (absl::StartsWith(name, "grpc.")) continue;
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name);
    EXPECT_NE(service, nullptr) << name;
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(
          absl::StrCat("/", name, "/", service->method(i)->name()));
    }
  }
  return methods;
}

// Calls `method` by name with one empty request message, reads whatever
// comes back and reports the final status. Works for unary and streaming
// methods alike; a stream still open at the deadline ends with
// DEADLINE_EXCEEDED (which counts as allowed).
class RawCall final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RawCall(grpc::GenericStub* stub, const std::string& method,
          const std::string& token) {
    grpc::Slice empty("");
    request_ = grpc::ByteBuffer(&empty, 1);
    if (!token.empty()) {
      ctx_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    ctx_.set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(3));
    stub->PrepareBidiStreamingCall(&ctx_, method, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }
  grpc::Status Wait() { return done_.get_future().get(); }

 private:
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;  // empty: every field at its default
  grpc::ByteBuffer response_;
  std::promise<grpc::Status> done_;
};

enum class Outcome { kUnauthenticated, kDenied, kAllowed };

Outcome OutcomeOf(const grpc::Status& status) {
  if (status.error_code() == StatusCode::UNAUTHENTICATED) {
    return Outcome::kUnauthenticated;
  }
  if (status.error_code() == StatusCode::PERMISSION_DENIED) {
    return Outcome::kDenied;
  }
  return Outcome::kAllowed;
}

class AuthTest : public ::testing::Test {
 protected:
  AuthTest() {
    ServerOptions options = testing::FastOptions();
    options.auth_tokens_file = TokensFile(dir_.path());
    options.tls_refresh_interval = absl::Milliseconds(100);
    server_ = std::make_unique<TestServer>(options);
  }

  testing::TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST(RoleTableTest, EveryMethodIsInTheTableWithItsRole) {
  TestServer server;
  const std::vector<std::string> methods = AllMethods(server.channel());
  std::set<std::string> seen(methods.begin(), methods.end());
  std::set<std::string> expected;
  for (const auto& [method, role] : ExpectedRoles()) expected.insert(method);
  EXPECT_EQ(seen, expected)
      << "a method was added or removed: update ExpectedRoles()";
  for (const std::string& method : methods) {
    auto it = ExpectedRoles().find(method);
    if (it == ExpectedRoles().end()) continue;
    EXPECT_EQ(RequiredRole(method), it->second) << method;
  }
}

TEST_F(AuthTest, EveryMethodWithEveryCaller) {
  const std::vector<std::string> methods = AllMethods(server_->channel());
  ASSERT_EQ(methods.size(), ExpectedRoles().size());
  struct Caller {
    std::string label;
    std::string token;
    std::optional<Role> role;  // none: not a valid token
  };
  const std::vector<Caller> callers = {
      {"no token", "", std::nullopt},
      {"wrong token", "not-a-token", std::nullopt},
      {"reader", kReaderToken, Role::kReader},
      {"writer", kWriterToken, Role::kWriter},
      {"admin", kAdminToken, Role::kAdmin},
  };
  grpc::GenericStub stub(server_->channel());
  struct Pending {
    std::string what;
    Outcome expected;
    std::unique_ptr<RawCall> call;
  };
  // All calls at once, so that open streams wait out their deadlines
  // together.
  std::vector<Pending> pending;
  for (const std::string& method : methods) {
    for (const Caller& caller : callers) {
      Outcome expected = Outcome::kUnauthenticated;
      if (caller.role.has_value()) {
        expected = *caller.role >= ExpectedRoles().at(method)
                       ? Outcome::kAllowed
                       : Outcome::kDenied;
      }
      pending.push_back(
          {absl::StrCat(method, " as ", caller.label), expected,
           std::make_unique<RawCall>(&stub, method, caller.token)});
    }
  }
  int allowed = 0, denied = 0, unauthenticated = 0;
  for (Pending& p : pending) {
    const grpc::Status status = p.call->Wait();
    const Outcome outcome = OutcomeOf(status);
    EXPECT_EQ(outcome, p.expected) << p.what << ": " << status.error_code()
                                   << " " << status.error_message();
    allowed += outcome == Outcome::kAllowed;
    denied += outcome == Outcome::kDenied;
    unauthenticated += outcome == Outcome::kUnauthenticated;
  }
  // Two invalid callers per method; reader is denied the writer and admin
  // methods, writer the admin ones; admin may call everything.
  int writer_methods = 0, admin_methods = 0;
  for (const auto& [method, role] : ExpectedRoles()) {
    writer_methods += role == Role::kWriter;
    admin_methods += role == Role::kAdmin;
  }
  EXPECT_EQ(unauthenticated, 2 * static_cast<int>(methods.size()));
  EXPECT_EQ(denied, writer_methods + 2 * admin_methods);
  EXPECT_EQ(allowed, 3 * static_cast<int>(methods.size()) - denied);
}

TEST_F(AuthTest, HealthAndReflectionNeedNoToken) {
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  EXPECT_TRUE(health->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(HostedServices(server_->channel()).size(), 5u);
}

TEST_F(AuthTest, MessagesSayWhatIsWrong) {
  v1::CreateTeamRequest req;
  req.set_team_id("ops");
  *req.mutable_team() = testing::MakeTeam();
  v1::Team team;
  EXPECT_THAT(server_->vmdb().CreateTeam(Ctx().get(), req, &team),
              testing::IsCodeWith(StatusCode::UNAUTHENTICATED, "missing"));
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", "Basic abc");
  EXPECT_THAT(server_->vmdb().CreateTeam(ctx.get(), req, &team),
              testing::IsCodeWith(StatusCode::UNAUTHENTICATED, "Bearer"));
  ctx = Ctx();
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kWriterToken));
  EXPECT_THAT(server_->vmdb().CreateTeam(ctx.get(), req, &team),
              testing::IsCodeWith(StatusCode::PERMISSION_DENIED,
                                  "CreateTeam: needs role admin; \"itsm\" "
                                  "has role writer"));
  ctx = Ctx();
  ctx->AddMetadata("authorization", absl::StrCat("bearer ", kAdminToken));
  EXPECT_TRUE(server_->vmdb().CreateTeam(ctx.get(), req, &team).ok());
}

// The services of one process call each other in-process: with auth on,
// the evaluator still follows the VMDB's change feed.
TEST_F(AuthTest, InProcessCallsNeedNoConfiguredToken) {
  v1::GetTeamRequest get;
  get.set_name("teams/nope");
  v1::Team team;
  auto in_process =
      v1::VmdbService::NewStub(server_->server().InProcessChannel());
  EXPECT_THAT(in_process->GetTeam(Ctx().get(), get, &team),
              IsCode(StatusCode::NOT_FOUND));
  // The evaluator has caught up with the VMDB (over the in-process
  // channel) once it accepts ingest.
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kWriterToken));
  v1::IngestRequest ingest;
  v1::IngestResponse resp;
  EXPECT_TRUE(testing::Eventually([&] {
    auto c = Ctx();
    c->AddMetadata("authorization", absl::StrCat("Bearer ", kWriterToken));
    return server_->evaluation().IngestBatch(c.get(), ingest, &resp).ok();
  }));
}

TEST_F(AuthTest, TokensFileIsReloadedWhenItChanges) {
  v1::GetTeamRequest get;
  get.set_name("teams/nope");
  v1::Team team;
  auto call = [&](const std::string& token) {
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    return server_->vmdb().GetTeam(ctx.get(), get, &team).error_code();
  };
  EXPECT_EQ(call(kReaderToken), StatusCode::NOT_FOUND);
  EXPECT_EQ(call("rotated-token"), StatusCode::UNAUTHENTICATED);
  {
    std::ofstream out(dir_.File("tokens.new"));
    out << "reader dashboards " << Sha256Hex("rotated-token") << "\n";
  }
  std::rename(dir_.File("tokens.new").c_str(), dir_.File("tokens").c_str());
  EXPECT_TRUE(testing::Eventually(
      [&] { return call("rotated-token") == StatusCode::NOT_FOUND; }));
  EXPECT_EQ(call(kReaderToken), StatusCode::UNAUTHENTICATED);
  // A broken file keeps the tokens that were loaded.
  {
    std::ofstream out(dir_.File("tokens.new"));
    out << "superuser x " << Sha256Hex("x") << "\n";
  }
  std::rename(dir_.File("tokens.new").c_str(), dir_.File("tokens").c_str());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(call("rotated-token"), StatusCode::NOT_FOUND);
}

TEST(TokensFileTest, ErrorsNameTheLineAndNeverEchoIt) {
  auto bad = TokenAuthenticator::FromText(
      absl::StrCat("admin a ", Sha256Hex("a"), "\nadmin b my-plain-token\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  EXPECT_EQ(bad.status().message().find("my-plain-token"), std::string::npos);
  EXPECT_FALSE(TokenAuthenticator::FromText("root a " + Sha256Hex("a")).ok());
  EXPECT_FALSE(TokenAuthenticator::FromText("admin " + Sha256Hex("a")).ok());
  auto good = TokenAuthenticator::FromText(
      absl::StrCat("# comment\n\nwriter w ", Sha256Hex("tok"), "\n"));
  ASSERT_TRUE(good.ok());
  auto who = (*good)->Authenticate("tok");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->name, "w");
  EXPECT_EQ(who->role, Role::kWriter);
  EXPECT_FALSE((*good)->Authenticate("tok2").has_value());
  EXPECT_FALSE((*good)->Authenticate("").has_value());
}

TEST(TokensFileTest, MissingOrBrokenFileStopsTheServer) {
  testing::TempDir dir;
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.path();
  options.auth_tokens_file = dir.File("missing");
  auto server = Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("auth_tokens_file"),
            std::string::npos);
  std::ofstream(dir.File("broken")) << "admin x y\n";
  options.auth_tokens_file = dir.File("broken");
  server = Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("line 1"), std::string::npos);
}

TEST_F(AuthTest, TokensNeverAppearInLogs) {
  ::testing::internal::CaptureStderr();
  for (const char* token : {kAdminToken, "wrong-token-xyz"}) {
    v1::CreateTeamRequest req;  // invalid: logged errors, if any
    v1::Team team;
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    server_->vmdb().CreateTeam(ctx.get(), req, &team);
  }
  server_.reset();  // logs shutdown
  const std::string logs = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(logs.find(kAdminToken), std::string::npos);
  EXPECT_EQ(logs.find("wrong-token-xyz"), std::string::npos);
  EXPECT_EQ(logs.find(Sha256Hex(kAdminToken)), std::string::npos);
}

}  // namespace
}  // namespace vla
