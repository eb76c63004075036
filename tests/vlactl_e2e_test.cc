// End to end: the real `vlactl` binary against the real `vlad` binary, both
// as child processes, with the example definitions under examples/.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/test_util.h"
#include "tests/vlad_process.h"

namespace vla {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

using Result = testing::CommandResult;
using testing::ReadFile;

class VlactlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::VladProcess>(VLAD_PATH, dir_.path());
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // Runs vlactl with `args` (shell words) against the server.
  Result Run(const std::string& args) {
    return testing::RunCommand(
        absl::StrCat("NO_COLOR=1 VLA_SERVER=", server_->address(), " ",
                     VLACTL_PATH, " ", args),
        dir_);
  }

  Result ApplyExamples() {
    return Run(absl::StrCat("apply -f ", EXAMPLES_DIR));
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }

  TempDir dir_;
  std::unique_ptr<testing::VladProcess> server_;
};

int CountLines(const std::string& text, const std::string& word) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::EndsWith(line, word)) ++n;
  }
  return n;
}

constexpr int kExampleResources = 14;  // 4 teams, 1 stream, 7 KVIs, VLA, OKR

TEST_F(VlactlTest, ApplyTwiceIsIdempotent) {
  Result r = ApplyExamples();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out, " created"), kExampleResources) << r.out;
  // Dependency order: teams first, the objective last.
  EXPECT_TRUE(absl::StartsWith(r.out, "teams/")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("objectives/back-to-work-faster created\n"));
  EXPECT_TRUE(
      absl::EndsWith(r.out, "objectives/back-to-work-faster created\n"));

  r = ApplyExamples();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(CountLines(r.out, " unchanged"), kExampleResources) << r.out;

  // A changed field: the dry run shows it and writes nothing; then apply.
  const std::string kvi = Write("kvi.yaml", R"(kind: Kvi
id: handoffs
display_name: Handoffs (renamed)
value_stream: valueStreams/incident-to-back-to-work
source: WORK_ITEMS
field: HANDOFFS
aggregation: MEAN
window: {rolling: 7d}
unit: handoffs
direction: LOWER_IS_BETTER
dimension: FLOW
min_samples: 20
)");
  r = Run(absl::StrCat("apply --dry-run -f ", kvi));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("kvis/handoffs configured (dry run)"));
  EXPECT_THAT(r.out, HasSubstr("window: {\"rolling\":\"2592000s\"} -> "
                               "{\"rolling\":\"604800s\"}"));
  EXPECT_THAT(Run("get kvi/handoffs").out, Not(HasSubstr("renamed")));
  r = Run(absl::StrCat("apply -f ", kvi));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "kvis/handoffs configured\n");
  EXPECT_THAT(Run("get kvi/handoffs").out, HasSubstr("rolling 7d"));
  EXPECT_THAT(Run("get kvi/handoffs -o yaml").out, HasSubstr("revision: 2"));
}

TEST_F(VlactlTest, BadDocumentAppliesNothingAndNamesFileDocumentField) {
  const std::string bad = Write("bad.yaml", R"(kind: Team
id: night-shift
team_kind: PROVIDER
---
kind: Kvi
id: broken
value_stream: valueStreams/nowhere
source: WORK_ITEMS
field: LEAD_TIME
aggregation: PERCENTILE
percentile: 120
window: {rolling: 30d}
direction: LOWER_IS_BETTER
)");
  Result r = Run(absl::StrCat("apply -f ", bad));
  EXPECT_EQ(r.code, 4);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(bad,
                                            ": document 2 (line 5): "
                                            "kvi.percentile")));
  EXPECT_THAT(r.err, HasSubstr("nothing was applied"));
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Run("get team/night-shift").code, 3);

  // A reference to nothing is found before the first write, too.
  const std::string dangling = Write("dangling.yaml", R"(kind: Team
id: night-shift
team_kind: PROVIDER
---
kind: ValueStream
id: orphan
consumer: teams/nobody
providers: [teams/night-shift]
)");
  r = Run(absl::StrCat("apply -f ", dangling));
  EXPECT_EQ(r.code, 4);
  EXPECT_THAT(r.err,
              HasSubstr(absl::StrCat(dangling,
                                     ": document 2 (line 5): "
                                     "value_stream.consumer: teams/nobody does "
                                     "not exist")));
  EXPECT_EQ(Run("get team/night-shift").code, 3);

  // Unknown fields and enum values.
  r = Run(absl::StrCat(
      "apply -f ", Write("typo.yaml", "kind: Team\nid: a\nteam_kind: BOSS\n")));
  EXPECT_EQ(r.code, 4);
  EXPECT_THAT(r.err,
              HasSubstr("line 3: team.team_kind: unknown value \"BOSS\""));
}

// Each read in each format: json parses as JSON, yaml as YAML, the table
// has a header.
TEST_F(VlactlTest, EveryOutputFormatParses) {
  ASSERT_EQ(ApplyExamples().code, 0);
  const std::vector<std::string> reads = {
      "get vla/incident-back-to-work",
      "get team/service-desk team/network",
      "list teams",
      "list valuestreams",
      "list kvis",
      "get kvis",  // a kind alone lists, as kubectl does
      "list vlas --filter 'state = ACTIVE'",
      "list objectives",
      "revisions vla/incident-back-to-work",
      "status",
      "explain vla/incident-back-to-work",
      "flow valuestream/incident-to-back-to-work",
      "checkin objective/back-to-work-faster joint-runbooks 2 --confidence "
      "0.8 --note 'two runbooks out' --team service-desk",
  };
  for (const std::string& read : reads) {
    for (const char* format : {"table", "json", "yaml"}) {
      SCOPED_TRACE(absl::StrCat(read, " -o ", format));
      const Result r = Run(absl::StrCat(read, " -o ", format));
      ASSERT_EQ(r.code, 0) << r.err;
      ASSERT_FALSE(r.out.empty());
      if (std::string(format) == "json") {
        google::protobuf::Value value;
        EXPECT_TRUE(
            google::protobuf::util::JsonStringToMessage(r.out, &value).ok())
            << r.out;
      } else if (std::string(format) == "yaml") {
        std::vector<YAML::Node> docs;
        EXPECT_NO_THROW(docs = YAML::LoadAll(r.out)) << r.out;
        EXPECT_FALSE(docs.empty());
        if (!docs.empty()) {
          EXPECT_TRUE(docs[0].IsMap()) << r.out;
        }
      } else {
        EXPECT_THAT(r.out, ::testing::ContainsRegex("[A-Z]")) << r.out;
      }
    }
  }
  // What get prints as yaml or json can be applied again: unchanged.
  const std::string yaml =
      Write("vla.yaml", Run("get vla/incident-back-to-work -o yaml").out);
  Result r = Run(absl::StrCat("apply -f ", yaml));
  EXPECT_EQ(r.out, "vlas/incident-back-to-work unchanged\n") << r.err;
  r = Run(absl::StrCat("apply -f - < ", yaml));  // stdin
  EXPECT_EQ(r.out, "vlas/incident-back-to-work unchanged\n") << r.err;
  EXPECT_EQ(Run("get kvis -o json").out, Run("list kvis -o json").out);
  const std::string json = Write("kvis.json", Run("list kvis -o json").out);
  r = Run(absl::StrCat("apply -f ", json));
  EXPECT_EQ(CountLines(r.out, " unchanged"), 7) << r.out << r.err;
}

TEST_F(VlactlTest, IngestSummaryLinesAndDuplicates) {
  ASSERT_EQ(ApplyExamples().code, 0);
  std::string lines = "# happiness ratings\n";
  for (int i = 0; i < 10; ++i) {
    absl::StrAppend(&lines, "{\"observation\": {\"event_id\": \"h-", i,
                    "\", \"signal\": \"happiness\", \"value\": ", i % 11,
                    ", \"time\": \"2026-01-02T10:00:00Z\", \"value_stream\": "
                    "\"valueStreams/incident-to-back-to-work\", \"reporter\": "
                    "\"teams/claims-operations\"}}\n");
    if (i == 4) absl::StrAppend(&lines, "{\"observation\": \n");  // line 7
  }
  absl::StrAppend(&lines,
                  "{\"work_item_event\": {\"event_id\": \"e-1\", \"item_id\": "
                  "\"INC1\", \"kind\": \"CREATED\", \"time\": "
                  "\"2026-01-02T10:00:00Z\", \"value_stream\": "
                  "\"valueStreams/nowhere\"}}\n");  // line 13: unknown stream
  const std::string file = Write("records.jsonl", lines);
  Result r = Run(absl::StrCat("ingest -f ", file));
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_THAT(r.out, HasSubstr("13 lines, accepted 10, duplicates 0, "
                               "rejected 2"));
  EXPECT_THAT(r.out, HasSubstr("  line 7: not valid JSON"));
  EXPECT_THAT(r.out, HasSubstr("  line 13: "));

  r = Run(absl::StrCat("ingest -f ", file, " -o json"));
  EXPECT_EQ(r.code, 7);
  EXPECT_THAT(r.out, HasSubstr("\"accepted\": 0"));
  EXPECT_THAT(r.out, HasSubstr("\"duplicates\": 10"));
  google::protobuf::Value value;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &value).ok())
      << r.out;

  const std::string good =
      Write("good.jsonl", lines.substr(0, lines.find("{\"observation\": \n")));
  r = Run(absl::StrCat("ingest -f ", good));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("accepted 0, duplicates 5, rejected 0"));
}

TEST_F(VlactlTest, ImportSendsNothingUntilTheTeamsExistThenOnlyOnce) {
  ASSERT_EQ(ApplyExamples().code, 0);
  const std::string data = IMPORTERS_DATA_DIR;
  const std::string snow = absl::StrCat(
      "import servicenow -f ", data, "/servicenow_incidents.csv --audit ", data,
      "/servicenow_audit.csv --value-stream incident-to-back-to-work");
  // The export's groups map to teams the server does not know: refused
  // before anything is sent.
  Result r = Run(snow);
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("teams/network-operations"));
  EXPECT_THAT(r.err, HasSubstr("nothing was sent"));

  // Mapped and created: every event is accepted (none was sent before), the
  // malformed rows are listed with their line, exit code 7 for them.
  const std::string mapped = absl::StrCat(
      snow, " --team-map 'Network Operations=network' --create-teams");
  r = Run(mapped);
  EXPECT_EQ(r.code, 7) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("11 records, 8 items imported, 3 skipped, "
                               "37 events"));
  EXPECT_THAT(r.out, HasSubstr("  skipped " + data +
                               "/servicenow_incidents.csv:6: INC0010004: "));
  EXPECT_THAT(r.out, HasSubstr("teams created: teams/database-team, "
                               "teams/email-collaboration\n"));
  EXPECT_THAT(r.out, HasSubstr("ingest: accepted 37, duplicates 0, "
                               "rejected 0"));
  EXPECT_EQ(Run("get team/database-team").code, 0);

  // Importing the same export again adds nothing.
  r = Run(mapped + " -o json");
  EXPECT_EQ(r.code, 7) << r.err;
  google::protobuf::Value value;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &value).ok())
      << r.out;
  const auto& report = value.struct_value().fields();
  EXPECT_EQ(report.at("accepted").number_value(), 0);
  EXPECT_EQ(report.at("duplicates").number_value(), 37);
  EXPECT_EQ(report.at("skipped").list_value().values_size(), 3 + 7);
  EXPECT_EQ(report.at("skipped")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("line")
                .number_value(),
            6);

  // Jira through a file for `vlactl ingest`: the same ids either way.
  const std::string events = dir_.File("jira.jsonl");
  const std::string jira =
      absl::StrCat("import jira -f ", data,
                   "/jira_issues.json --value-stream incident-to-back-to-work");
  r = Run(absl::StrCat(jira, " --emit ", events));
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_THAT(r.out, HasSubstr("26 events written"));
  EXPECT_EQ(CountLines(ReadFile(events), "}}"), 26);
  r = Run(absl::StrCat(jira, " --dry-run"));
  EXPECT_THAT(r.out,
              HasSubstr("dry run: nothing sent; the events name "
                        "teams/payments, teams/platform, teams/service-desk, "
                        "teams/sre\n"));
  r = Run(absl::StrCat(jira, " --create-teams"));
  EXPECT_THAT(r.out, HasSubstr("ingest: accepted 26, duplicates 0"));
  r = Run(absl::StrCat("ingest -f ", events));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("accepted 0, duplicates 26, rejected 0"));

  // Refused command lines and inputs.
  EXPECT_EQ(Run("import").code, 1);
  EXPECT_EQ(Run("import zendesk -f x --value-stream v").code, 1);
  EXPECT_EQ(
      Run(absl::StrCat("import jira -f ", data, "/jira_issues.json")).code,
      1);  // no --value-stream
  EXPECT_EQ(Run(jira + " --status-map Triage=bogus").code, 1);
  EXPECT_EQ(Run(jira + " --team-map nothing").code, 1);
  EXPECT_EQ(Run(jira + " --audit x.csv").code, 1);
  EXPECT_EQ(Run("import jira -f /nonexistent.json --value-stream v").code, 3);
  r = Run(absl::StrCat("import jira -f ", data,
                       "/jira_issues.json --value-stream nowhere"));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("valueStreams/nowhere"));
  r = Run(absl::StrCat("import servicenow -f ", Write("bad.csv", "a,b\n1,2\n"),
                       " --value-stream v"));
  EXPECT_EQ(r.code, 4);
  EXPECT_THAT(r.err, HasSubstr("bad.csv"));
}

TEST_F(VlactlTest, ExitCodes) {
  EXPECT_EQ(Run("--help").code, 0);
  EXPECT_THAT(Run("--help").out, HasSubstr("Exit codes:"));
  for (const char* cmd :
       {"apply", "get", "list", "delete", "revisions", "status", "explain",
        "flow", "watch", "ingest", "import", "checkin", "demo", "report",
        "history", "series"}) {
    const Result r = Run(absl::StrCat(cmd, " --help"));
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("Usage: vlactl ", cmd))) << cmd;
  }
  EXPECT_EQ(Run("").code, 1);
  EXPECT_EQ(Run("frobnicate").code, 1);
  EXPECT_EQ(Run("get").code, 1);
  EXPECT_EQ(Run("get gizmo/x").code, 1);
  EXPECT_EQ(Run("list vlas --bogus").code, 1);
  EXPECT_EQ(Run("list vlas -o xml").code, 1);
  EXPECT_EQ(Run("get vla/missing").code, 3);
  EXPECT_THAT(Run("get vla/missing").err, HasSubstr("vlas/missing"));
  EXPECT_EQ(Run("apply -f /nonexistent/file.yaml").code, 3);
  EXPECT_EQ(Run("list vlas --filter 'colour = RED'").code, 4);
  const Result r = Run("--server 127.0.0.1:1 --deadline 1s get vla/x");
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is vlad running"));
}

TEST_F(VlactlTest, DeleteAndCheckIn) {
  ASSERT_EQ(ApplyExamples().code, 0);
  Result r = Run("delete kvi/happiness");
  EXPECT_EQ(r.code, 4) << r.out;  // the VLA still uses it
  EXPECT_THAT(r.err, HasSubstr("vlas/incident-back-to-work"));
  r =
      Run("checkin objective/back-to-work-faster joint-runbooks 3 --confidence "
          "0.7 --note 'three runbooks' --team service-desk");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("checked in 3"));
  EXPECT_EQ(Run("delete objective/back-to-work-faster").code, 0);
  EXPECT_EQ(Run("get objective/back-to-work-faster").code, 3);
}

// The demo's data makes the example VLA a watermelon with a disputed KVI;
// `status` and `watch` show it.
TEST_F(VlactlTest, DemoMakesAWatermelon) {
  Result r = Run(absl::StrCat("demo --examples ", EXAMPLES_DIR,
                              " --duration 2s --rate 20 --seed 7"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Backfilled"));
  EXPECT_THAT(r.out, HasSubstr("batch 1:"));
  // The evaluator debounces: wait for the status to settle.
  for (int i = 0; i < 100; ++i) {
    r = Run("status -o json");
    if (absl::StrContains(r.out, "\"watermelon\": true") &&
        absl::StrContains(r.out, "\"disputed\": true")) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(r.out, HasSubstr("\"watermelon\": true"));
  EXPECT_THAT(r.out, HasSubstr("\"disputed\": true"));
  r = Run("status");
  EXPECT_THAT(
      r.out,
      ::testing::ContainsRegex(
          "vlas/incident-back-to-work +BREACHED .* met 0\\.9[0-9]* +yes +yes"));
  r = Run("explain vla/incident-back-to-work");
  EXPECT_THAT(r.out, HasSubstr("Watermelon:  yes"));
  EXPECT_THAT(r.out, HasSubstr("DISPUTED"));

  // watch: the snapshot, then Ctrl-C ends it with exit code 0.
  const std::string out = dir_.File("watch.txt");
  const std::string cmd =
      absl::StrCat("NO_COLOR=1 VLA_SERVER=", server_->address(),
                   " timeout --preserve-status -s INT 2 ", VLACTL_PATH,
                   " watch vlas > ", out, " 2>&1");
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(out);
  EXPECT_THAT(ReadFile(out), HasSubstr("vlas/incident-back-to-work  BREACHED"));
  EXPECT_THAT(ReadFile(out), HasSubstr("WATERMELON"));
}

}  // namespace
}  // namespace vla
