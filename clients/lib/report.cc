#include "clients/lib/report.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/enum_names.h"
#include "common/format_value.h"
#include "common/names.h"
#include "common/proto_time.h"

namespace vla::client {
namespace {

// The clause states worth naming, worst first.
int Severity(v1::ClauseState s) {
  switch (s) {
    case v1::CLAUSE_STATE_BREACHED:
      return 3;
    case v1::CLAUSE_STATE_DISPUTED:
      return 2;
    case v1::CLAUSE_STATE_AT_RISK:
      return 1;
    default:
      return 0;
  }
}

std::string Worst(const v1::VlaStatus& status) {
  std::vector<const v1::ClauseStatus*> bad;
  for (const v1::ClauseStatus& c : status.clauses()) {
    if (Severity(c.state()) > 0) bad.push_back(&c);
  }
  std::stable_sort(bad.begin(), bad.end(), [](const auto* a, const auto* b) {
    return Severity(a->state()) > Severity(b->state());
  });
  std::vector<std::string> named;
  for (size_t i = 0; i < bad.size() && i < 2; ++i) {
    named.push_back(
        absl::StrCat(IdOf(bad[i]->kvi()), " ", ShortName(bad[i]->state())));
  }
  return named.empty() ? "-" : absl::StrJoin(named, ", ");
}

std::string Share(double fraction) { return FormatValue(fraction, "%"); }

double ShareOf(const v1::PeriodReport& p, v1::ComplianceState state) {
  for (const v1::StateShare& s : p.time_in_state()) {
    if (s.state() == state) return s.fraction();
  }
  return 0;
}

absl::TimeZone ZoneOf(const v1::VlaReport& report) {
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!report.time_zone().empty()) {
    (void)absl::LoadTimeZone(report.time_zone(), &tz);
  }
  return tz;
}

}  // namespace

std::string PeriodLabel(const v1::VlaReport& report,
                        const v1::PeriodReport& period) {
  const absl::CivilSecond start =
      absl::ToCivilSecond(FromProtoTime(period.period_start()), ZoneOf(report));
  std::string label;
  switch (report.period()) {
    case v1::CALENDAR_PERIOD_QUARTER:
      label = absl::StrFormat("%04d-Q%d", start.year(),
                              (start.month() - 1) / 3 + 1);
      break;
    case v1::CALENDAR_PERIOD_YEAR:
      label = absl::StrFormat("%04d", start.year());
      break;
    default:
      label = absl::StrFormat("%04d-%02d", start.year(), start.month());
      break;
  }
  return period.complete() ? label : absl::StrCat(label, " (to date)");
}

TextTable ReportTable(const v1::VlaReport& report) {
  TextTable t;
  t.header = {"PERIOD",   "STATE",       "SCORE",   "MET",
              "AT_RISK",  "BREACHED",    "NO_DATA", "WATERMELON",
              "DISPUTED", "EVALUATIONS", "WORST"};
  for (const v1::PeriodReport& p : report.periods()) {
    const v1::VlaStatus& s = p.status();
    t.rows.push_back(
        {PeriodLabel(report, p), ShortName(s.state()),
         s.state() == v1::COMPLIANCE_STATE_NO_DATA ? "-"
                                                   : OneDecimal(s.score()),
         Share(ShareOf(p, v1::COMPLIANCE_STATE_MET)),
         Share(ShareOf(p, v1::COMPLIANCE_STATE_AT_RISK)),
         Share(ShareOf(p, v1::COMPLIANCE_STATE_BREACHED)),
         Share(ShareOf(p, v1::COMPLIANCE_STATE_NO_DATA)),
         Share(p.watermelon_fraction()), Share(p.disputed_fraction()),
         absl::StrCat(p.evaluations()), Worst(s)});
  }
  return t;
}

std::string ReportTitle(const v1::VlaReport& report) {
  const char* every = "monthly";
  if (report.period() == v1::CALENDAR_PERIOD_QUARTER) every = "quarterly";
  if (report.period() == v1::CALENDAR_PERIOD_YEAR) every = "yearly";
  return absl::StrCat(report.vla(), ": ", every, " compliance (",
                      report.time_zone().empty() ? "UTC" : report.time_zone(),
                      ")");
}

std::string ReportMarkdown(const v1::VlaReport& report) {
  std::string out = absl::StrCat("### ", ReportTitle(report), "\n\n",
                                 ToMarkdown(ReportTable(report)));
  std::string why;
  for (const v1::PeriodReport& p : report.periods()) {
    if (p.status().explanation().empty()) continue;
    absl::StrAppend(&why, "- **", PeriodLabel(report, p),
                    "**: ", p.status().explanation(), "\n");
  }
  if (!why.empty()) absl::StrAppend(&out, "\n", why);
  return out;
}

}  // namespace vla::client
