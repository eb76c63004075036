// HTTP/JSON end to end: the real `vlad` binary with --http_listen, tokens
// and webhooks, called with libcurl. One vlad serves every test of the
// binary (CTest runs the binary once); the TLS test starts its own.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/wait.h>
#include <zlib.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/api/annotations.pb.h"
#include "tests/cert_util.h"
#include "tests/fixtures.h"
#include "tests/http_client.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/okr_status.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla {
namespace {

using google::protobuf::Message;
using testing::HttpClient;
using testing::HttpResult;
using testing::TempDir;

constexpr char kAdmin[] = "Authorization: Bearer admin-token";
constexpr char kWriter[] = "Authorization: Bearer writer-token";
constexpr char kReader[] = "Authorization: Bearer reader-token";
constexpr char kJiraSecret[] = "jira-secret-7f3a";
constexpr char kSnowSecret[] = "snow-token-c41d";

std::string Sha256Hex(const std::string& s) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), out);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(out), sizeof(out)));
}

std::string HmacHex(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(out), len));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Webhook(const std::string& name) {
  return ReadFile(absl::StrCat(WEBHOOKS_DATA_DIR, "/", name));
}

std::string ToJson(const Message& m) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

// `json` parsed strictly as the message `out`; printed again the way vlad
// prints and parsed again, it gives the same message (the JSON round-trips
// through the protos).
void ParseStrict(const std::string& json, Message* out) {
  google::protobuf::util::JsonParseOptions strict;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json, out, strict).ok())
      << out->GetTypeName() << ": " << json;
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  std::string again;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(*out, &again, print).ok());
  std::unique_ptr<Message> copy(out->New());
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(again, copy.get(), strict)
          .ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*out, *copy));
}

template <typename M>
M Parse(const HttpResult& r) {
  M m;
  ParseStrict(r.body, &m);
  return m;
}

// The error shape of a non-2xx answer: {"error": {code, status, message}}.
struct Error {
  int code = 0;
  std::string status;
  std::string message;
};
Error ParseError(const HttpResult& r) {
  // google.rpc-like shape, checked with a generic JSON message.
  google::protobuf::Struct s;
  ParseStrict(r.body, &s);
  const auto& e = s.fields().at("error").struct_value().fields();
  Error out;
  out.code = static_cast<int>(e.at("code").number_value());
  out.status = e.at("status").string_value();
  out.message = e.at("message").string_value();
  EXPECT_EQ(out.code, r.status) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_FALSE(r.Header("x-request-id").empty());
  return out;
}

// A failed call's HTTP status, gRPC status name and message.
::testing::AssertionResult IsError(const HttpResult& r, int status,
                                   const std::string& code,
                                   const std::string& message_part = "") {
  if (r.status != status) {
    return ::testing::AssertionFailure()
           << "HTTP " << r.status << " (want " << status << "): " << r.body
           << r.curl_error;
  }
  const Error e = ParseError(r);
  if (e.status != code || !absl::StrContains(e.message, message_part)) {
    return ::testing::AssertionFailure() << r.body;
  }
  return ::testing::AssertionSuccess();
}

class HttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::ofstream(dir_->File("tokens"))
        << "admin vlactl " << Sha256Hex("admin-token") << "\n"
        << "writer jira " << Sha256Hex("writer-token") << "\n"
        << "reader grafana " << Sha256Hex("reader-token") << "\n";
    std::ofstream(dir_->File("snow.secret")) << kSnowSecret << "\n";
    std::ofstream(dir_->File("webhooks.conf"))
        << "# test webhooks\n[jira]\nsecret = " << kJiraSecret
        << "\nvalue_stream = incident\nteam_field = customfield_10001\n"
        << "status Waiting for QA = waiting\n\n[servicenow]\nsecret_file = "
        << dir_->File("snow.secret") << "\nvalue_stream = incident\n";
    vlad_ = new testing::VladProcess(
        VLAD_PATH, dir_->path(),
        {"--http_listen=127.0.0.1:0", "--http_max_streams=3",
         "--http_threads=8", "--http_max_body_bytes=65536",
         absl::StrCat("--auth_tokens_file=", dir_->File("tokens")),
         absl::StrCat("--webhook_config=", dir_->File("webhooks.conf"))});
    const absl::Status started = vlad_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_GT(vlad_->http_port(), 0);
    base_ = absl::StrCat("http://127.0.0.1:", vlad_->http_port());
    // The definitions every test uses, created over HTTP.
    HttpClient http(base_);
    const auto create = [&](const std::string& collection,
                            const std::string& id_param, const std::string& id,
                            const Message& body) {
      const HttpResult r = http.Call(
          "POST", absl::StrCat("/v1/", collection, "?", id_param, "=", id),
          ToJson(body), {kAdmin});
      ASSERT_EQ(r.status, 200) << collection << "/" << id << ": " << r.body;
    };
    create("teams", "teamId", "business",
           testing::MakeTeam(v1::TEAM_KIND_CONSUMER, "Business"));
    for (const char* team :
         {"service-desk", "network-operations", "platform", "payments"}) {
      create("teams", "teamId", team, testing::MakeTeam());
    }
    create("valueStreams", "valueStreamId", "incident",
           testing::MakeValueStream());
    create("kvis", "kviId", "lead-time", testing::MakeKvi());
    create("vlas", "vlaId", "incident", testing::MakeVla());
    create("objectives", "objectiveId", "faster", testing::MakeObjective());
  }
  static void TearDownTestSuite() {
    delete vlad_;
    delete dir_;
  }

  static TempDir* dir_;
  static testing::VladProcess* vlad_;
  static std::string base_;
  HttpClient http_{base_};
};
TempDir* HttpTest::dir_ = nullptr;
testing::VladProcess* HttpTest::vlad_ = nullptr;
std::string HttpTest::base_;

// Get, List, Update (update mask and etag as query parameter and body
// field) of every kind, Delete with an etag, ListVlaRevisions.
TEST_F(HttpTest, StandardMethodsOfEveryKind) {
  struct Kind {
    std::string collection;  // and the name prefix
    std::string id;
    std::string list_field;  // of the List response
    std::unique_ptr<Message> prototype;
  };
  std::vector<Kind> kinds;
  kinds.push_back({"teams", "business", "teams", std::make_unique<v1::Team>()});
  kinds.push_back({"valueStreams", "incident", "valueStreams",
                   std::make_unique<v1::ValueStream>()});
  kinds.push_back({"kvis", "lead-time", "kvis", std::make_unique<v1::Kvi>()});
  kinds.push_back({"vlas", "incident", "vlas", std::make_unique<v1::Vla>()});
  kinds.push_back({"objectives", "faster", "objectives",
                   std::make_unique<v1::Objective>()});
  for (Kind& k : kinds) {
    SCOPED_TRACE(k.collection);
    const std::string name = absl::StrCat(k.collection, "/", k.id);
    HttpResult r = http_.Call("GET", absl::StrCat("/v1/", name), "", {kReader});
    ASSERT_EQ(r.status, 200) << r.body;
    std::unique_ptr<Message> got(k.prototype->New());
    ParseStrict(r.body, got.get());
    const auto* d = got->GetDescriptor();
    const auto* refl = got->GetReflection();
    EXPECT_EQ(refl->GetString(*got, d->FindFieldByName("name")), name);
    const std::string etag = refl->GetString(*got, d->FindFieldByName("etag"));

    r = http_.Call("GET", absl::StrCat("/v1/", k.collection, "?pageSize=1000"),
                   "", {kReader});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(absl::StrContains(r.body, absl::StrCat("\"", name, "\"")));

    // A stale etag: 409 ABORTED, nothing changes.
    r = http_.Call("PATCH",
                   absl::StrCat("/v1/", name, "?updateMask=displayName"),
                   R"({"displayName": "Renamed", "etag": "stale"})", {kAdmin});
    EXPECT_TRUE(IsError(r, 409, "ABORTED", "stale"));
    r = http_.Call("PATCH",
                   absl::StrCat("/v1/", name, "?updateMask=displayName"),
                   absl::StrCat(R"({"displayName": "Renamed", "etag": ")", etag,
                                R"(", "description": "ignored"})"),
                   {kAdmin});
    ASSERT_EQ(r.status, 200) << r.body;
    ParseStrict(r.body, got.get());
    EXPECT_EQ(refl->GetString(*got, d->FindFieldByName("display_name")),
              "Renamed");
    EXPECT_EQ(refl->GetString(*got, d->FindFieldByName("description")), "");
    EXPECT_EQ(refl->GetInt64(*got, d->FindFieldByName("revision")), 2);
  }
  HttpResult r =
      http_.Call("GET", "/v1/vlas/incident/revisions", "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<v1::ListVlaRevisionsResponse>(r).revisions_size(), 2);

  // Create with a request id is idempotent; Delete checks the etag.
  const std::string create = "/v1/teams?teamId=spare&requestId=req-1";
  r = http_.Call("POST", create, ToJson(testing::MakeTeam()), {kAdmin});
  ASSERT_EQ(r.status, 200) << r.body;
  const v1::Team spare = Parse<v1::Team>(r);
  r = http_.Call("POST", create, ToJson(testing::MakeTeam()), {kAdmin});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<v1::Team>(r).etag(), spare.etag());
  EXPECT_TRUE(
      IsError(http_.Call("DELETE", "/v1/teams/spare?etag=old", "", {kAdmin}),
              409, "ABORTED"));
  r = http_.Call("DELETE", absl::StrCat("/v1/teams/spare?etag=", spare.etag()),
                 "", {kAdmin});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  EXPECT_TRUE(IsError(http_.Call("GET", "/v1/teams/spare", "", {kReader}), 404,
                      "NOT_FOUND", "teams/spare"));
}

// Ingest, status, values, flow, lists, OKR status and check-in: each
// response parses strictly as its message.
TEST_F(HttpTest, EvaluationAndOkrRoutes) {
  v1::IngestRequest ingest;
  const absl::Time now = absl::Now();
  for (int i = 0; i < 3; ++i) {
    for (auto [kind, offset] :
         {std::pair{v1::EVENT_KIND_CREATED, absl::Hours(5)},
          std::pair{v1::EVENT_KIND_RESOLVED, absl::Hours(1)}}) {
      v1::WorkItemEvent* e = ingest.add_work_item_events();
      e->set_event_id(absl::StrCat("http-", i, "-", kind));
      e->set_item_id(absl::StrCat("INC-", i));
      e->set_value_stream("valueStreams/incident");
      e->set_kind(kind);
      e->mutable_time()->set_seconds(absl::ToUnixSeconds(now - offset));
    }
  }
  HttpResult r =
      http_.Call("POST", "/v1/records:ingest", ToJson(ingest), {kWriter});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<v1::IngestResponse>(r).accepted(), 6);
  EXPECT_TRUE(absl::StrContains(r.body, R"("accepted":"6")"));  // int64
  r = http_.Call("POST", "/v1/records:ingest", ToJson(ingest), {kWriter});
  EXPECT_EQ(Parse<v1::IngestResponse>(r).duplicates(), 6);

  r = http_.Call("GET", "/v1/vlas/incident/status", "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  const v1::VlaStatus status = Parse<v1::VlaStatus>(r);
  EXPECT_EQ(status.vla(), "vlas/incident");
  EXPECT_TRUE(absl::StrContains(r.body, R"("state":"COMPLIANCE_STATE_)"));
  r = http_.Call("GET", "/v1/kvis/lead-time/value?time=2026-11-20T10:00:00Z",
                 "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      Parse<v1::KviValue>(r).window_end().seconds(),
      absl::ToUnixSeconds(absl::FromCivil(
          absl::CivilSecond(2026, 11, 20, 10, 0, 0), absl::UTCTimeZone())));
  // History: the report by a short enum name, a series, the evaluations.
  r = http_.Call("GET",
                 "/v1/vlas/incident/report?period=QUARTER&timeZone=Europe/"
                 "Berlin",
                 "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  const v1::VlaReport report = Parse<v1::VlaReport>(r);
  EXPECT_EQ(report.period(), v1::CALENDAR_PERIOD_QUARTER);
  EXPECT_EQ(report.periods_size(), 6);
  EXPECT_TRUE(absl::StrContains(r.body, R"("timeInState":[{"state":)"));
  EXPECT_TRUE(IsError(
      http_.Call("GET", "/v1/vlas/incident/report?period=WEEK", "", {kReader}),
      400, "INVALID_ARGUMENT", "period"));
  r = http_.Call("GET",
                 "/v1/kvis/lead-time/series?startTime=2026-11-01T00:00:00Z&"
                 "endTime=2026-11-02T00:00:00Z&step=3600s",
                 "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<v1::KviSeries>(r).points_size(), 24);
  r = http_.Call("GET", "/v1/vlas/incident/evaluations?pageSize=5", "",
                 {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  Parse<v1::ListVlaEvaluationsResponse>(r);
  r = http_.Call("GET", "/v1/valueStreams/incident/flow?window=86400s", "",
                 {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  Parse<v1::ValueStreamFlow>(r);
  r = http_.Call("GET",
                 "/v1/vlaStatuses?filter=value_stream%20%3D%20%22valueStreams"
                 "%2Fincident%22&pageSize=10",
                 "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  Parse<v1::ListVlaStatusesResponse>(r);
  r = http_.Call("GET", "/v1/objectives/faster/status", "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<v1::ObjectiveStatus>(r).objective(), "objectives/faster");
  r = http_.Call("GET", "/v1/objectiveStatuses", "", {kReader});
  ASSERT_EQ(r.status, 200) << r.body;
  Parse<v1::ListObjectiveStatusesResponse>(r);
  r = http_.Call("POST", "/v1/objectives/faster:checkIn",
                 R"({"keyResultId": "happiness", "value": 70,
                     "confidence": 0.5, "team": "teams/business"})",
                 {kWriter});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Parse<v1::CheckIn>(r).objective(), "objectives/faster");
}

// A stream read line by line (NDJSON) and as Server-Sent Events; every
// object parses as the method's response message, whatever it is.
TEST_F(HttpTest, StreamsAsNdjsonAndSse) {
  const auto* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          "vla.v1.VmdbService.WatchChanges");
  ASSERT_NE(method, nullptr);
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          method->output_type());
  // Each line is a message: a batch of changes (api.md, "Streams carry
  // batches"); read until three changes came.
  const auto* changes_field = method->output_type()->FindFieldByName("changes");
  ASSERT_NE(changes_field, nullptr);
  int lines = 0;
  int changes = 0;
  HttpResult r = http_.Stream("/v1/changes:watch?sinceRevision=0", {kReader},
                              [&](const std::string& line) {
                                if (line.empty()) return true;  // a heartbeat
                                std::unique_ptr<Message> m(prototype->New());
                                ParseStrict(line, m.get());
                                ++lines;
                                changes += m->GetReflection()->FieldSize(
                                    *m, changes_field);
                                return changes < 3;
                              });
  EXPECT_EQ(r.status, 200) << r.curl_error;
  EXPECT_EQ(r.Header("content-type"), "application/x-ndjson");
  EXPECT_GE(lines, 1);
  EXPECT_GE(changes, 3);

  const auto* watch =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          "vla.v1.EvaluationService.WatchVlaStatuses");
  const Message* event =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          watch->output_type());
  bool complete = false;
  int events = 0;
  r = http_.Stream(
      "/v1/vlaStatuses:watch", {kReader, "Accept: text/event-stream"},
      [&](const std::string& line) {
        if (!absl::StartsWith(line, "data: ")) return true;
        std::unique_ptr<Message> m(event->New());
        ParseStrict(line.substr(6), m.get());
        ++events;
        complete = absl::StrContains(line, R"("snapshotComplete":true)");
        return !complete;
      });
  EXPECT_EQ(r.status, 200) << r.curl_error;
  EXPECT_EQ(r.Header("content-type"), "text/event-stream");
  EXPECT_TRUE(complete);
  EXPECT_GE(events, 1);

  // An error before the stream starts is a plain error answer.
  r = http_.Stream("/v1/vlaStatuses:watch?filter=watermelon%3D%3D", {kReader},
                   [](const std::string&) { return true; });
  EXPECT_TRUE(IsError(r, 400, "INVALID_ARGUMENT"));
}

// --http_max_streams=3: a fourth open stream is refused with 429; the
// others are unaffected and unary calls still have workers.
TEST_F(HttpTest, StreamLimit) {
  // Streams of earlier tests whose clients left are gone within 250 ms.
  absl::SleepFor(absl::Milliseconds(600));
  std::atomic<bool> release{false};
  std::vector<std::thread> holders;
  for (int i = 0; i < 3; ++i) {
    holders.emplace_back([&] {
      HttpClient client(base_);
      client.Stream(
          "/v1/changes:watch", {kReader},
          [&](const std::string&) { return !release.load(); },
          /*timeout_ms=*/1500);
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  const HttpResult r = http_.Stream("/v1/changes:watch", {kReader},
                                    [](const std::string&) { return true; });
  EXPECT_TRUE(IsError(r, 429, "RESOURCE_EXHAUSTED", "--http_max_streams"));
  EXPECT_EQ(http_.Call("GET", "/v1/teams", "", {kReader}).status, 200);
  release = true;
  for (std::thread& t : holders) t.join();
}

// Every documented error status, each in Google's JSON error shape.
TEST_F(HttpTest, ErrorStatuses) {
  EXPECT_TRUE(
      IsError(http_.Call("POST", "/v1/teams?teamId=x", "{bad", {kAdmin}), 400,
              "INVALID_ARGUMENT", "body"));
  EXPECT_TRUE(
      IsError(http_.Call("GET", "/v1/teams?pageSize=many", "", {kReader}), 400,
              "INVALID_ARGUMENT", "page_size"));
  EXPECT_TRUE(IsError(http_.Call("GET", "/v1/teams?colour=red", "", {kReader}),
                      400, "INVALID_ARGUMENT", "query parameter colour"));
  EXPECT_TRUE(
      IsError(http_.Call("POST", "/v1/teams?teamId=x",
                         R"({"displayName": "X", "shoeSize": 3})", {kAdmin}),
              400, "INVALID_ARGUMENT", "shoeSize"));
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/teams?teamId=Bad_Id",
                                 ToJson(testing::MakeTeam()), {kAdmin}),
                      400, "INVALID_ARGUMENT", "team_id"));
  EXPECT_TRUE(IsError(http_.Call("DELETE", "/v1/teams/business", "", {kAdmin}),
                      400, "FAILED_PRECONDITION", "still used"));
  EXPECT_TRUE(
      IsError(http_.Call("GET", "/v1/teams", ""), 401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(
      http_.Call("GET", "/v1/teams", "", {"Authorization: Bearer nope"}), 401,
      "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/teams?teamId=x",
                                 ToJson(testing::MakeTeam()), {kReader}),
                      403, "PERMISSION_DENIED", "grafana"));
  EXPECT_TRUE(IsError(http_.Call("GET", "/v1/teams/nobody", "", {kReader}), 404,
                      "NOT_FOUND", "teams/nobody"));
  EXPECT_TRUE(IsError(http_.Call("GET", "/v1/nothing/here", "", {kReader}), 404,
                      "NOT_FOUND", "no route"));
  const HttpResult put =
      http_.Call("PUT", "/v1/teams/business", "{}", {kAdmin});
  EXPECT_TRUE(IsError(put, 405, "UNIMPLEMENTED"));
  EXPECT_EQ(put.Header("allow"), "GET, PATCH, DELETE");
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/teams?teamId=business",
                                 ToJson(testing::MakeTeam()), {kAdmin}),
                      409, "ALREADY_EXISTS"));
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/records:ingest",
                                 std::string(70000, ' '), {kWriter}),
                      413, "RESOURCE_EXHAUSTED", "--http_max_body_bytes"));
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/records:ingest", "x=1",
                                 {kWriter, "Content-Type: text/plain"}),
                      415, "INVALID_ARGUMENT", "text/plain"));
  // The connection survives all of that (keep-alive).
  EXPECT_EQ(http_.Call("GET", "/v1/teams", "", {kReader}).status, 200);
}

// Each role over HTTP is the gRPC role: the same token table.
TEST_F(HttpTest, RolesAndRequestIds) {
  const std::string team = ToJson(testing::MakeTeam());
  EXPECT_EQ(http_.Call("GET", "/v1/vlas", "", {kReader}).status, 200);
  EXPECT_EQ(http_.Call("POST", "/v1/records:ingest", "{}", {kReader}).status,
            403);
  EXPECT_EQ(http_.Call("POST", "/v1/records:ingest", "{}", {kWriter}).status,
            200);
  EXPECT_EQ(http_.Call("POST", "/v1/teams?teamId=w", team, {kWriter}).status,
            403);
  EXPECT_EQ(http_.Call("POST", "/v1/teams?teamId=roles", team, {kAdmin}).status,
            200);
  const HttpResult r = http_.Call("GET", "/v1/teams/roles", "",
                                  {kReader, "X-Request-Id: abc-1"});
  EXPECT_EQ(r.Header("x-request-id"), "abc-1");
}

TEST_F(HttpTest, JiraWebhook) {
  const auto deliver = [&](const std::string& body,
                           const std::string& signature) {
    return http_.Call("POST", "/v1/webhooks/jira", body,
                      {absl::StrCat("X-Hub-Signature: ", signature)});
  };
  const auto sign = [](const std::string& body) {
    return absl::StrCat("sha256=", HmacHex(kJiraSecret, body));
  };
  const std::string created = Webhook("jira_issue_created.json");
  const std::string updated = Webhook("jira_issue_updated.json");
  // A bad signature stores nothing.
  EXPECT_TRUE(IsError(deliver(updated, sign(created)), 401, "UNAUTHENTICATED",
                      "X-Hub-Signature"));
  EXPECT_TRUE(IsError(deliver(updated, ""), 401, "UNAUTHENTICATED"));
  HttpResult r = deliver(created, sign(created));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            R"({"events":2,"accepted":"2","duplicates":"0","ignored":""})");
  // Three changelog items: two events.
  r = deliver(updated, sign(updated));
  EXPECT_EQ(r.body,
            R"({"events":2,"accepted":"2","duplicates":"0","ignored":""})");
  // Jira retries a delivery: counted once.
  r = deliver(updated, sign(updated));
  EXPECT_EQ(r.body,
            R"({"events":2,"accepted":"0","duplicates":"2","ignored":""})");
  const std::string comment = Webhook("jira_comment_created.json");
  r = deliver(comment, sign(comment));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(absl::StrContains(r.body, "is not an issue event")) << r.body;
  const std::string broken = "{\"webhookEvent\": ";
  EXPECT_TRUE(IsError(deliver(broken, sign(broken)), 400, "INVALID_ARGUMENT",
                      "not valid JSON"));
  // An unknown value stream: every event rejected, nothing half-stored.
  r = http_.Call("POST", "/v1/webhooks/jira?valueStream=nowhere", created,
                 {absl::StrCat("X-Hub-Signature: ", sign(created))});
  EXPECT_TRUE(IsError(r, 400, "INVALID_ARGUMENT", "2 of 2 events rejected"));
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/webhooks/gitlab", "{}"), 404,
                      "NOT_FOUND"));
  EXPECT_TRUE(IsError(http_.Call("GET", "/v1/webhooks/jira", ""), 405,
                      "UNIMPLEMENTED"));
}

TEST_F(HttpTest, ServiceNowWebhook) {
  const std::string token = absl::StrCat("X-VLA-Webhook-Token: ", kSnowSecret);
  const std::string insert = Webhook("servicenow_insert.json");
  EXPECT_TRUE(IsError(http_.Call("POST", "/v1/webhooks/servicenow", insert,
                                 {"X-VLA-Webhook-Token: guess"}),
                      401, "UNAUTHENTICATED"));
  HttpResult r = http_.Call("POST", "/v1/webhooks/servicenow", insert, {token});
  EXPECT_EQ(r.body,
            R"({"events":2,"accepted":"2","duplicates":"0","ignored":""})");
  for (const char* name :
       {"servicenow_update_assigned.json", "servicenow_update_resolved.json"}) {
    r = http_.Call("POST", "/v1/webhooks/servicenow", Webhook(name), {token});
    EXPECT_EQ(r.status, 200) << name << ": " << r.body;
    EXPECT_TRUE(absl::StrContains(r.body, R"("duplicates":"0")")) << r.body;
  }
  r = http_.Call("POST", "/v1/webhooks/servicenow", insert, {token});
  EXPECT_EQ(r.body,
            R"({"events":2,"accepted":"0","duplicates":"2","ignored":""})");
}

// The OpenAPI document lists every route of every annotated method.
// `data` from the gzip format ("" if it is not).
std::string Gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return "";
  std::string out;
  char buffer[1 << 14];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int result = Z_OK;
  while (result == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    result = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - z.avail_out);
  }
  inflateEnd(&z);
  return result == Z_STREAM_END ? out : "";
}

// A large answer is gzipped when the client accepts gzip, and never
// compressed with brotli (cpp-httplib's choice at its slowest quality,
// whenever a client, e.g. Chromium, lists "br"); a small one goes as it is.
TEST_F(HttpTest, LargeAnswersAreGzippedNeverBrotli) {
  const HttpResult plain = http_.Call("GET", "/v1/openapi.json");
  ASSERT_EQ(plain.status, 200);
  ASSERT_GT(plain.body.size(), 1024u);
  EXPECT_EQ(plain.Header("content-encoding"), "");
  const HttpResult gz = http_.Call("GET", "/v1/openapi.json", "",
                                   {"Accept-Encoding: br, gzip, deflate"});
  ASSERT_EQ(gz.status, 200);
  EXPECT_EQ(gz.Header("content-encoding"), "gzip");
  EXPECT_EQ(gz.Header("vary"), "Accept-Encoding");
  EXPECT_LT(gz.body.size(), plain.body.size() / 3);
  EXPECT_EQ(Gunzip(gz.body), plain.body);
  const HttpResult br =
      http_.Call("GET", "/v1/openapi.json", "", {"Accept-Encoding: br"});
  ASSERT_EQ(br.status, 200);
  EXPECT_EQ(br.Header("content-encoding"), "");
  EXPECT_EQ(br.body, plain.body);
  // An error (small) is never compressed, whatever is accepted.
  const HttpResult missing = http_.Call("GET", "/v1/teams/nope", "",
                                        {kAdmin, "Accept-Encoding: gzip, br"});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Header("content-encoding"), "");
  EXPECT_NE(missing.body.find("NOT_FOUND"), std::string::npos) << missing.body;
}

TEST_F(HttpTest, OpenApiListsEveryRoute) {
  const HttpResult r = http_.Call("GET", "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  google::protobuf::Struct doc;
  ParseStrict(r.body, &doc);
  const auto& paths = doc.fields().at("paths").struct_value().fields();
  int routes = 0;
  for (const char* service : {"vla.v1.VmdbService", "vla.v1.EvaluationService",
                              "vla.v1.OkrStatusService"}) {
    const auto* d =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service);
    ASSERT_NE(d, nullptr);
    for (int i = 0; i < d->method_count(); ++i) {
      const auto* m = d->method(i);
      if (!m->options().HasExtension(google::api::http)) {
        // Only the bidirectional Ingest: IngestBatch is its HTTP form.
        EXPECT_EQ(m->name(), "Ingest");
        continue;
      }
      const auto& rule = m->options().GetExtension(google::api::http);
      std::string verb, path;
      if (rule.has_get()) verb = "get", path = rule.get();
      if (rule.has_post()) verb = "post", path = rule.post();
      if (rule.has_patch()) verb = "patch", path = rule.patch();
      if (rule.has_delete_()) verb = "delete", path = rule.delete_();
      // {name=teams/*} -> teams/{name}
      std::string open_api;
      for (size_t i = 0; i < path.size(); ++i) {
        if (path[i] != '{') {
          open_api += path[i];
          continue;
        }
        const size_t end = path.find('}', i);
        const std::vector<std::string> parts =
            absl::StrSplit(path.substr(i + 1, end - i - 1), '=');
        std::string pattern = parts.size() > 1 ? parts[1] : "*";
        pattern.replace(pattern.find('*'), 1, absl::StrCat("{", parts[0], "}"));
        open_api += pattern;
        i = end;
      }
      ASSERT_TRUE(paths.count(open_api)) << m->full_name() << " " << open_api;
      EXPECT_TRUE(paths.at(open_api).struct_value().fields().count(verb))
          << m->full_name();
      ++routes;
    }
  }
  // Every operation is a route or one of the three extra paths.
  int operations = 0;
  for (const auto& [path, methods] : paths) {
    operations += methods.struct_value().fields_size();
  }
  EXPECT_EQ(operations, routes + 3);
  EXPECT_TRUE(paths.count("/v1/webhooks/jira"));
}

// TLS from the gRPC port's files, and a graceful shutdown with an HTTP
// stream open: the stream's last line says UNAVAILABLE, vlad exits 0.
TEST(HttpTlsTest, TlsAndGracefulShutdown) {
  TempDir dir;
  const testing::KeyCert ca = testing::MakeCa("ca");
  const testing::KeyCert server = testing::MakeLeaf(ca, "vlad");
  testing::WriteFileAtomically(dir.File("tls.crt"), server.cert_pem);
  testing::WriteFileAtomically(dir.File("tls.key"), server.key_pem);
  testing::WriteFileAtomically(dir.File("ca.crt"), ca.cert_pem);
  // TLS on both ports (VladProcess checks health in plaintext, so this
  // test starts vlad itself).
  const std::string port_file = dir.File("port");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen(dir.File("vlad.log").c_str(), "a", stderr);
    const std::string args[] = {
        absl::StrCat("--data_dir=", dir.path()),
        absl::StrCat("--port_file=", port_file),
        absl::StrCat("--tls_cert=", dir.File("tls.crt")),
        absl::StrCat("--tls_key=", dir.File("tls.key"))};
    execl(VLAD_PATH, VLAD_PATH, "--listen=127.0.0.1:0",
          "--http_listen=127.0.0.1:0", "--shutdown_grace=2s",
          "--http_keep_alive_timeout=1s", args[0].c_str(), args[1].c_str(),
          args[2].c_str(), args[3].c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0, http_port = 0;
  for (int i = 0; i < 200 && http_port == 0; ++i) {
    std::ifstream in(port_file);
    if (!(in >> port >> http_port)) {
      http_port = 0;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  ASSERT_GT(http_port, 0) << ReadFile(dir.File("vlad.log"));
  const std::string base = absl::StrCat("https://localhost:", http_port);
  HttpClient https(base, {dir.File("ca.crt"), "", ""});
  HttpResult r;
  for (int i = 0; i < 50 && r.status != 200; ++i) {
    r = https.Call("GET", "/v1/teams");
    if (r.status != 200) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(r.status, 200) << r.body << r.curl_error;
  // Plain HTTP on the TLS port gets no answer.
  HttpClient plain(absl::StrCat("http://127.0.0.1:", http_port));
  EXPECT_NE(plain.Call("GET", "/v1/teams").status, 200);

  std::string last;
  std::thread stream([&] {
    HttpClient client(base, {dir.File("ca.crt"), "", ""});
    client.Stream("/v1/vlaStatuses:watch", {}, [&](const std::string& line) {
      if (!line.empty()) last = line;
      return true;
    });
  });
  absl::SleepFor(absl::Milliseconds(500));
  kill(pid, SIGTERM);
  stream.join();
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(absl::StrContains(last, R"("status":"UNAVAILABLE")")) << last;
}

// A webhook config that does not parse stops vlad at start, naming the
// line; the secret is not in the message.
TEST(HttpConfigTest, BadWebhookConfigStopsVladNamingTheLine) {
  TempDir dir;
  std::ofstream(dir.File("webhooks.conf"))
      << "[jira]\nsecret = hush-hush\nstatus Review = sleeping\n";
  const std::string command = absl::StrCat(
      VLAD_PATH,
      " --listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --data_dir=", dir.path(),
      " --webhook_config=", dir.File("webhooks.conf"), " 2>&1");
  FILE* out = popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string log;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), out)) > 0;) log.append(buf, n);
  const int status = pclose(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_TRUE(absl::StrContains(log, "webhooks.conf:3: phase \\\"sleeping\\\""))
      << log;
  EXPECT_FALSE(absl::StrContains(log, "hush-hush"));
}

}  // namespace
}  // namespace vla
