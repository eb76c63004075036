// vlactl's document and record parsing (clients/vlactl/documents.h,
// records.h): fields checked against the protos, short enum names, the
// VMDB's validation, errors naming file, document and field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "clients/vlactl/documents.h"
#include "clients/vlactl/output.h"
#include "clients/vlactl/records.h"
#include "tests/test_util.h"
#include "vla/v1/resources.pb.h"

namespace vla::vlactl {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kKviYaml[] = R"(
kind: Kvi
id: p90-lead-time
display_name: p90 lead time
value_stream: valueStreams/incident
source: WORK_ITEMS
field: LEAD_TIME
aggregation: PERCENTILE
percentile: 90
window: {rolling: 30d}
unit: s
direction: LOWER_IS_BETTER
dimension: FLOW
scope:
  labels: {priority: P1}
co_measurement: {enabled: false}
)";

TEST(DocumentsTest, ParsesShortEnumsDurationsAndMaps) {
  auto docs = ParseDocuments(kKviYaml, "kvi.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_THAT(*docs, SizeIs(1));
  const auto& kvi = static_cast<const v1::Kvi&>(*(*docs)[0].resource);
  EXPECT_EQ(kvi.name(), "kvis/p90-lead-time");
  EXPECT_EQ(kvi.source(), v1::SOURCE_WORK_ITEMS);
  EXPECT_EQ(kvi.field(), v1::WORK_ITEM_FIELD_LEAD_TIME);
  EXPECT_EQ(kvi.aggregation(), v1::AGGREGATION_PERCENTILE);
  EXPECT_EQ(kvi.window().rolling().seconds(), 30 * 86400);
  EXPECT_EQ(kvi.scope().labels().at("priority"), "P1");
  EXPECT_EQ(kvi.direction(), v1::DIRECTION_LOWER_IS_BETTER);
}

TEST(DocumentsTest, JsonCamelCaseAndTheResourcesOwnKind) {
  auto docs = ParseDocuments(
      R"({"kind": "Team", "id": "net", "displayName": "Network",
          "team_kind": "TEAM_KIND_PROVIDER"})",
      "t.json");
  ASSERT_TRUE(docs.ok()) << docs.status();
  const auto& team = static_cast<const v1::Team&>(*(*docs)[0].resource);
  EXPECT_EQ(team.display_name(), "Network");
  EXPECT_EQ(team.kind(), v1::TEAM_KIND_PROVIDER);
  EXPECT_THAT(ResourceToJson(team),
              HasSubstr("\"team_kind\":\"TEAM_KIND_PROVIDER\""));
  docs = ParseDocuments("kind: Team\nid: a\nkind_: 1\n", "t.yaml");
  ASSERT_FALSE(docs.ok());
  EXPECT_THAT(std::string(docs.status().message()),
              HasSubstr("team.kind_: unknown field (fields of Team: "
                        "display_name, description, team_kind)"));
}

TEST(DocumentsTest, SeveralDocumentsAndLists) {
  constexpr char kText[] = R"(
kind: Team
id: a
team_kind: PROVIDER
---
---
[{"kind": "Team", "id": "b", "team_kind": "TEAM_KIND_CONSUMER"}]
)";
  auto docs = ParseDocuments(kText, "teams.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_THAT(*docs, SizeIs(2));
  EXPECT_EQ((*docs)[0].name(), "teams/a");
  EXPECT_EQ((*docs)[1].name(), "teams/b");
  EXPECT_EQ((*docs)[1].index, 3);
  EXPECT_EQ(static_cast<const v1::Team&>(*(*docs)[1].resource).kind(),
            v1::TEAM_KIND_CONSUMER);
}

struct BadCase {
  const char* text;
  const char* expected;  // substring of the error
};

TEST(DocumentsTest, BadDocumentsNameFileDocumentAndField) {
  const BadCase cases[] = {
      {"kind: Team\nid: a\nteam_kind: PROVIDER\n---\nkind: Team\nid: B\n",
       "f.yaml: document 2 (line 5): id: "},
      {"kind: Gizmo\nid: a\n",
       "f.yaml: document 1 (line 1): line 1: kind: "
       "unknown kind \"Gizmo\""},
      {"kind: Team\n", "document 1 (line 1): id: required"},
      {"id: a\n", "kind: required"},
      {"kind: Team\nid: a\nteam_kind: BOSS\n",
       "line 3: team.team_kind: unknown value \"BOSS\" (one of PROVIDER, "
       "CONSUMER, SUPPLIER)"},
      {"kind: Team\nid: a\n", "team.team_kind: required"},
      {"kind: Kvi\nid: k\npercentile: lots\n",
       "line 3: kvi.percentile: \"lots\" is not a number"},
      {"kind: Kvi\nid: k\nwindow: {rolling: 1d, calendar: MONTH}\n",
       "kvi.window.calendar: set only one of rolling, calendar"},
      {"kind: Kvi\nid: k\nwindow: {rolling: soon}\n",
       "kvi.window.rolling: not a duration"},
      {"kind: Vla\nid: v\nclauses: {kvi: kvis/a}\n",
       "line 3: vla.clauses: expected a list"},
      {"kind: Team\nid: a\nteam_kind: PROVIDER\nname: teams/b\n",
       "name: \"teams/b\" does not match"},
      {"kind: Team\nid: a\n  bad: [\n", "f.yaml: line"},
      {"- 1\n- 2\n", "f.yaml: document 1"},
      {"kind: Objective\nid: o\nperiod_start: yesterday\n",
       "objective.period_start: not a time"},
  };
  for (const BadCase& c : cases) {
    auto docs = ParseDocuments(c.text, "f.yaml");
    ASSERT_FALSE(docs.ok()) << c.text;
    EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(docs.status().message()), HasSubstr(c.expected))
        << c.text;
  }
}

// Inputs on which yaml-cpp 0.7 itself never returns (found by the fuzzer)
// are refused with an error instead.
TEST(DocumentsTest, TextYamlCppWouldLoopOnIsRefused) {
  for (const std::string& text :
       {std::string(", a\n"), std::string("{a: 1}, b\n"),
        std::string("kind: Team\nid: a\n---\n , x\n"),
        std::string("kind: Team\nid: a\0b\n", 19)}) {
    auto docs = ParseDocuments(text, "f.yaml");
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_EQ(docs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(docs.status().message()), HasSubstr("f.yaml"));
  }
  // A ',' inside values stays fine.
  EXPECT_TRUE(ParseDocuments(
                  "kind: Team\nid: a\nteam_kind: PROVIDER\ndescription: b, c\n",
                  "f.yaml")
                  .ok());
}

TEST(DocumentsTest, RunsTheVmdbValidation) {
  std::string text = kKviYaml;
  text.replace(text.find("percentile: 90"), 14, "percentile: 120");
  auto docs = ParseDocuments(text, "kvi.yaml");
  ASSERT_FALSE(docs.ok());
  EXPECT_THAT(std::string(docs.status().message()),
              HasSubstr("kvi.yaml: document 1 (line 2): kvi.percentile"));
}

TEST(DocumentsTest, OutputOnlyFieldsAreIgnoredSoOutputRoundTrips) {
  auto docs = ParseDocuments(kKviYaml, "kvi.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  auto& kvi = static_cast<v1::Kvi&>(*(*docs)[0].resource);
  kvi.set_etag("abc");
  kvi.set_revision(7);
  kvi.mutable_create_time()->set_seconds(100);
  const std::string json = ResourceToJson(kvi);
  EXPECT_THAT(json, HasSubstr("\"kind\":\"Kvi\",\"id\":\"p90-lead-time\""));
  EXPECT_THAT(json, HasSubstr("\"etag\""));
  auto again = ParseDocuments(json, "out.json");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << json;
  const auto& back = static_cast<const v1::Kvi&>(*(*again)[0].resource);
  EXPECT_TRUE(back.etag().empty());
  EXPECT_EQ(back.revision(), 0);
  EXPECT_TRUE(ChangedFields(back, kvi).paths().empty());
  EXPECT_THAT(ResourceToJson(kvi, false), ::testing::Not(HasSubstr("etag")));
}

TEST(DocumentsTest, ChangedFieldsListsWritableTopLevelFields) {
  v1::Kvi a;
  a.set_unit("s");
  a.mutable_window()->mutable_rolling()->set_seconds(60);
  a.set_etag("x");
  v1::Kvi b = a;
  b.set_etag("y");
  b.set_revision(4);
  EXPECT_TRUE(ChangedFields(a, b).paths().empty());
  b.mutable_window()->mutable_rolling()->set_seconds(61);
  b.set_display_name("d");
  EXPECT_THAT(ChangedFields(a, b).paths(),
              ::testing::ElementsAre("display_name", "window"));
}

TEST(DocumentsTest, DuplicatesAndOrder) {
  constexpr char kText[] = R"(
kind: Vla
id: v
---
kind: Team
id: a
team_kind: PROVIDER
)";
  // The VLA alone is invalid; check ordering with valid teams only.
  auto bad = ParseDocuments(kText, "f.yaml");
  ASSERT_FALSE(bad.ok());
  auto docs = ParseDocuments(
      "kind: Team\nid: a\nteam_kind: PROVIDER\n---\nkind: Team\nid: a\n"
      "team_kind: CONSUMER\n",
      "f.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  const absl::Status s = CheckDocumentSet(*docs);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("f.yaml: document 2 (line 5): teams/a is already "
                        "defined in f.yaml: document 1"));
}

TEST(DocumentsTest, LoadsADirectoryInPathOrder) {
  testing::TempDir dir;
  std::ofstream(dir.File("b.yaml"))
      << "kind: Team\nid: b\nteam_kind: PROVIDER\n";
  std::ofstream(dir.File("a.json"))
      << R"({"kind": "Team", "id": "a", "team_kind": "CONSUMER"})";
  std::ofstream(dir.File("notes.txt")) << "ignored";
  auto docs = LoadDocuments(dir.path());
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_THAT(*docs, SizeIs(2));
  EXPECT_EQ((*docs)[0].id, "a");
  EXPECT_EQ((*docs)[1].id, "b");
  EXPECT_EQ(LoadDocuments(dir.File("missing.yaml")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DocumentsTest, ResourceRefs) {
  auto ref = ParseResourceRef("vla/incident");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->name(), "vlas/incident");
  EXPECT_EQ(ParseResourceRef("valueStreams/x")->name(), "valueStreams/x");
  EXPECT_EQ(ParseResourceRef("value-stream/x")->name(), "valueStreams/x");
  EXPECT_FALSE(ParseResourceRef("vla").ok());
  EXPECT_FALSE(ParseResourceRef("gizmo/x").ok());
  EXPECT_FALSE(ParseResourceRef("vla/Bad").ok());
}

TEST(RecordsTest, ParsesBothKindsWithShortEnums) {
  auto r = ParseRecordLine(
      R"({"work_item_event": {"event_id": "e1", "item_id": "INC1",
      "kind": "RESOLVED", "time": "2026-11-01T10:00:00Z", "sla_met": true}})");
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& e = std::get<v1::WorkItemEvent>(*r);
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_RESOLVED);
  EXPECT_TRUE(e.sla_met());
  EXPECT_EQ(ParseRecordLine(RecordToLine(e))->index(), 2u);

  r = ParseRecordLine(R"({"observation": {"event_id": "o1", "value": 7}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(std::get<v1::Observation>(*r).value(), 7);
  EXPECT_EQ(ParseRecordLine("  ")->index(), 0u);
  EXPECT_EQ(ParseRecordLine("# comment")->index(), 0u);
}

TEST(RecordsTest, BadLinesSayWhy) {
  const BadCase cases[] = {
      {"{\"observation\": {\"value\": \"x\"}}", "observation.value"},
      {"{\"bogus\": {}}", "unknown record type \"bogus\""},
      {"{\"observation\": {}, \"work_item_event\": {}}", "one key"},
      {"{\"observation\": ", "not valid JSON"},
      {"[1]", "one key"},
      {"{\"work_item_event\": {\"kind\": \"EXPLODED\"}}",
       "work_item_event.kind: unknown value"},
  };
  for (const BadCase& c : cases) {
    auto r = ParseRecordLine(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.expected))
        << c.text;
  }
}

}  // namespace
}  // namespace vla::vlactl

namespace vla::vlactl {
namespace {

TEST(OutputTest, PrettyJsonKeepsStringsIntact) {
  const std::string compact =
      R"({"a":"x, {y}: \"z\"","b":[1,{"c":[]}],"d":{}})";
  const std::string pretty = PrettyJson(compact);
  EXPECT_EQ(pretty, R"({
  "a": "x, {y}: \"z\"",
  "b": [
    1,
    {
      "c": []
    }
  ],
  "d": {}
})");
  EXPECT_EQ(JsonToYaml(compact).substr(0, 16), "a: \"x, {y}: \\\"z\\");
}

TEST(OutputTest, NumbersDurationsEnumsAndTables) {
  EXPECT_EQ(Number(62.5), "62.5");
  EXPECT_EQ(Number(3.0), "3");
  EXPECT_EQ(Number(0.96449, 3), "0.964");
  EXPECT_EQ(Number(-0.0001), "0");
  EXPECT_EQ(HumanDuration(45), "45s");
  EXPECT_EQ(HumanDuration(720), "12m");
  EXPECT_EQ(HumanDuration(73800), "20.5h");
  EXPECT_EQ(HumanDuration(30 * 86400), "30d");
  EXPECT_EQ(ShortName(v1::TEAM_KIND_PROVIDER), "PROVIDER");
  EXPECT_EQ(ColorForState("BREACHED"), Color::kRed);
  Table t({"NAME", "STATE"});
  t.AddRow({"vlas/a", Table::Cell("MET", Color::kGreen)});
  std::ostringstream plain, colored;
  t.Print(plain, false);
  t.Print(colored, true);
  EXPECT_EQ(plain.str(), "NAME     STATE\nvlas/a   MET\n");
  EXPECT_EQ(colored.str(), "NAME     STATE\nvlas/a   \033[32mMET\033[0m\n");
}

}  // namespace
}  // namespace vla::vlactl
