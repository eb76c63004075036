// A VLA report (EvaluationService.GetVlaReport) for people: one row per
// period, the same in vlactl's table, CSV and Markdown and in the
// governance bot's message.
//
//   client::TextTable t = client::ReportTable(report);
//   std::cout << client::ToCsv(t);
//   bot.Report(client::ReportMarkdown(report));
#ifndef VLA_CLIENTS_LIB_REPORT_H_
#define VLA_CLIENTS_LIB_REPORT_H_

#include <string>

#include "clients/lib/text_table.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::client {

// "2026-03", "2026-Q1" or "2026": the period starting at `start` in the
// report's calendar and time zone, with " (to date)" while it runs.
std::string PeriodLabel(const v1::VlaReport& report,
                        const v1::PeriodReport& period);

// Columns: PERIOD, STATE, SCORE ("-" without data), MET, AT_RISK, BREACHED,
// NO_DATA (shares of the period's time), WATERMELON, DISPUTED (shares),
// EVALUATIONS (published in it), WORST (its two worst clauses, like
// "p90-lead-time BREACHED"; BREACHED before DISPUTED before AT_RISK).
TextTable ReportTable(const v1::VlaReport& report);

// "vlas/x: monthly compliance (Europe/Berlin)".
std::string ReportTitle(const v1::VlaReport& report);

// The title as a heading, the table, then each period's explanation:
// what someone pastes into a review page.
std::string ReportMarkdown(const v1::VlaReport& report);

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_REPORT_H_
