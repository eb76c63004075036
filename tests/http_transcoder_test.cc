// The HTTP transcoder's pieces without a server: path templates and the
// route table from the real annotations, request building (AIP-127
// bindings), the status mapping of every code, and --webhook_config
// parsing. End to end through the real binary: http_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/http/routes.h"
#include "services/http/transcoder.h"
#include "services/http/webhook_config.h"
#include "tests/test_util.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::http {
namespace {

using testing::AbslIsCodeWith;
using ::testing::ElementsAre;
using ::testing::Pair;

RouteTable Table() {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  auto table = RouteTable::FromServices(
      {pool->FindServiceByName("vla.v1.VmdbService"),
       pool->FindServiceByName("vla.v1.EvaluationService")});
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

TEST(PathTemplateTest, ParsesMatchesAndPrints) {
  auto t = PathTemplate::Parse("/v1/{team.name=teams/*}/x:do");
  ASSERT_TRUE(t.ok()) << t.status();
  Bindings b;
  EXPECT_TRUE(t->Match({"v1", "teams", "a", "x"}, "do", &b));
  EXPECT_THAT(b, ElementsAre(Pair("team.name", "teams/a")));
  EXPECT_FALSE(t->Match({"v1", "teams", "a", "x"}, "", &b));
  EXPECT_FALSE(t->Match({"v1", "kvis", "a", "x"}, "do", &b));
  EXPECT_EQ(t->OpenApiPath(), "/v1/teams/{team.name}/x:do");
  auto tail = PathTemplate::Parse("/v1/{path=files/**}");
  ASSERT_TRUE(tail.ok());
  b.clear();
  EXPECT_TRUE(tail->Match({"v1", "files", "a", "b"}, "", &b));
  EXPECT_THAT(b, ElementsAre(Pair("path", "files/a/b")));
  for (const char* bad :
       {"v1/x", "/v1/{x", "/v1/{x=**}/y", "/v1/a:", "/v1/{a b}"}) {
    EXPECT_THAT(
        PathTemplate::Parse(bad).status(),
        AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "path template"))
        << bad;
  }
}

TEST(RouteTableTest, FindsRoutesAndAllowedMethods) {
  const RouteTable table = Table();
  RouteMatch m = table.Find("PATCH", "/v1/vlas/incident");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->grpc_method, "/vla.v1.VmdbService/UpdateVla");
  EXPECT_EQ(m.route->body, "vla");
  EXPECT_THAT(m.bindings, ElementsAre(Pair("vla.name", "vlas/incident")));
  m = table.Find("GET", "/v1/changes:watch");
  ASSERT_NE(m.route, nullptr);
  EXPECT_TRUE(m.route->method->server_streaming());
  m = table.Find("PUT", "/v1/teams/a");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_THAT(m.allowed, ElementsAre("GET", "PATCH", "DELETE"));
  EXPECT_TRUE(table.Find("GET", "/v1/nothing").allowed.empty());
  // Ingest (bidirectional) has no route.
  for (const Route& r : table.routes()) {
    EXPECT_NE(r.grpc_method, "/vla.v1.EvaluationService/Ingest");
  }
}

TEST(TranscoderTest, BuildsRequestsFromBodyPathAndQuery) {
  const RouteTable table = Table();
  RouteMatch m = table.Find("PATCH", "/v1/teams/a");
  v1::UpdateTeamRequest update;
  ASSERT_TRUE(BuildRequest(*m.route, m.bindings,
                           {{"updateMask", "displayName,description"}},
                           R"({"displayName": "A", "etag": "e1"})", &update)
                  .ok());
  EXPECT_EQ(update.team().name(), "teams/a");
  EXPECT_EQ(update.team().etag(), "e1");
  EXPECT_THAT(update.update_mask().paths(),
              ElementsAre("display_name", "description"));

  m = table.Find("GET", "/v1/kvis/k/value");
  v1::GetKviValueRequest value;
  ASSERT_TRUE(BuildRequest(*m.route, m.bindings,
                           {{"time", "2026-11-20T10:00:00Z"}}, "", &value)
                  .ok());
  EXPECT_EQ(value.kvi(), "kvis/k");
  EXPECT_EQ(value.time().seconds(), 1795168800);

  // Enum values by their full name, their short name (as api.md writes
  // them) or their number.
  m = table.Find("GET", "/v1/vlas/v/report");
  v1::GetVlaReportRequest report;
  ASSERT_TRUE(BuildRequest(*m.route, m.bindings,
                           {{"period", "QUARTER"},
                            {"timeZone", "Europe/Berlin"},
                            {"startTime", "2026-01-01T00:00:00Z"}},
                           "", &report)
                  .ok());
  EXPECT_EQ(report.vla(), "vlas/v");
  EXPECT_EQ(report.period(), v1::CALENDAR_PERIOD_QUARTER);
  EXPECT_EQ(report.time_zone(), "Europe/Berlin");
  EXPECT_EQ(report.start_time().seconds(), 1767225600);
  for (const char* year : {"CALENDAR_PERIOD_YEAR", "YEAR", "3"}) {
    report.Clear();
    ASSERT_TRUE(
        BuildRequest(*m.route, m.bindings, {{"period", year}}, "", &report)
            .ok())
        << year;
    EXPECT_EQ(report.period(), v1::CALENDAR_PERIOD_YEAR) << year;
  }

  m = table.Find("GET", "/v1/teams");
  v1::ListTeamsRequest list;
  ASSERT_TRUE(BuildRequest(*m.route, m.bindings,
                           {{"page_size", "7"}, {"filter", "kind = PROVIDER"}},
                           "", &list)
                  .ok());
  EXPECT_EQ(list.page_size(), 7);
  EXPECT_EQ(list.filter(), "kind = PROVIDER");

  const auto error = [&](const std::string& method, const std::string& path,
                         const QueryParams& query, const std::string& body) {
    RouteMatch r = table.Find(method, path);
    std::unique_ptr<google::protobuf::Message> msg(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(r.route->method->input_type())
            ->New());
    return BuildRequest(*r.route, r.bindings, query, body, msg.get());
  };
  EXPECT_THAT(
      error("GET", "/v1/teams/a", {{"name", "teams/b"}}, ""),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "bound by the path"));
  EXPECT_THAT(error("PATCH", "/v1/teams/a", {{"team.displayName", "x"}}, ""),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "belongs in the body"));
  EXPECT_THAT(error("POST", "/v1/records:ingest", {{"x", "1"}}, "{}"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "belongs in the body"));
  EXPECT_THAT(error("GET", "/v1/teams", {{"pageSize", "x"}}, ""),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "page_size"));
  EXPECT_THAT(error("GET", "/v1/vlas/v/report", {{"period", "WEEK"}}, ""),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "period"));
  EXPECT_THAT(
      error("GET", "/v1/teams", {}, "{}"),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "takes no body"));
  EXPECT_THAT(error("POST", "/v1/teams", {}, "[1]"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "body"));
}

TEST(TranscoderTest, EveryCodeHasItsHttpStatus) {
  using C = absl::StatusCode;
  const std::pair<C, int> expected[] = {{C::kOk, 200},
                                        {C::kInvalidArgument, 400},
                                        {C::kFailedPrecondition, 400},
                                        {C::kOutOfRange, 400},
                                        {C::kUnauthenticated, 401},
                                        {C::kPermissionDenied, 403},
                                        {C::kNotFound, 404},
                                        {C::kAlreadyExists, 409},
                                        {C::kAborted, 409},
                                        {C::kResourceExhausted, 429},
                                        {C::kCancelled, 499},
                                        {C::kUnimplemented, 501},
                                        {C::kUnavailable, 503},
                                        {C::kDeadlineExceeded, 504},
                                        {C::kInternal, 500},
                                        {C::kUnknown, 500},
                                        {C::kDataLoss, 500}};
  for (const auto& [code, status] : expected) {
    EXPECT_EQ(HttpStatusOf(code), status) << absl::StatusCodeToString(code);
  }
  EXPECT_EQ(
      ErrorJson(absl::NotFoundError("teams/x \"gone\"")),
      R"({"error":{"code":404,"status":"NOT_FOUND","message":"teams/x \"gone\""}})");
  EXPECT_EQ(
      ErrorJson(absl::InvalidArgumentError("m"), 415),
      R"({"error":{"code":415,"status":"INVALID_ARGUMENT","message":"m"}})");
}

TEST(WebhookConfigTest, ParsesAndNamesTheLineOfEachError) {
  auto config = WebhookConfig::Parse("w.conf", R"(# comment
[jira]
secret = s#1
value_stream = valueStreams/delivery
team_field = customfield_10001
team Network Ops = network
status Waiting for QA = waiting
service Payments API = payments
[servicenow]
secret = t
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->jira.secret, "s#1");
  EXPECT_EQ(config->jira.options.value_stream, "valueStreams/delivery");
  EXPECT_EQ(config->jira.options.team_map.at("Network Ops"), "network");
  EXPECT_EQ(config->jira.options.jira.status_map.at("Waiting for QA"),
            importers::StatusPhase::kWaiting);
  EXPECT_TRUE(config->servicenow.enabled);

  const std::pair<const char*, const char*> bad[] = {
      {"[gitlab]\n", "w.conf:1: unknown section [gitlab]"},
      {"secret = x\n", "w.conf:1: a setting before any [section]"},
      {"[jira]\nsecret = x\ncolour = red\n",
       "w.conf:3: unknown setting \"colour\""},
      {"[jira]\nsecret = x\nteam = y\n", "w.conf:3: team: write team"},
      {"[jira]\nsecret = x\nteam A = Bad_Id\n", "w.conf:3: team"},
      {"[jira]\nsecret = x\nstatus A = later\n", "w.conf:3: phase \"later\""},
      {"[jira]\nsecret = x\ntime_zone = Mars/Base\n", "w.conf:3: time_zone"},
      {"[jira]\nsecret_file = /nonexistent\n", "w.conf:2: secret_file"},
      {"[jira]\nvalue_stream = x\n", "w.conf:1: [jira] needs a secret"},
      {"[jira]\nsecret = x\n[jira]\n", "w.conf:3: section given twice"},
      {"# nothing\n", "w.conf: no [jira] or [servicenow] section"},
  };
  for (const auto& [text, message] : bad) {
    EXPECT_THAT(WebhookConfig::Parse("w.conf", text).status(),
                AbslIsCodeWith(absl::StatusCode::kInvalidArgument, message))
        << text;
  }
  // A secret never appears in an error.
  const auto s = WebhookConfig::Parse("w.conf", "[jira]\nsecret hush = 1\n");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()).find("hush"), std::string::npos)
      << s.status();
}

}  // namespace
}  // namespace vla::http
