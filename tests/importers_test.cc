// The ITSM importers on the sample exports in tests/data/importers/ (written
// for these tests; README.md there says what each record exercises), the CSV
// reader and time parsing on their own, and the imported events on a real
// server.
#include "clients/importers/importers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clients/importers/csv.h"
#include "clients/importers/import_util.h"
#include "common/proto_time.h"
#include "services/evaluator/work_item.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla::importers {
namespace {

using ::grpc::StatusCode;
using testing::AbslIsCodeWith;
using testing::Ctx;
using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kSd[] = "d625dccec0a8016700a222a0f7900d06";
constexpr char kNet[] = "287ebd7da9fe198100f92cc8d1d2154e";
constexpr char kDb[] = "287ee6fea9fe198100ada7950d0b1b73";

std::string ReadData(const std::string& name) {
  std::ifstream in(absl::StrCat(VLA_IMPORTERS_DATA_DIR, "/", name),
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ImportOptions Options() {
  ImportOptions o;
  o.value_stream = "incident";
  return o;
}

// The sys_id mapping a CSV import with the audit needs (sys_audit holds
// sys_ids for groups).
ImportOptions AuditOptions() {
  ImportOptions o = Options();
  o.team_map = {{kSd, "service-desk"},
                {kNet, "network-operations"},
                {kDb, "teams/database-team"}};
  return o;
}

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", FromProtoTime(t),
                          absl::UTCTimeZone());
}

// An item's events, one line each: "KIND time [team|reason] [sla_met]
// [first_contact]".
std::vector<std::string> Events(const ImportResult& r,
                                const std::string& item) {
  std::vector<std::string> out;
  for (const v1::WorkItemEvent& e : r.events) {
    if (e.item_id() != item) continue;
    std::string line = absl::StrCat(v1::EventKind_Name(e.kind()).substr(11),
                                    " ", Time(e.time()));
    if (!e.team().empty()) absl::StrAppend(&line, " ", e.team());
    if (!e.reason().empty()) absl::StrAppend(&line, " ", e.reason());
    if (e.sla_met()) absl::StrAppend(&line, " sla_met");
    if (e.first_contact()) absl::StrAppend(&line, " first_contact");
    out.push_back(line);
  }
  return out;
}

const v1::WorkItemEvent* First(const ImportResult& r, const std::string& item) {
  for (const v1::WorkItemEvent& e : r.events) {
    if (e.item_id() == item) return &e;
  }
  return nullptr;
}

std::vector<std::string> Strings(const std::vector<RowError>& errors) {
  std::vector<std::string> out;
  for (const RowError& e : errors) out.push_back(e.ToString());
  return out;
}

// The derived item of `item`'s events, as the evaluator sees it.
evaluator::DerivedItem Derive(const ImportResult& r, const std::string& item) {
  std::map<std::string, int32_t> teams;
  std::vector<evaluator::ItemEvent> events;
  for (const v1::WorkItemEvent& e : r.events) {
    if (e.item_id() != item) continue;
    evaluator::ItemEvent ev;
    ev.time_us = absl::ToUnixMicros(FromProtoTime(e.time()));
    ev.set_kind(e.kind());
    if (!e.team().empty()) {
      ev.team = teams.emplace(e.team(), teams.size()).first->second;
    }
    ev.sla_met = e.sla_met();
    ev.first_contact = e.first_contact();
    events.push_back(ev);
  }
  return evaluator::DeriveItem(events);
}

// Every event in text form (map entries sorted), for comparisons.
std::string Serialized(const ImportResult& r) {
  std::string out;
  for (const v1::WorkItemEvent& e : r.events) {
    absl::StrAppend(&out, e.ShortDebugString(), "\n");
  }
  return out;
}

// --- CSV reader ------------------------------------------------------------

std::vector<std::string> ReadCsv(absl::string_view text) {
  CsvReader reader(text);
  CsvRecord record;
  std::vector<std::string> out;
  while (reader.Next(record)) {
    out.push_back(
        absl::StrCat(record.line, ":", absl::StrJoin(record.fields, "|"),
                     record.error.empty() ? "" : " ! ", record.error));
  }
  return out;
}

TEST(CsvReaderTest, ReadsRfc4180) {
  EXPECT_THAT(ReadCsv("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n"),
              ElementsAre("1:a|b|c", "2:1|x, y|say \"hi\""));
  // Embedded line breaks count towards the next record's line; CRLF kept
  // inside quotes, ends records outside.
  EXPECT_THAT(ReadCsv("a,b\r\n\"one\r\ntwo\",3\r\nx,y"),
              ElementsAre("1:a|b", "2:one\r\ntwo|3", "4:x|y"));
  // A byte order mark, empty lines, empty and trailing empty fields.
  EXPECT_THAT(ReadCsv("\xEF\xBB\xBFnumber,x\n\n,\n\"\",last,\n"),
              ElementsAre("1:number|x", "3:|", "4:|last|"));
  // A lone CR ends a record too; a quote inside an unquoted field is text.
  EXPECT_THAT(ReadCsv("a\rb 12\" screen\r"),
              ElementsAre("1:a", "2:b 12\" screen"));
  EXPECT_THAT(ReadCsv(""), IsEmpty());
  EXPECT_THAT(ReadCsv("\n\r\n"), IsEmpty());
}

TEST(CsvReaderTest, ReportsMalformedRecordsAndGoesOn) {
  EXPECT_THAT(
      ReadCsv("a,\"b\"x,c\nd,e\n"),
      ElementsAre("1:a|bx|c ! field 2: text after the closing quote", "2:d|e"));
  EXPECT_THAT(
      ReadCsv("a,b\n1,\"never closed\n2,3\n"),
      ElementsAre("1:a|b",
                  "2:1 ! field 2: quote opened on line 2 is never closed"));
}

TEST(ParseTimestampTest, ReadsIsoAndServiceNowTimes) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  const absl::Time t =
      absl::FromCivil(absl::CivilSecond(2024, 1, 2, 3, 4, 5), utc);
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-02 03:04:05", utc), t);
  EXPECT_EQ(*internal::ParseTimestamp(" 2024-01-02T03:04:05Z ", utc), t);
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-02T04:04:05+01:00", utc), t);
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-02T04:04:05.000+0100", utc), t);
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-01T22:04:05-05", utc), t);
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-02 04:04:05", berlin), t);
  // An offset wins over the zone.
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-02T03:04:05Z", berlin), t);
  EXPECT_EQ(*internal::ParseTimestamp("2024-01-02T03:04:05.25Z", utc),
            t + absl::Milliseconds(250));
  for (const char* bad :
       {"", "2024-01-02", "2024-13-01 00:00:00", "2024-02-30 00:00:00",
        "2024-01-02 24:00:00", "2024-01-02T03:04:05+2500", "02/01/2024 03:04",
        "2024-01-02T03:04:05Zjunk", "2024-01-02T03:04:05.Z"}) {
    EXPECT_FALSE(internal::ParseTimestamp(bad, utc).ok()) << bad;
  }
}

TEST(SlugTest, MakesTeamIds) {
  EXPECT_EQ(internal::Slug("Email & Collaboration"), "email-collaboration");
  EXPECT_EQ(internal::Slug("  Network Ops (EMEA) "), "network-ops-emea");
  EXPECT_EQ(internal::Slug("***"), "");
  EXPECT_EQ(internal::CleanText("ok \xC3\xA9 bad \xFF end"),
            "ok \xC3\xA9 bad \xEF\xBF\xBD end");
  EXPECT_EQ(internal::CleanText("\xC3\xA9\xC3\xA9", 3), "\xC3\xA9");
}

// --- ServiceNow --------------------------------------------------------------

class ServiceNowTest : public ::testing::Test {
 protected:
  const std::string csv_ = ReadData("servicenow_incidents.csv");
  const std::string json_ = ReadData("servicenow_incidents.json");
  const std::string audit_ = ReadData("servicenow_audit.csv");
  const InputFile csv_file_{"incidents.csv", csv_};
  const InputFile json_file_{"incidents.json", json_};
  const InputFile audit_file_{"audit.csv", audit_};
};

TEST_F(ServiceNowTest, CsvWithoutAudit) {
  auto r = ImportServiceNow(csv_file_, std::nullopt, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(
      Strings(r->errors),
      ElementsAre("incidents.csv:6: INC0010004: opened_at: \"2026-11-31 "
                  "10:00:00\" is not a time (a field is out of range)",
                  "incidents.csv:7: number: required",
                  "incidents.csv:11: INC0010009: reassignment_count: \"two\" "
                  "is not a non-negative integer"));
  EXPECT_THAT(Strings(r->warnings), IsEmpty());
  EXPECT_EQ(r->counts.records, 11);
  EXPECT_EQ(r->counts.items, 8);
  EXPECT_EQ(r->counts.skipped, 3);
  EXPECT_EQ(r->counts.events, static_cast<int>(r->events.size()));
  EXPECT_EQ(r->counts.events, 30);
  EXPECT_THAT(r->teams,
              ElementsAre("teams/database-team", "teams/email-collaboration",
                          "teams/network-operations", "teams/service-desk"));

  EXPECT_THAT(Events(*r, "INC0010001"),
              ElementsAre("CREATED 2026-11-02T08:15:00Z",
                          "ASSIGNED 2026-11-02T08:15:00Z teams/service-desk",
                          "RESOLVED 2026-11-02T09:45:00Z sla_met first_contact",
                          "CLOSED 2026-11-05T10:00:00Z"));
  // Without the audit: the final group from the start, no handoffs.
  EXPECT_THAT(
      Events(*r, "INC0010002"),
      ElementsAre("CREATED 2026-11-03T09:00:00Z",
                  "ASSIGNED 2026-11-03T09:00:00Z teams/network-operations",
                  "RESOLVED 2026-11-03T16:00:00Z",
                  "CLOSED 2026-11-06T16:00:00Z"));
  // reopen_count > 0 without the audit: one REOPENED at opened_at.
  EXPECT_THAT(Events(*r, "INC0010006"),
              ElementsAre("CREATED 2026-11-05T14:00:00Z",
                          "ASSIGNED 2026-11-05T14:00:00Z teams/database-team",
                          "REOPENED 2026-11-05T14:00:00Z",
                          "RESOLVED 2026-11-10T17:30:00Z sla_met",
                          "CLOSED 2026-11-13T17:30:00Z"));
  const evaluator::DerivedItem inc6 = Derive(*r, "INC0010006");
  EXPECT_TRUE(inc6.resolved);
  EXPECT_TRUE(inc6.reopened);
  EXPECT_DOUBLE_EQ(inc6.wait_time, 0);
  EXPECT_THAT(Events(*r, "INC0010007"),
              ElementsAre("CREATED 2026-11-06T10:00:00Z",
                          "ASSIGNED 2026-11-06T10:00:00Z teams/service-desk",
                          "CANCELLED 2026-11-06T11:30:00Z"));
  EXPECT_THAT(
      Events(*r, "INC0010008"),
      ElementsAre("CREATED 2026-11-09T08:30:00Z",
                  "ASSIGNED 2026-11-09T08:30:00Z teams/network-operations"));
  EXPECT_THAT(
      Events(*r, "INC0010011"),
      ElementsAre("CREATED 2026-11-09T13:00:00Z",
                  "ASSIGNED 2026-11-09T13:00:00Z teams/service-desk",
                  "RESOLVED 2026-11-09T16:00:00Z sla_met first_contact"));

  const v1::WorkItemEvent* e = First(*r, "INC0010003");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->event_id(), "snow:INC0010003:created:2026-11-04T08:00:00Z:0");
  EXPECT_EQ(e->item_type(), v1::ITEM_TYPE_INCIDENT);
  EXPECT_EQ(e->value_stream(), "valueStreams/incident");
  EXPECT_EQ(e->service(), "ERP");
  EXPECT_THAT(
      e->labels(),
      UnorderedElementsAre(
          Pair("source", "servicenow"), Pair("priority", "P3"),
          Pair("category", "Software, database"), Pair("contact_type", "Phone"),
          Pair("reassignment_count", "3"), Pair("reopen_count", "1")));
}

TEST_F(ServiceNowTest, CsvWithAuditPlacesHandoffsWaitsAndReopens) {
  auto r = ImportServiceNow(csv_file_, audit_file_, AuditOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(
      Strings(r->errors),
      ElementsAre(::testing::StartsWith("incidents.csv:6: INC0010004"),
                  ::testing::StartsWith("incidents.csv:7: number"),
                  ::testing::StartsWith("incidents.csv:11: INC0010009"),
                  "audit.csv:22: INC0010003: sys_created_on: \"08/11/2026 "
                  "11:00\" is not a time (expected YYYY-MM-DD)",
                  absl::StrCat("audit.csv:25: INC0010011: newvalue: sys_id "
                               "0a52d3dcd7011200f2d224837e6103f2 has no known "
                               "group name; export display values or map it "
                               "in team_map")));
  EXPECT_THAT(Strings(r->warnings), IsEmpty());
  EXPECT_EQ(r->counts.history_records, 21);
  EXPECT_EQ(r->counts.history_skipped, 2);
  EXPECT_EQ(r->counts.history_unmatched, 3);

  EXPECT_THAT(
      Events(*r, "INC0010002"),
      ElementsAre(
          "CREATED 2026-11-03T09:00:00Z",
          "ASSIGNED 2026-11-03T09:00:00Z teams/service-desk",
          "ACTIVE 2026-11-03T09:30:00Z",
          "ASSIGNED 2026-11-03T10:00:00Z teams/network-operations",
          "WAITING 2026-11-03T11:00:00Z vendor", "ACTIVE 2026-11-03T14:00:00Z",
          "RESOLVED 2026-11-03T16:00:00Z", "CLOSED 2026-11-06T16:00:00Z"));
  const evaluator::DerivedItem inc2 = Derive(*r, "INC0010002");
  EXPECT_DOUBLE_EQ(inc2.lead_time, 7 * 3600);
  EXPECT_DOUBLE_EQ(inc2.wait_time, 3 * 3600);
  EXPECT_EQ(inc2.handoffs, 1);
  EXPECT_FALSE(inc2.sla_met);

  // Ping-pong and a real reopen; the audit row with a bad time is skipped.
  EXPECT_THAT(
      Events(*r, "INC0010003"),
      ElementsAre(
          "CREATED 2026-11-04T08:00:00Z",
          "ASSIGNED 2026-11-04T08:00:00Z teams/service-desk",
          "ASSIGNED 2026-11-04T08:30:00Z teams/network-operations",
          "ACTIVE 2026-11-04T08:30:00Z",
          "ASSIGNED 2026-11-04T10:00:00Z teams/database-team",
          "ASSIGNED 2026-11-04T12:00:00Z teams/network-operations",
          "RESOLVED 2026-11-04T13:00:00Z", "REOPENED 2026-11-05T09:00:00Z",
          "RESOLVED 2026-11-05T11:00:00Z", "CLOSED 2026-11-08T11:00:00Z"));
  const evaluator::DerivedItem inc3 = Derive(*r, "INC0010003");
  EXPECT_DOUBLE_EQ(inc3.lead_time, 27 * 3600);
  EXPECT_DOUBLE_EQ(inc3.wait_time, 20 * 3600);  // resolved 13:00 to 09:00
  EXPECT_EQ(inc3.handoffs, 3);
  EXPECT_TRUE(inc3.ping_pong);
  EXPECT_TRUE(inc3.reopened);

  // On hold awaiting the caller; the reassignment to an unknown group was
  // skipped (reported above).
  EXPECT_THAT(
      Events(*r, "INC0010011"),
      ElementsAre("CREATED 2026-11-09T13:00:00Z",
                  "ASSIGNED 2026-11-09T13:00:00Z teams/service-desk",
                  "WAITING 2026-11-09T13:20:00Z customer",
                  "ACTIVE 2026-11-09T15:20:00Z",
                  "RESOLVED 2026-11-09T16:00:00Z sla_met first_contact"));
  const evaluator::DerivedItem inc11 = Derive(*r, "INC0010011");
  EXPECT_TRUE(inc11.first_contact_resolution);
  EXPECT_DOUBLE_EQ(inc11.wait_time, 2 * 3600);

  // Items without audit rows keep the column-based events.
  EXPECT_THAT(
      Events(*r, "INC0010006"),
      ElementsAre(::testing::_, ::testing::_, "REOPENED 2026-11-05T14:00:00Z",
                  ::testing::_, ::testing::_));
  const v1::WorkItemEvent* e = First(*r, "INC0010003");
  ASSERT_NE(e, nullptr);
  std::vector<std::string> ids;
  for (const v1::WorkItemEvent& ev : r->events) {
    if (ev.item_id() == "INC0010003") ids.push_back(ev.event_id());
  }
  EXPECT_THAT(ids,
              ElementsAre("snow:INC0010003:created:2026-11-04T08:00:00Z:0",
                          "snow:INC0010003:assigned:2026-11-04T08:00:00Z:0",
                          "snow:INC0010003:assigned:2026-11-04T08:30:00Z:0",
                          "snow:INC0010003:active:2026-11-04T08:30:00Z:0",
                          "snow:INC0010003:assigned:2026-11-04T10:00:00Z:0",
                          "snow:INC0010003:assigned:2026-11-04T12:00:00Z:0",
                          "snow:INC0010003:resolved:2026-11-04T13:00:00Z:0",
                          "snow:INC0010003:reopened:2026-11-05T09:00:00Z:0",
                          "snow:INC0010003:resolved:2026-11-05T11:00:00Z:0",
                          "snow:INC0010003:closed:2026-11-08T11:00:00Z:0"));
}

TEST_F(ServiceNowTest, JsonGivesTheSameEventsAsCsv) {
  // The JSON export holds display values in the user's zone (Berlin) and
  // stored values in UTC, and group names beside their sys_ids: no zone and
  // no team_map needed, and every event matches the CSV import's.
  auto from_csv = ImportServiceNow(csv_file_, audit_file_, AuditOptions());
  auto from_json = ImportServiceNow(json_file_, audit_file_, Options());
  ASSERT_TRUE(from_csv.ok()) << from_csv.status();
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  EXPECT_EQ(Serialized(*from_json), Serialized(*from_csv));
  EXPECT_EQ(from_json->counts.records, 9);
  EXPECT_EQ(from_json->counts.items, 8);
  EXPECT_THAT(
      Strings(from_json->errors),
      ElementsAre("incidents.json[3]: INC0010012: opened_at: \"yesterday\" is "
                  "not a time (expected YYYY-MM-DD)",
                  ::testing::StartsWith("audit.csv:22: INC0010003"),
                  ::testing::StartsWith("audit.csv:25: INC0010011")));
  // Stored values are UTC whatever the zone option says.
  ImportOptions berlin = Options();
  berlin.time_zone = "Europe/Berlin";
  auto in_berlin = ImportServiceNow(json_file_, std::nullopt, berlin);
  ASSERT_TRUE(in_berlin.ok()) << in_berlin.status();
  EXPECT_EQ(Time(First(*in_berlin, "INC0010001")->time()),
            "2026-11-02T08:15:00Z");
  // A plain array works too.
  const std::string plain = absl::StrCat(
      "[{\"number\": \"INC1\", \"opened_at\": \"2026-11-02 08:00:00\", "
      "\"resolved_at\": \"2026-11-02 09:00:00\", \"made_sla\": true, "
      "\"reassignment_count\": 2, \"assignment_group\": {\"display_value\": "
      "\"Service Desk\", \"link\": \"https://x\"}, \"extra\": [1, 2]}]");
  auto r = ImportServiceNow({"plain.json", plain}, std::nullopt, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Events(*r, "INC1"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T08:00:00Z teams/service-desk",
                          "RESOLVED 2026-11-02T09:00:00Z sla_met"));
  EXPECT_EQ(r->events[0].labels().at("reassignment_count"), "2");
  // Missing optional columns are named in warnings.
  EXPECT_THAT(
      Strings(r->warnings),
      ElementsAre("plain.json: no \"closed_at\" column; see README.md"));
}

TEST_F(ServiceNowTest, ReimportGivesIdenticalIds) {
  auto first = ImportServiceNow(csv_file_, audit_file_, AuditOptions());
  auto second = ImportServiceNow(csv_file_, audit_file_, AuditOptions());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(Serialized(*first), Serialized(*second));
  std::set<std::string> ids;
  for (const auto& e : first->events) ids.insert(e.event_id());
  EXPECT_EQ(ids.size(), first->events.size()) << "ids are unique";
}

TEST_F(ServiceNowTest, TimeZoneOptionReadsLocalTimes) {
  ImportOptions o = Options();
  o.time_zone = "Europe/Berlin";
  auto r = ImportServiceNow(csv_file_, std::nullopt, o);
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::WorkItemEvent* e = First(*r, "INC0010001");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Time(e->time()), "2026-11-02T07:15:00Z");
  EXPECT_EQ(e->event_id(), "snow:INC0010001:created:2026-11-02T07:15:00Z:0");
}

TEST_F(ServiceNowTest, ListViewLabelsAndInconsistentRows) {
  // Column labels of a list export; a state that contradicts the dates and
  // an unknown state are imported with warnings; a duplicate is skipped.
  const std::string csv =
      "Number,Opened,Resolved,Closed,State,Assignment group,Made SLA,Channel,"
      "Priority,Service\n"
      "INC1,2026-11-02 08:00:00,2026-11-02 09:00:00,,In Progress,Desk,false,"
      "Phone,1 - Critical,Email\n"
      "INC2,2026-11-02 08:00:00,2026-11-02 09:00:00,,Mystery,Desk,maybe,,,\n"
      "INC3,2026-11-02 08:00:00,,2026-11-02 10:00:00,Closed,Desk,TRUE,,,\n"
      "INC1,2026-11-02 08:00:00,,,New,Desk,false,,,\n"
      "INC4,2026-11-02 08:00:00,,,Mystery,Desk,false,,,\n"
      "INC5,2026-11-02 08:00:00,,,New,\"Desk\"\n";
  ImportOptions o = Options();
  o.service_map = {{"Email", "svc-email"}};
  auto r = ImportServiceNow({"list.csv", csv}, std::nullopt, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Strings(r->errors),
              ElementsAre("list.csv:3: INC2: made_sla: \"maybe\" is not true "
                          "or false",
                          "list.csv:5: INC1: number: duplicate of the record "
                          "at line 2",
                          "list.csv:7: has 6 fields, the header has 10"));
  EXPECT_THAT(
      Strings(r->warnings),
      ElementsAre("list.csv:2: INC1: state is In Progress but resolved_at or "
                  "closed_at is set; the item is imported as open",
                  "list.csv:6: INC4: state \"Mystery\" is unknown; "
                  "resolved_at and closed_at decide"));
  EXPECT_THAT(Events(*r, "INC1"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T08:00:00Z teams/desk"));
  EXPECT_EQ(First(*r, "INC1")->service(), "svc-email");
  EXPECT_EQ(First(*r, "INC1")->labels().at("contact_type"), "Phone");
  EXPECT_EQ(First(*r, "INC1")->labels().at("priority"), "P1");
  // Closed without resolved_at: resolved when closed.
  EXPECT_THAT(Events(*r, "INC3"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T08:00:00Z teams/desk",
                          "RESOLVED 2026-11-02T10:00:00Z sla_met",
                          "CLOSED 2026-11-02T10:00:00Z"));
}

TEST_F(ServiceNowTest, UnusableInputsAndOptions) {
  EXPECT_THAT(ImportServiceNow({"x.csv", "id,opened_at\n1,2\n"}, std::nullopt,
                               Options())
                  .status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "x.csv: no \"number\" column"));
  EXPECT_THAT(
      ImportServiceNow({"x.csv", ""}, std::nullopt, Options()).status(),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "x.csv: empty"));
  EXPECT_THAT(
      ImportServiceNow({"x.json", "{\"result\": [}"}, std::nullopt, Options())
          .status(),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                     "x.json: not valid JSON"));
  EXPECT_THAT(
      ImportServiceNow({"x.json", "{\"rows\": []}"}, std::nullopt, Options())
          .status(),
      AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "\"result\""));
  EXPECT_THAT(ImportServiceNow(csv_file_, InputFile{"a.csv", "documentkey,x\n"},
                               Options())
                  .status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "a.csv: no \"fieldname\" column"));
  ImportOptions o = Options();
  o.value_stream = "";
  EXPECT_THAT(ImportServiceNow(csv_file_, std::nullopt, o).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "value_stream: required"));
  o = Options();
  o.time_zone = "Mars/Olympus";
  EXPECT_THAT(ImportServiceNow(csv_file_, std::nullopt, o).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "time_zone"));
  o = Options();
  o.team_map = {{"Service Desk", "Service Desk"}};
  EXPECT_THAT(ImportServiceNow(csv_file_, std::nullopt, o).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "team_map[\"Service Desk\"]"));
  // A JSON element that is not an object is a record error.
  auto r = ImportServiceNow({"x.json",
                             "[1, {\"number\": \"INC1\", "
                             "\"opened_at\": \"2026-11-02 08:00:00\"}]"},
                            std::nullopt, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Strings(r->errors),
              ElementsAre("x.json[0]: is not a JSON object"));
  EXPECT_EQ(r->counts.items, 1);
}

// --- Jira
// ----------------------------------------------------------------------

class JiraTest : public ::testing::Test {
 protected:
  ImportOptions JiraOptions() {
    ImportOptions o = Options();
    o.jira.sla_field = "Time to resolution";
    return o;
  }
  const std::string json_ = ReadData("jira_issues.json");
  const InputFile file_{"issues.json", json_};
};

TEST_F(JiraTest, ImportsIssuesWithTheirChangelog) {
  auto r = ImportJira(file_, JiraOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(
      Strings(r->errors),
      ElementsAre("issues.json[4]: OPS-105: fields.created: \"yesterday\" is "
                  "not a time (expected YYYY-MM-DD)",
                  "issues.json[6]: key: required"));
  EXPECT_THAT(Strings(r->warnings),
              ElementsAre("issues.json[5]: OPS-106: status \"Triage\" is not "
                          "in the status mapping; treated as active"));
  EXPECT_EQ(r->counts.records, 7);
  EXPECT_EQ(r->counts.items, 5);
  EXPECT_EQ(r->counts.skipped, 2);
  EXPECT_EQ(r->counts.history_records, 17);
  EXPECT_THAT(r->teams, ElementsAre("teams/payments", "teams/platform",
                                    "teams/service-desk", "teams/sre"));

  EXPECT_THAT(Events(*r, "OPS-101"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T08:00:00Z teams/platform",
                          "ACTIVE 2026-11-02T09:00:00Z",
                          "RESOLVED 2026-11-03T11:00:00Z sla_met"));
  const v1::WorkItemEvent* e = First(*r, "OPS-101");
  EXPECT_EQ(e->event_id(), "jira:OPS-101:created:2026-11-02T08:00:00Z:0");
  EXPECT_EQ(e->item_type(), v1::ITEM_TYPE_DEFECT);
  EXPECT_EQ(e->service(), "checkout");
  EXPECT_THAT(
      e->labels(),
      UnorderedElementsAre(Pair("source", "jira"), Pair("issue_type", "Bug"),
                           Pair("priority", "High"), Pair("project", "OPS")));
  // A team change is a handoff; the assignee never is.
  EXPECT_THAT(Events(*r, "OPS-102"),
              ElementsAre("CREATED 2026-11-04T08:00:00Z",
                          "ASSIGNED 2026-11-04T08:00:00Z teams/platform",
                          "ACTIVE 2026-11-05T09:00:00Z",
                          "ASSIGNED 2026-11-06T11:00:00Z teams/payments",
                          "RESOLVED 2026-11-10T16:30:00Z"));
  EXPECT_EQ(First(*r, "OPS-102")->item_type(), v1::ITEM_TYPE_FEATURE);
  // Resolved, reopened, resolved again, closed; one SLA cycle breached.
  EXPECT_THAT(
      Events(*r, "OPS-103"),
      ElementsAre(
          "CREATED 2026-11-06T03:10:00Z",
          "ASSIGNED 2026-11-06T03:10:00Z teams/sre",
          "ACTIVE 2026-11-06T03:30:00Z", "RESOLVED 2026-11-06T07:00:00Z",
          "REOPENED 2026-11-06T14:15:00Z", "ACTIVE 2026-11-06T15:00:00Z",
          "RESOLVED 2026-11-07T19:00:00Z", "CLOSED 2026-11-10T19:00:00Z"));
  EXPECT_EQ(First(*r, "OPS-103")->item_type(), v1::ITEM_TYPE_INCIDENT);
  const evaluator::DerivedItem ops103 = Derive(*r, "OPS-103");
  EXPECT_TRUE(ops103.resolved);
  EXPECT_TRUE(ops103.reopened);
  EXPECT_DOUBLE_EQ(ops103.wait_time, 7.25 * 3600);  // 07:00 to 14:15
  // Waiting for the customer; "Waiting for support" is the queue.
  EXPECT_THAT(Events(*r, "OPS-104"),
              ElementsAre("CREATED 2026-11-09T09:00:00Z",
                          "ASSIGNED 2026-11-09T09:00:00Z teams/service-desk",
                          "WAITING 2026-11-09T09:30:00Z customer",
                          "ACTIVE 2026-11-10T08:00:00Z",
                          "RESOLVED 2026-11-10T10:00:00Z sla_met"));
  EXPECT_EQ(First(*r, "OPS-104")->item_type(), v1::ITEM_TYPE_REQUEST);
  // Won't Do: resolved in Jira's eyes, cancelled in ours.
  EXPECT_THAT(
      Events(*r, "OPS-106"),
      ElementsAre("CREATED 2026-11-11T08:00:00Z", "ACTIVE 2026-11-11T09:00:00Z",
                  "RESOLVED 2026-11-12T08:00:00Z",
                  "CANCELLED 2026-11-12T08:00:00Z"));
  EXPECT_EQ(First(*r, "OPS-106")->item_type(), v1::ITEM_TYPE_UNSPECIFIED);
  EXPECT_TRUE(Derive(*r, "OPS-106").cancelled);

  auto again = ImportJira(file_, JiraOptions());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Serialized(*again), Serialized(*r));
}

TEST_F(JiraTest, OptionsChangeTheMapping) {
  ImportOptions o = JiraOptions();
  o.jira.status_map = {{"triage", StatusPhase::kWaiting}};
  o.jira.cancelled_resolutions.clear();
  o.jira.team_field = "assignee";
  o.team_map = {{"Mia Krystof", "platform"}};
  auto r = ImportJira(file_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Strings(r->warnings), IsEmpty());
  EXPECT_THAT(Events(*r, "OPS-106"),
              ElementsAre("CREATED 2026-11-11T08:00:00Z",
                          "WAITING 2026-11-11T09:00:00Z triage",
                          "RESOLVED 2026-11-12T08:00:00Z"));
  // The assignee as team: none when created, Mia an hour later.
  EXPECT_THAT(Events(*r, "OPS-101"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T09:00:00Z teams/platform",
                          "ACTIVE 2026-11-02T09:00:00Z",
                          "RESOLVED 2026-11-03T11:00:00Z sla_met"));
  // Without an SLA field, sla_met is false.
  o.jira.sla_field.clear();
  r = ImportJira(file_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Events(*r, "OPS-101").back(), "RESOLVED 2026-11-03T11:00:00Z");
}

TEST_F(JiraTest, WithoutChangelogAndTruncated) {
  const std::string json = R"([
    {"key": "A-1", "fields": {"created": "2026-11-02T08:00:00.000+0000",
      "resolutiondate": "2026-11-03T08:00:00.000+0000",
      "status": {"name": "Done"}, "issuetype": {"name": "Epic"},
      "customfield_10001": "Core"}},
    {"key": "A-2", "fields": {"created": "2026-11-02T08:00:00.000+0000",
      "status": {"name": "Cancelled"}, "customfield_10001": ["", "Core"]}},
    {"key": "A-3", "fields": {"created": "2026-11-02T08:00:00.000+0000",
      "status": {"name": "Working", "statusCategory": {"key": "indeterminate"}}},
     "changelog": {"total": 2, "histories": [
       {"created": "2026-11-02T09:00:00.000+0000", "items": [
         {"field": "status", "fromString": "Open", "toString": "Working"}]}]}},
    {"key": "A-4", "fields": {"created": "2026-11-02T08:00:00.000+0000"},
     "changelog": {"histories": [{"created": "soon", "items": []}]}},
    {"key": "A-1", "fields": {"created": "2026-11-02T08:00:00.000+0000"}}
  ])";
  ImportOptions o = Options();
  o.jira.team_field = "customfield_10001";
  auto r = ImportJira({"a.json", json}, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Events(*r, "A-1"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T08:00:00Z teams/core",
                          "RESOLVED 2026-11-03T08:00:00Z"));
  EXPECT_EQ(First(*r, "A-1")->item_type(), v1::ITEM_TYPE_FEATURE);
  EXPECT_THAT(Events(*r, "A-2"),
              ElementsAre("CREATED 2026-11-02T08:00:00Z",
                          "ASSIGNED 2026-11-02T08:00:00Z teams/core",
                          "CANCELLED 2026-11-02T08:00:00Z"));
  // An unknown status that is the current one takes its category.
  EXPECT_THAT(Events(*r, "A-3"), ElementsAre("CREATED 2026-11-02T08:00:00Z",
                                             "ACTIVE 2026-11-02T09:00:00Z"));
  EXPECT_THAT(Strings(r->errors),
              ElementsAre("a.json[3]: A-4: changelog.histories[0].created: "
                          "\"soon\" is not a time (expected YYYY-MM-DD)",
                          "a.json[4]: A-1: key: duplicate of the issue at "
                          "index 0"));
  EXPECT_THAT(Strings(r->warnings),
              ElementsAre("a.json[2]: A-3: the changelog holds 1 of 2 "
                          "histories; fetch the whole changelog",
                          "a.json: 2 issues have no changelog (export with "
                          "expand=changelog): their status and team history "
                          "is unknown"));
  EXPECT_THAT(ImportJira({"b.json", "{\"total\": 0}"}, o).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "b.json: expected an object with an \"issues\""));
  EXPECT_THAT(ImportJira({"b.json", "{"}, o).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "b.json: not valid JSON"));
}

// The shape a real Jira Server search response had: no resolution, an
// in-progress status, and a resolutiondate 22 ms before created (DEV-9) or
// after it (DEV-10). Neither is resolved; each gets a warning.
TEST_F(JiraTest, StaleResolutionDateIsAWarningNeverAnEvent) {
  const std::string json = ReadData("../webhooks/jira_stale_resolution.json");
  auto r = ImportJira({"stale.json", json}, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Events(*r, "DEV-9"),
              ElementsAre("CREATED 2026-11-21T08:00:00.022Z"));
  EXPECT_THAT(Events(*r, "DEV-10"),
              ElementsAre("CREATED 2026-11-21T08:00:00Z"));
  EXPECT_THAT(
      Strings(r->warnings),
      ElementsAre("stale.json[0]: DEV-9: resolutiondate "
                  "2026-11-21T08:00:00.000+0000 is before created; ignored",
                  "stale.json[1]: DEV-10: resolutiondate is set but the issue "
                  "has no resolution and its status \"In Progress\" is not "
                  "done; ignored"));
  EXPECT_FALSE(Derive(*r, "DEV-9").resolved);
  // The same issue through a webhook: the same mapping.
  const std::string delivery = absl::StrCat(
      R"({"webhookEvent": "jira:issue_created", "issue": )",
      R"({"key": "DEV-9", "fields": {"created": "2026-11-21T08:00:00.022+0000",)",
      R"("status": {"name": "In Progress"}, "resolution": null,)",
      R"("resolutiondate": "2026-11-21T08:00:00.000+0000"}}})");
  auto w = ImportJiraWebhook({"body", delivery}, Options());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_THAT(Events(*w, "DEV-9"),
              ElementsAre("CREATED 2026-11-21T08:00:00.022Z",
                          "ACTIVE 2026-11-21T08:00:00.022Z"));
}

// --- Webhooks
// ------------------------------------------------------------------

std::set<std::string> Ids(const std::vector<const ImportResult*>& results) {
  std::set<std::string> ids;
  for (const ImportResult* r : results) {
    for (const v1::WorkItemEvent& e : r->events) ids.insert(e.event_id());
  }
  return ids;
}

class WebhookTest : public ::testing::Test {
 protected:
  static ImportOptions JiraOptions() {
    ImportOptions o = Options();
    o.jira.team_field = "customfield_10001";
    return o;
  }
  static ImportResult Jira(const std::string& name) {
    const std::string text = ReadData(absl::StrCat("../webhooks/", name));
    auto r = ImportJiraWebhook({"body", text}, JiraOptions());
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *std::move(r) : ImportResult();
  }
  static ImportResult ServiceNow(const std::string& name) {
    const std::string text = ReadData(absl::StrCat("../webhooks/", name));
    auto r = ImportServiceNowWebhook({"body", text}, Options());
    EXPECT_TRUE(r.ok()) << name << ": " << r.status();
    return r.ok() ? *std::move(r) : ImportResult();
  }
};

// Three deliveries for DEV-7 give, between them, exactly the events (and
// event ids) of a later import of its full changelog: nothing counts twice.
TEST_F(WebhookTest, JiraDeliveriesGiveTheEventsOfALaterImport) {
  const ImportResult created = Jira("jira_issue_created.json");
  EXPECT_THAT(Events(created, "DEV-7"),
              ElementsAre("CREATED 2026-11-20T09:00:00Z",
                          "ASSIGNED 2026-11-20T09:00:00Z teams/platform"));
  EXPECT_THAT(created.teams, ElementsAre("teams/platform"));
  // Three changelog items: status, Team, assignee (a person: no event).
  const ImportResult updated = Jira("jira_issue_updated.json");
  EXPECT_THAT(Events(updated, "DEV-7"),
              ElementsAre("ASSIGNED 2026-11-20T10:30:00Z teams/payments",
                          "ACTIVE 2026-11-20T10:30:00Z"));
  EXPECT_EQ(First(updated, "DEV-7")->event_id(),
            "jira:DEV-7:assigned:2026-11-20T10:30:00Z:0");
  EXPECT_EQ(First(updated, "DEV-7")->service(), "Checkout");
  const ImportResult resolved = Jira("jira_issue_resolved.json");
  EXPECT_THAT(Events(resolved, "DEV-7"),
              ElementsAre("RESOLVED 2026-11-21T10:00:00Z"));

  const std::string export_text = ReadData("../webhooks/jira_export_dev7.json");
  auto later = ImportJira({"export.json", export_text}, JiraOptions());
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(Ids({&created, &updated, &resolved}), Ids({&*later}));
  EXPECT_EQ(Serialized(Jira("jira_issue_updated.json")), Serialized(updated));
}

TEST_F(WebhookTest, JiraOtherEventsAndDeletion) {
  const ImportResult comment = Jira("jira_comment_created.json");
  EXPECT_THAT(comment.events, IsEmpty());
  EXPECT_EQ(comment.ignored,
            "webhookEvent \"comment_created\" is not an issue event");
  // An open issue deleted is dropped; a resolved one is left as it was.
  const ImportResult deleted = Jira("jira_issue_deleted.json");
  EXPECT_THAT(Events(deleted, "DEV-8"),
              ElementsAre("CANCELLED 2026-11-21T11:00:00Z"));
  auto done = ImportJiraWebhook(
      {"body", R"({"webhookEvent": "jira:issue_deleted", "timestamp": 1,
                  "issue": {"key": "DEV-1", "fields": {"status":
                  {"name": "Done"}}}})"},
      JiraOptions());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(done->events, IsEmpty());
  EXPECT_EQ(done->ignored, "deleted after its resolution");
}

TEST_F(WebhookTest, MalformedDeliveriesAreRefusedWhole) {
  const auto jira = [](absl::string_view body) {
    return ImportJiraWebhook({"body", body}, JiraOptions()).status();
  };
  EXPECT_THAT(jira("{"), AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                                        "body: not valid JSON"));
  EXPECT_THAT(jira("[]"), AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                                         "body: expected a JSON object"));
  EXPECT_THAT(jira(R"({"webhookEvent": "jira:issue_updated"})"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "body: issue: required, with key and fields"));
  EXPECT_THAT(jira(R"({"webhookEvent": "jira:issue_updated", "issue":
                     {"key": "A-1", "fields": {"created":
                     "2026-11-20T09:00:00Z", "updated": "later"}}})"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "body: issue.fields.updated: \"later\" is not a "
                             "time"));
  EXPECT_THAT(jira(R"({"webhookEvent": "jira:issue_deleted", "issue":
                     {"key": "A-1", "fields": {}}})"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "body: timestamp: required"));
  const auto snow = [](absl::string_view body) {
    return ImportServiceNowWebhook({"body", body}, Options()).status();
  };
  EXPECT_THAT(snow(R"({"number": "INC1", "opened_at": "yesterday"})"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "body: INC1: opened_at: \"yesterday\" is not a "
                             "time"));
  EXPECT_THAT(snow(R"({"number": "INC1", "vla_operation": "upsert"})"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "body: vla_operation: expected"));
  EXPECT_THAT(snow(R"({"number": "INC1", "vla_changes": [{"fieldname":
                     "state"}]})"),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "body: sys_updated_on and number: required"));
}

// An incident inserted, reassigned and started, then resolved: the
// deliveries give the events of a later import with its sys_audit rows.
TEST_F(WebhookTest, ServiceNowDeliveriesGiveTheEventsOfALaterImport) {
  const ImportResult inserted = ServiceNow("servicenow_insert.json");
  EXPECT_THAT(Events(inserted, "INC0020001"),
              ElementsAre("CREATED 2026-11-20T09:00:00Z",
                          "ASSIGNED 2026-11-20T09:00:00Z teams/service-desk"));
  const ImportResult assigned = ServiceNow("servicenow_update_assigned.json");
  EXPECT_THAT(
      Events(assigned, "INC0020001"),
      ElementsAre("ASSIGNED 2026-11-20T10:00:00Z teams/network-operations",
                  "ACTIVE 2026-11-20T10:00:00Z"));
  const ImportResult resolved = ServiceNow("servicenow_update_resolved.json");
  EXPECT_THAT(Events(resolved, "INC0020001"),
              ElementsAre("RESOLVED 2026-11-20T12:00:00Z sla_met"));

  const std::string incidents = R"([{"number": "INC0020001",
      "sys_id": "9d385017c611228701d22104cc95c371",
      "opened_at": "2026-11-20 09:00:00", "resolved_at": "2026-11-20 12:00:00",
      "state": "6", "made_sla": "true",
      "assignment_group": {"value": "287ebd7da9fe198100f92cc8d1d2154e",
                           "display_value": "Network Operations"}}])";
  const std::string audit = absl::StrCat(
      R"([{"documentkey": "9d385017c611228701d22104cc95c371",
          "fieldname": "assignment_group", "oldvalue": ")",
      kSd, R"(", "newvalue": ")", kNet,
      R"(", "sys_created_on": "2026-11-20 10:00:00"},
         {"documentkey": "9d385017c611228701d22104cc95c371",
          "fieldname": "state", "oldvalue": "1", "newvalue": "2",
          "sys_created_on": "2026-11-20 10:00:00"},
         {"documentkey": "9d385017c611228701d22104cc95c371",
          "fieldname": "state", "oldvalue": "2", "newvalue": "6",
          "sys_created_on": "2026-11-20 12:00:00"}])");
  auto later =
      ImportServiceNow({"incident.json", incidents},
                       InputFile{"sys_audit.json", audit}, AuditOptions());
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(Ids({&inserted, &assigned, &resolved}), Ids({&*later}));
}

// --- Untrusted input ---------------------------------------------------------

// Every event is complete and every id unique, whatever the input.
void CheckWellFormed(const ImportResult& r) {
  std::set<std::string> ids;
  for (const v1::WorkItemEvent& e : r.events) {
    ASSERT_FALSE(e.event_id().empty());
    ASSERT_TRUE(ids.insert(e.event_id()).second) << e.event_id();
    ASSERT_FALSE(e.item_id().empty());
    ASSERT_EQ(e.value_stream(), "valueStreams/incident");
    ASSERT_NE(e.kind(), v1::EVENT_KIND_UNSPECIFIED);
    ASSERT_TRUE(e.has_time() && IsValidProtoTime(e.time()));
    ASSERT_EQ(e.kind() == v1::EVENT_KIND_ASSIGNED, !e.team().empty());
  }
  ASSERT_EQ(r.counts.events, static_cast<int>(r.events.size()));
}

TEST(ImportersRobustnessTest, MutatedExportsNeverCrash) {
  // Seeded byte mutations of every sample (flip, delete, duplicate a
  // slice, insert a quote, comma or line break): each import either fails
  // as a whole or yields well-formed events. Run under the sanitizers too.
  std::mt19937 rng(20261127);
  const std::vector<std::string> samples = {
      ReadData("servicenow_incidents.csv"),
      ReadData("servicenow_incidents.json"), ReadData("servicenow_audit.csv"),
      ReadData("jira_issues.json")};
  const std::string audit = samples[2];
  int imported = 0;
  for (int round = 0; round < 240; ++round) {
    const size_t which = round % samples.size();
    std::string text = samples[which];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !text.empty(); ++k) {
      const size_t pos = rng() % text.size();
      switch (rng() % 5) {
        case 0:
          text[pos] = static_cast<char>(rng() % 256);
          break;
        case 1:
          text.erase(pos, 1 + rng() % 40);
          break;
        case 2:
          text.insert(pos, text.substr(pos, rng() % 80));
          break;
        case 3:
          text.insert(pos, 1, "\",\n\r{}[]:"[rng() % 9]);
          break;
        default:
          text.resize(pos);
          break;
      }
    }
    absl::StatusOr<ImportResult> r =
        which == 3 ? ImportJira({"m.json", text}, Options())
        : which == 2
            ? ImportServiceNow({"i.csv", samples[0]}, InputFile{"m.csv", text},
                               AuditOptions())
            : ImportServiceNow({"m", text}, InputFile{"a.csv", audit},
                               AuditOptions());
    if (!r.ok()) continue;
    ++imported;
    ASSERT_NO_FATAL_FAILURE(CheckWellFormed(*r)) << "round " << round;
  }
  EXPECT_GT(imported, 120) << "most mutations still import";
}

// --- On a real server
// ----------------------------------------------------------

TEST(ImportersServerTest, ImportedEventsAreAcceptedOnceThenDuplicates) {
  testing::TestServer server(testing::FastOptions());
  auto snow = ImportServiceNow(
      {"incidents.csv", ReadData("servicenow_incidents.csv")},
      InputFile{"audit.csv", ReadData("servicenow_audit.csv")}, AuditOptions());
  auto jira =
      ImportJira({"issues.json", ReadData("jira_issues.json")}, Options());
  ASSERT_TRUE(snow.ok() && jira.ok());

  std::set<std::string> teams(snow->teams.begin(), snow->teams.end());
  teams.insert(jira->teams.begin(), jira->teams.end());
  teams.insert("teams/business");
  for (const std::string& name : teams) {
    v1::CreateTeamRequest req;
    req.set_team_id(name.substr(6));
    *req.mutable_team() =
        testing::MakeTeam(name == "teams/business" ? v1::TEAM_KIND_CONSUMER
                                                   : v1::TEAM_KIND_PROVIDER);
    v1::Team out;
    VLA_ASSERT_OK(server.vmdb().CreateTeam(Ctx().get(), req, &out));
  }
  v1::CreateValueStreamRequest vs;
  vs.set_value_stream_id("incident");
  *vs.mutable_value_stream() = testing::MakeValueStream(
      "teams/business", {"teams/service-desk", "teams/network-operations"});
  v1::ValueStream vs_out;
  VLA_ASSERT_OK(server.vmdb().CreateValueStream(Ctx().get(), vs, &vs_out));

  v1::GetValueStreamFlowRequest flow_req;
  flow_req.set_value_stream("valueStreams/incident");
  *flow_req.mutable_time() = ToProtoTime(
      absl::FromCivil(absl::CivilDay(2026, 11, 20), absl::UTCTimeZone()));
  flow_req.mutable_window()->set_seconds(30 * 86400);
  v1::ValueStreamFlow flow;
  // The evaluator follows the VMDB: wait until it knows the stream.
  ASSERT_TRUE(Eventually([&] {
    return server.evaluation()
        .GetValueStreamFlow(Ctx().get(), flow_req, &flow)
        .ok();
  }));

  v1::IngestRequest req;
  for (const auto* r : {&*snow, &*jira}) {
    for (const v1::WorkItemEvent& e : r->events)
      *req.add_work_item_events() = e;
  }
  const int n = req.work_item_events_size();
  ASSERT_EQ(n, snow->counts.events + jira->counts.events);
  const auto ingest = [&] {
    v1::IngestResponse resp;
    grpc::Status s;
    EXPECT_TRUE(Eventually([&] {
      resp.Clear();
      s = server.evaluation().IngestBatch(Ctx().get(), req, &resp);
      return s.error_code() != StatusCode::UNAVAILABLE;
    }));
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  v1::IngestResponse first = ingest();
  EXPECT_EQ(first.accepted(), n);
  EXPECT_EQ(first.duplicates(), 0);
  for (const v1::Rejection& rej : first.rejected()) {
    ADD_FAILURE() << req.work_item_events(rej.index()).event_id() << ": "
                  << rej.reason();
  }
  v1::IngestResponse second = ingest();
  EXPECT_EQ(second.accepted(), 0);
  EXPECT_EQ(second.duplicates(), n);
  EXPECT_THAT(second.rejected(), IsEmpty());

  // The stream's map from the imported history: the seams of INC0010002,
  // INC0010003 (ping-pong) and OPS-102.
  ASSERT_TRUE(Eventually([&] {
    return server.evaluation()
               .GetValueStreamFlow(Ctx().get(), flow_req, &flow)
               .ok() &&
           flow.resolved_items() == 10;
  })) << flow.DebugString();
  EXPECT_EQ(flow.ping_pong_items(), 1);
  std::vector<std::string> seams;
  for (const v1::Seam& s : flow.seams()) {
    seams.push_back(
        absl::StrCat(s.from_team(), ">", s.to_team(), " ", s.handoffs()));
  }
  EXPECT_THAT(seams, UnorderedElementsAre(
                         "teams/service-desk>teams/network-operations 2",
                         "teams/network-operations>teams/database-team 1",
                         "teams/database-team>teams/network-operations 1",
                         "teams/platform>teams/payments 1"));
}

}  // namespace
}  // namespace vla::importers
