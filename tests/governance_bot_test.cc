// The governance bot: its transition logic (pure), its webhook against a
// local HTTP receiver, and the real `vla-governance-bot` binary against the
// real `vlad` binary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "clients/bot/transitions.h"
#include "clients/bot/webhook.h"
#include "clients/lib/client.h"
#include "clients/lib/flags.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"

namespace vla::bot {
namespace {

using testing::Ctx;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::TempDir;

// --- The transition logic ---------------------------------------------------

v1::VlaStatus Vla(v1::ComplianceState state, bool watermelon = false,
                  bool disputed = false) {
  v1::VlaStatus s;
  s.set_vla("vlas/incident");
  s.set_state(state);
  s.set_watermelon(watermelon);
  s.set_disputed(disputed);
  s.set_sla_value(0.95);
  s.set_explanation("why");
  if (disputed) {
    auto* c = s.add_clauses();
    c->set_kvi("kvis/happiness");
    c->set_state(v1::CLAUSE_STATE_DISPUTED);
  }
  return s;
}

v1::ObjectiveStatus Objective(v1::OkrStatus status) {
  v1::ObjectiveStatus s;
  s.set_objective("objectives/faster");
  s.set_status(status);
  s.set_score(0.25);
  s.set_expected_progress(0.5);
  auto* kr = s.add_key_results();
  kr->set_id("ping-pong");
  kr->set_status(status);
  kr->set_has_value(true);
  kr->set_progress(0.25);
  auto* fine = s.add_key_results();
  fine->set_id("happiness");
  fine->set_status(v1::OKR_STATUS_ON_TRACK);
  return s;
}

TEST(TransitionsTest, VlaBecomingBreached) {
  const v1::VlaStatus at_risk = Vla(v1::COMPLIANCE_STATE_AT_RISK);
  const v1::VlaStatus breached = Vla(v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_THAT(VlaTransitions(&at_risk, breached),
              ElementsAre("VLA vlas/incident BREACHED (was AT_RISK): why"));
  EXPECT_THAT(VlaTransitions(nullptr, breached),
              ElementsAre("VLA vlas/incident BREACHED (was unknown): why"));
  // Staying breached, improving, or getting worse short of BREACHED: quiet.
  EXPECT_THAT(VlaTransitions(&breached, breached), IsEmpty());
  EXPECT_THAT(VlaTransitions(&breached, at_risk), IsEmpty());
  const v1::VlaStatus met = Vla(v1::COMPLIANCE_STATE_MET);
  EXPECT_THAT(VlaTransitions(&met, at_risk), IsEmpty());
}

TEST(TransitionsTest, NewWatermelonAndNewDispute) {
  const v1::VlaStatus at_risk = Vla(v1::COMPLIANCE_STATE_AT_RISK);
  const v1::VlaStatus melon = Vla(v1::COMPLIANCE_STATE_AT_RISK, true);
  EXPECT_THAT(VlaTransitions(&at_risk, melon),
              ElementsAre("VLA vlas/incident is a watermelon: the SLA is met "
                          "(0.95) while the VLA is AT_RISK: why"));
  EXPECT_THAT(VlaTransitions(&melon, melon), IsEmpty());
  const v1::VlaStatus disputed =
      Vla(v1::COMPLIANCE_STATE_MET, false, /*disputed=*/true);
  EXPECT_THAT(VlaTransitions(&at_risk, disputed),
              ElementsAre("VLA vlas/incident is disputed: co-measurement "
                          "disagrees on kvis/happiness: why"));
  EXPECT_THAT(VlaTransitions(&disputed, disputed), IsEmpty());
  // All three at once, in a fixed order.
  const v1::VlaStatus all = Vla(v1::COMPLIANCE_STATE_BREACHED, true, true);
  const auto messages = VlaTransitions(&at_risk, all);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_THAT(messages[0], HasSubstr("BREACHED (was AT_RISK)"));
  EXPECT_THAT(messages[1], HasSubstr("watermelon"));
  EXPECT_THAT(messages[2], HasSubstr("disputed"));
}

TEST(TransitionsTest, ObjectiveBecomingAtRiskOffTrackOrMissed) {
  const v1::ObjectiveStatus on_track = Objective(v1::OKR_STATUS_ON_TRACK);
  const v1::ObjectiveStatus off = Objective(v1::OKR_STATUS_OFF_TRACK);
  EXPECT_THAT(
      ObjectiveTransitions(&on_track, off),
      ElementsAre("Objective objectives/faster OFF_TRACK (was ON_TRACK): "
                  "score 0.25, expected 0.50; key results: ping-pong "
                  "OFF_TRACK (progress 0.25)"));
  const v1::ObjectiveStatus at_risk = Objective(v1::OKR_STATUS_AT_RISK);
  EXPECT_THAT(ObjectiveTransitions(&off, at_risk),
              ElementsAre(HasSubstr("AT_RISK (was OFF_TRACK)")));
  EXPECT_THAT(ObjectiveTransitions(&off, Objective(v1::OKR_STATUS_MISSED)),
              ElementsAre(HasSubstr("MISSED (was OFF_TRACK)")));
  EXPECT_THAT(ObjectiveTransitions(&off, off), IsEmpty());
  EXPECT_THAT(ObjectiveTransitions(&off, on_track), IsEmpty());
  EXPECT_THAT(
      ObjectiveTransitions(&on_track, Objective(v1::OKR_STATUS_ACHIEVED)),
      IsEmpty());
}

TEST(TransitionTrackerTest, TheFirstSnapshotIsTheBaseline) {
  TransitionTracker t;
  EXPECT_THAT(t.OnVlaSnapshot({Vla(v1::COMPLIANCE_STATE_BREACHED, true)},
                              /*report_unknown=*/false),
              IsEmpty());
  EXPECT_THAT(t.OnObjective(Objective(v1::OKR_STATUS_OFF_TRACK), false),
              IsEmpty());
  EXPECT_EQ(t.vlas(), 1u);
  EXPECT_EQ(t.objectives(), 1u);
  // Changes after it are reported once.
  EXPECT_THAT(t.OnVla(Vla(v1::COMPLIANCE_STATE_MET), true), IsEmpty());
  EXPECT_THAT(t.OnVla(Vla(v1::COMPLIANCE_STATE_BREACHED), true),
              ElementsAre(HasSubstr("BREACHED (was MET)")));
  EXPECT_THAT(t.OnVla(Vla(v1::COMPLIANCE_STATE_BREACHED), true), IsEmpty());
  EXPECT_THAT(t.OnObjective(Objective(v1::OKR_STATUS_AT_RISK), true),
              ElementsAre(HasSubstr("AT_RISK (was OFF_TRACK)")));
  // An objective never seen before, outside the baseline.
  v1::ObjectiveStatus other = Objective(v1::OKR_STATUS_AT_RISK);
  other.set_objective("objectives/other");
  EXPECT_THAT(t.OnObjective(other, true),
              ElementsAre(HasSubstr("objectives/other AT_RISK (was unknown)")));
}

TEST(TransitionTrackerTest, ASnapshotAfterAReconnectReportsWhatWasMissed) {
  TransitionTracker t;
  v1::VlaStatus other = Vla(v1::COMPLIANCE_STATE_MET);
  other.set_vla("vlas/other");
  v1::VlaStatus gone = Vla(v1::COMPLIANCE_STATE_MET);
  gone.set_vla("vlas/gone");
  t.OnVlaSnapshot({Vla(v1::COMPLIANCE_STATE_AT_RISK), other, gone}, false);
  // While disconnected: incident breached, other unchanged, gone missing,
  // and a new VLA appeared already breached.
  v1::VlaStatus fresh = Vla(v1::COMPLIANCE_STATE_BREACHED);
  fresh.set_vla("vlas/fresh");
  EXPECT_THAT(
      t.OnVlaSnapshot({Vla(v1::COMPLIANCE_STATE_BREACHED), other, fresh}, true),
      ElementsAre("VLA vlas/incident BREACHED (was AT_RISK): why",
                  "VLA vlas/fresh BREACHED (was unknown): why"));
  EXPECT_EQ(t.vlas(), 4u);
  // A VLA missing from a snapshot (a restarted server that has not evaluated
  // it yet) is not reported again when it reappears unchanged.
  EXPECT_THAT(t.OnVlaSnapshot({other}, true), IsEmpty());
  EXPECT_THAT(t.OnVla(Vla(v1::COMPLIANCE_STATE_BREACHED), true), IsEmpty());
  // The same snapshot again (another reconnect): nothing new.
  EXPECT_THAT(
      t.OnVlaSnapshot({Vla(v1::COMPLIANCE_STATE_BREACHED), other, fresh}, true),
      IsEmpty());
  t.RemoveVla("vlas/fresh");
  EXPECT_EQ(t.vlas(), 3u);
}

TEST(RedListTest, ListsEveryRedThingAndNothingElse) {
  v1::VlaStatus met = Vla(v1::COMPLIANCE_STATE_MET);
  met.set_vla("vlas/fine");
  v1::VlaStatus disputed = Vla(v1::COMPLIANCE_STATE_MET, false, true);
  disputed.set_vla("vlas/disputed");
  v1::ObjectiveStatus achieved = Objective(v1::OKR_STATUS_ACHIEVED);
  achieved.set_objective("objectives/done");
  EXPECT_THAT(
      RedList({Objective(v1::OKR_STATUS_MISSED), achieved},
              {Vla(v1::COMPLIANCE_STATE_BREACHED, true), met, disputed}),
      ElementsAre(HasSubstr("Objective objectives/faster MISSED: score 0.25"),
                  "VLA vlas/incident BREACHED, watermelon: why",
                  "VLA vlas/disputed MET, disputed on kvis/happiness: why"));
  EXPECT_THAT(RedList({achieved}, {met}), IsEmpty());
}

// --- A tiny HTTP/1.1 receiver
// -------------------------------------------------

// Accepts connections on 127.0.0.1:0 in a thread, one request each, records
// it and answers `status`.
class HttpReceiver {
 public:
  struct Request {
    std::string method, path, content_type, body;
  };

  explicit HttpReceiver(int status = 200) : status_(status) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~HttpReceiver() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }

  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/hook");
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    for (;;) {
      const int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) return;  // shut down
      Handle(conn);
      close(conn);
    }
  }

  void Handle(int conn) {
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = read(conn, buf, sizeof(buf));
      if (n <= 0) return;
      data.append(buf, n);
    }
    Request req;
    size_t content_length = 0;
    const std::vector<std::string> lines =
        absl::StrSplit(data.substr(0, header_end), "\r\n");
    const std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    req.method = first[0];
    req.path = first.size() > 1 ? first[1] : "";
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      const std::string value(
          absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "content-length") {
        EXPECT_TRUE(absl::SimpleAtoi(value, &content_length));
      }
      if (name == "content-type") req.content_type = value;
    }
    req.body = data.substr(header_end + 4);
    while (req.body.size() < content_length) {
      const ssize_t n = read(conn, buf, sizeof(buf));
      if (n <= 0) return;
      req.body.append(buf, n);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(std::move(req));
    }
    const std::string answer =
        absl::StrCat("HTTP/1.1 ", status_, " X\r\nContent-Length: 2\r\n",
                     "Connection: close\r\n\r\nok");
    (void)!write(conn, answer.data(), answer.size());
  }

  const int status_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Request> requests_;
};

TEST(WebhookTest, PostsTheTextAsJson) {
  HttpReceiver receiver;
  ASSERT_TRUE(PostWebhook(receiver.url(), "VLA \"x\" BREACHED\n").ok());
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/hook");
  EXPECT_EQ(requests[0].content_type, "application/json");
  EXPECT_EQ(requests[0].body, R"({"text":"VLA \"x\" BREACHED\n"})");
}

TEST(WebhookTest, FailuresNameTheUrl) {
  HttpReceiver refusing(500);
  EXPECT_THAT(PostWebhook(refusing.url(), "x"),
              testing::AbslIsCodeWith(absl::StatusCode::kUnavailable,
                                      "HTTP status 500"));
  std::string closed;
  {
    HttpReceiver gone;
    closed = gone.url();
  }
  EXPECT_THAT(PostWebhook(closed, "x", absl::Seconds(2)),
              testing::AbslIsCodeWith(absl::StatusCode::kUnavailable, closed));
}

// --- The real binary against the real server --------------------------------

constexpr int64_t kDay = 86400;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// `vla-governance-bot args...` with stdout and stderr in files.
class BotProcess {
 public:
  BotProcess(const TempDir& dir, std::vector<std::string> args)
      : out_(dir.File("bot.out")), err_(dir.File("bot.err")) {
    pid_ = fork();
    if (pid_ == 0) {
      const int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv = {const_cast<char*>(BOT_PATH)};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(BOT_PATH, argv.data());
      _exit(127);
    }
  }
  ~BotProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Waits for the exit (after `sig`, if not 0); the exit code, or -1.
  int Wait(int sig = 0) {
    if (sig != 0) kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string out() const { return ReadAll(out_); }
  std::string err() const { return ReadAll(err_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
};

class BotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vlad_.Start().ok());
    options_.address = vlad_.address();
    auto channel = client::MakeChannel(options_);
    ASSERT_TRUE(channel.ok());
    channel_ = *channel;
    vmdb_ = v1::VmdbService::NewStub(channel_);
    evaluation_ = v1::EvaluationService::NewStub(channel_);
    okr_ = v1::OkrStatusService::NewStub(channel_);
    ASSERT_NO_FATAL_FAILURE(Define());
  }

  // Teams, a value stream, KVIs for happiness and SLA compliance, a VLA on
  // happiness linked to the SLA, and an objective with a manual key result.
  void Define() {
    for (auto [id, kind] : {std::pair{"business", v1::TEAM_KIND_CONSUMER},
                            std::pair{"desk", v1::TEAM_KIND_PROVIDER}}) {
      v1::CreateTeamRequest req;
      req.set_team_id(id);
      *req.mutable_team() = testing::MakeTeam(kind);
      v1::Team out;
      VLA_ASSERT_OK(vmdb_->CreateTeam(Ctx().get(), req, &out));
    }
    v1::CreateValueStreamRequest vs;
    vs.set_value_stream_id("incident");
    *vs.mutable_value_stream() =
        testing::MakeValueStream("teams/business", {"teams/desk"});
    v1::ValueStream vs_out;
    VLA_ASSERT_OK(vmdb_->CreateValueStream(Ctx().get(), vs, &vs_out));
    for (const char* signal : {"happiness", "sla"}) {
      v1::CreateKviRequest req;
      req.set_kvi_id(signal);
      v1::Kvi* k = req.mutable_kvi();
      k->set_display_name(signal);
      k->set_value_stream("valueStreams/incident");
      k->set_source(v1::SOURCE_OBSERVATIONS);
      k->set_signal(signal);
      k->set_aggregation(v1::AGGREGATION_MEAN);
      k->mutable_window()->mutable_rolling()->set_seconds(30 * kDay);
      k->set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
      v1::Kvi out;
      VLA_ASSERT_OK(vmdb_->CreateKvi(Ctx().get(), req, &out));
    }
    v1::CreateVlaRequest vla;
    vla.set_vla_id("incident");
    v1::Vla* v = vla.mutable_vla();
    v->set_value_stream("valueStreams/incident");
    v->set_consumer("teams/business");
    v->add_providers("teams/desk");
    v1::Clause* c = v->add_clauses();
    c->set_kvi("kvis/happiness");
    c->set_target(70);
    c->set_warning(50);
    v->mutable_sla()->set_kvi("kvis/sla");
    v->mutable_sla()->set_target(0.9);
    v->set_state(v1::VLA_STATE_ACTIVE);
    v1::Vla vla_out;
    VLA_ASSERT_OK(vmdb_->CreateVla(Ctx().get(), vla, &vla_out));
    v1::CreateObjectiveRequest obj;
    obj.set_objective_id("faster");
    *obj.mutable_objective() =
        testing::MakeManualObjective("teams/desk", now_, "ping-pong", 14, 5);
    v1::Objective obj_out;
    VLA_ASSERT_OK(vmdb_->CreateObjective(Ctx().get(), obj, &obj_out));
    // Both statuses exist (NO_DATA) before the bot starts.
    ASSERT_TRUE(testing::Eventually([&] {
      v1::ListVlaStatusesResponse resp;
      return evaluation_->ListVlaStatuses(Ctx().get(), {}, &resp).ok() &&
             resp.statuses_size() == 1;
    }));
    ASSERT_TRUE(testing::Eventually([&] {
      v1::ListObjectiveStatusesResponse resp;
      return okr_->ListObjectiveStatuses(Ctx().get(), {}, &resp).ok() &&
             resp.statuses_size() == 1;
    }));
  }

  // Mean happiness `value`, SLA compliance 1 (met): BREACHED and a
  // watermelon when value < 50.
  void Ingest(const std::string& id, double happiness) {
    v1::IngestRequest req;
    v1::Observation* h = req.add_observations();
    h->set_event_id(absl::StrCat("h-", id));
    h->set_signal("happiness");
    h->mutable_time()->set_seconds(now_ - 3600);
    h->set_value(happiness);
    h->set_value_stream("valueStreams/incident");
    v1::Observation* s = req.add_observations();
    *s = *h;
    s->set_event_id(absl::StrCat("s-", id));
    s->set_signal("sla");
    s->set_value(1);
    v1::IngestResponse resp;
    VLA_ASSERT_OK(
        client::CallWithRetry(options_, {}, [&](grpc::ClientContext* ctx) {
          return evaluation_->IngestBatch(ctx, req, &resp);
        }));
    ASSERT_EQ(resp.accepted(), 2);
  }

  // Progress (14 - value) / 9 against expected 0.5.
  void CheckIn(double value) {
    v1::RecordCheckInRequest req;
    req.set_objective("objectives/faster");
    req.set_key_result_id("ping-pong");
    req.set_value(value);
    req.set_confidence(0.5);
    req.set_team("teams/desk");
    v1::CheckIn out;
    // Retried: the first call after a restart of vlad may be UNAVAILABLE.
    VLA_ASSERT_OK(
        client::CallWithRetry(options_, {}, [&](grpc::ClientContext* ctx) {
          return okr_->RecordCheckIn(ctx, req, &out);
        }));
  }

  std::vector<std::string> Texts(HttpReceiver& receiver) {
    std::vector<std::string> out;
    for (const auto& r : receiver.requests()) out.push_back(r.body);
    return out;
  }

  const int64_t now_ = absl::ToUnixSeconds(absl::Now());
  TempDir dir_;
  testing::VladProcess vlad_{VLAD_PATH, dir_.path()};
  client::ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmdbService::Stub> vmdb_;
  std::unique_ptr<v1::EvaluationService::Stub> evaluation_;
  std::unique_ptr<v1::OkrStatusService::Stub> okr_;
};

TEST_F(BotTest, PrintsAndPostsTransitionsAndSurvivesARestart) {
  HttpReceiver receiver;
  TempDir bot_dir;
  BotProcess bot(bot_dir,
                 {absl::StrCat("--server=", vlad_.address()),
                  absl::StrCat("--webhook_url=", receiver.url()),
                  absl::StrCat("--state_file=", bot_dir.File("state"))});
  // Both baselines taken: nothing reported for them.
  ASSERT_TRUE(testing::Eventually([&] {
    return Count(bot.err(), "\"watching\"") >= 2;
  })) << bot.err();
  EXPECT_EQ(bot.out(), "");

  ASSERT_NO_FATAL_FAILURE(Ingest("1", 30));
  ASSERT_NO_FATAL_FAILURE(CheckIn(14));  // progress 0: OFF_TRACK
  const std::string breached = "VLA vlas/incident BREACHED (was NO_DATA): ";
  const std::string melon = "VLA vlas/incident is a watermelon: the SLA is met";
  const std::string off_track =
      "Objective objectives/faster OFF_TRACK (was NO_DATA): ";
  ASSERT_TRUE(testing::Eventually([&] {
    const std::string out = bot.out();
    return Count(out, breached) == 1 && Count(out, melon) == 1 &&
           Count(out, off_track) == 1;
  })) << bot.out();
  ASSERT_TRUE(
      testing::Eventually([&] { return receiver.requests().size() >= 3; }));
  for (const auto& r : receiver.requests()) {
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_TRUE(absl::StartsWith(r.body, "{\"text\":\"")) << r.body;
  }
  const std::vector<std::string> texts = Texts(receiver);
  EXPECT_EQ(Count(absl::StrJoin(texts, "\n"), breached), 1);
  EXPECT_EQ(Count(absl::StrJoin(texts, "\n"), off_track), 1);
  EXPECT_FALSE(ReadAll(bot_dir.File("state")).empty());

  // The server is killed and restarted: the bot reconnects, reports nothing
  // twice, and still reports what changes next.
  vlad_.Kill();
  ASSERT_TRUE(vlad_.Start().ok());
  ASSERT_TRUE(testing::Eventually([&] {
    return Count(bot.err(), "\"watching\"") >= 4;
  })) << bot.err();
  ASSERT_NO_FATAL_FAILURE(CheckIn(9.5));  // progress 0.5: ON_TRACK, quiet
  ASSERT_TRUE(testing::Eventually([&] {
    v1::GetObjectiveStatusRequest req;
    req.set_objective("objectives/faster");
    v1::ObjectiveStatus s;
    return okr_->GetObjectiveStatus(Ctx().get(), req, &s).ok() &&
           s.status() == v1::OKR_STATUS_ON_TRACK;
  }));
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_NO_FATAL_FAILURE(CheckIn(13));
  const std::string again =
      "Objective objectives/faster OFF_TRACK (was ON_TRACK): ";
  ASSERT_TRUE(testing::Eventually([&] { return Count(bot.out(), again) == 1; }))
      << bot.out();
  const std::string out = bot.out();
  EXPECT_EQ(Count(out, breached), 1) << out;
  EXPECT_EQ(Count(out, melon), 1) << out;
  EXPECT_EQ(Count(out, off_track), 1) << out;
  EXPECT_EQ(Count(out, "\n"), 4) << out;
  EXPECT_EQ(bot.Wait(SIGTERM), 0);
}

TEST_F(BotTest, OncePrintsTheRedList) {
  {
    TempDir bot_dir;
    BotProcess bot(bot_dir,
                   {absl::StrCat("--server=", vlad_.address()), "--once"});
    EXPECT_EQ(bot.Wait(), 0);
    EXPECT_EQ(bot.out(), "All clear: no objective or VLA is red.\n");
  }
  ASSERT_NO_FATAL_FAILURE(Ingest("1", 30));
  ASSERT_NO_FATAL_FAILURE(CheckIn(14));
  ASSERT_TRUE(testing::Eventually([&] {
    v1::ListVlaStatusesRequest req;
    req.set_filter("state = BREACHED");
    v1::ListVlaStatusesResponse resp;
    v1::GetObjectiveStatusRequest oreq;
    oreq.set_objective("objectives/faster");
    v1::ObjectiveStatus o;
    return evaluation_->ListVlaStatuses(Ctx().get(), req, &resp).ok() &&
           resp.statuses_size() == 1 &&
           okr_->GetObjectiveStatus(Ctx().get(), oreq, &o).ok() &&
           o.status() == v1::OKR_STATUS_OFF_TRACK;
  }));
  HttpReceiver receiver;
  TempDir bot_dir;
  BotProcess bot(bot_dir,
                 {absl::StrCat("--server=", vlad_.address()),
                  absl::StrCat("--webhook_url=", receiver.url()), "--once"});
  EXPECT_EQ(bot.Wait(), 0) << bot.err();
  const std::string out = bot.out();
  EXPECT_THAT(out, HasSubstr("Objective objectives/faster OFF_TRACK: score "));
  EXPECT_THAT(out, HasSubstr("VLA vlas/incident BREACHED, watermelon: "));
  EXPECT_EQ(Count(out, "\n"), 2) << out;
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_THAT(receiver.requests()[0].body, HasSubstr("OFF_TRACK"));
}

// --report month: the VLA's monthly report as Markdown (the rows are those
// of `vlactl report -o markdown`, hand-checked in evaluation_service_test),
// printed and posted as one message.
TEST_F(BotTest, ReportMonthPrintsAndPostsTheMarkdownReport) {
  ASSERT_NO_FATAL_FAILURE(Ingest("1", 30));
  ASSERT_TRUE(testing::Eventually([&] {
    v1::ListVlaStatusesRequest req;
    req.set_filter("state = BREACHED");
    v1::ListVlaStatusesResponse resp;
    return evaluation_->ListVlaStatuses(Ctx().get(), req, &resp).ok() &&
           resp.statuses_size() == 1;
  }));
  HttpReceiver receiver;
  TempDir bot_dir;
  BotProcess bot(bot_dir, {absl::StrCat("--server=", vlad_.address()),
                           absl::StrCat("--webhook_url=", receiver.url()),
                           "--report", "month"});
  EXPECT_EQ(bot.Wait(), 0) << bot.err();
  const std::string out = bot.out();
  EXPECT_TRUE(absl::StartsWith(
      out,
      "### vlas/incident: monthly compliance (UTC)\n\n"
      "| PERIOD | STATE | SCORE | MET | AT_RISK | BREACHED | NO_DATA | "
      "WATERMELON | DISPUTED | EVALUATIONS | WORST |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n"))
      << out;
  EXPECT_EQ(Count(out, "\n| "), 7) << out;  // the header, six months
  // The data is an hour old: this month's, or last month's in the first
  // hour of a month.
  EXPECT_THAT(out, HasSubstr(" | BREACHED | 0 | ")) << out;  // score 0
  EXPECT_THAT(out, HasSubstr(" (to date) | ")) << out;
  EXPECT_THAT(out, HasSubstr("happiness 30 is worse than the warning")) << out;
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_THAT(receiver.requests()[0].body, HasSubstr("monthly compliance"));

  for (const char* bad : {"week", "unspecified"}) {
    TempDir dir;
    BotProcess refused(
        dir, {absl::StrCat("--server=", vlad_.address()), "--report", bad});
    EXPECT_EQ(refused.Wait(), 1) << bad;
  }
}

TEST(BotErrorTest, OnceExitsFiveWhenTheServerIsUnreachable) {
  TempDir dir;
  std::string address;
  {
    testing::VladProcess vlad(VLAD_PATH, dir.path());
    ASSERT_TRUE(vlad.Start().ok());
    address = vlad.address();
  }  // killed
  BotProcess bot(
      dir, {absl::StrCat("--server=", address), "--once", "--deadline=2s"});
  EXPECT_EQ(bot.Wait(), client::kExitUnavailable);
  EXPECT_THAT(bot.err(), HasSubstr(address));
  EXPECT_EQ(bot.out(), "");
}

TEST(BotErrorTest, BadFilterAndBadOptionsExit) {
  testing::TestServer server;
  TempDir dir;
  {
    BotProcess bot(dir, {absl::StrCat("--server=", server.address()),
                         "--vla_filter=colour = RED"});
    EXPECT_EQ(bot.Wait(), client::kExitInvalid);
    EXPECT_THAT(bot.err(), HasSubstr("colour"));
  }
  {
    BotProcess bot(dir, {absl::StrCat("--server=", server.address()),
                         "--ca_file=/nonexistent/ca.pem", "--once"});
    EXPECT_EQ(bot.Wait(), client::kExitUsage);
    EXPECT_THAT(bot.err(), HasSubstr("/nonexistent/ca.pem"));
  }
  {
    BotProcess bot(dir, {"--deadline=never", "--once"});
    EXPECT_EQ(bot.Wait(), client::kExitUsage);
    EXPECT_THAT(bot.err(), HasSubstr("not a positive duration"));
  }
}

}  // namespace
}  // namespace vla::bot
