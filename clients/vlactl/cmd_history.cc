// report, history, series: what happened over time.
#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/lib/report.h"
#include "clients/vlactl/cli.h"
#include "clients/vlactl/documents.h"
#include "clients/vlactl/vmdb_client.h"
#include "common/format_value.h"
#include "common/proto_time.h"
#include "vla/v1/evaluation.grpc.pb.h"

namespace vla::vlactl {
namespace {

std::string When(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M", FromProtoTime(t),
                          absl::UTCTimeZone());
}

// The resource named by the command's one argument, of `collection`.
absl::StatusOr<ResourceRef> OneRef(Context& ctx, const std::string& command,
                                   const std::string& collection,
                                   const std::string& example) {
  if (ctx.args().size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": ", example, " is required"));
  }
  absl::StatusOr<ResourceRef> ref = ParseResourceRef(ctx.args()[0]);
  if (!ref.ok()) return ref.status();
  if (ref->kind->collection != collection) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": ", example, " is required"));
  }
  return ref;
}

// `flag` as a duration (default `fallback`), or a usage error.
absl::StatusOr<absl::Duration> DurationFlag(Context& ctx,
                                            const std::string& command,
                                            const std::string& flag,
                                            const std::string& fallback) {
  absl::StatusOr<absl::Duration> d =
      ParseHumanDuration(ctx.Get(flag, fallback));
  if (!d.ok() || *d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": --", flag,
                     " is not a positive duration (like 7d, 12h, 90m)"));
  }
  return d;
}

// --until (RFC 3339 or a date), default now: the end of what is shown.
// The server's clock still says what has ended: a report of a period that
// holds --until covers it up to the server's now.
absl::StatusOr<absl::Time> UntilFlag(Context& ctx, const std::string& command) {
  if (!ctx.Has("until")) return absl::Now();
  absl::StatusOr<google::protobuf::Timestamp> t =
      ParseTimestampText(ctx.Get("until"));
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": --until: ", t.status().message()));
  }
  return FromProtoTime(*t);
}

int RunReport(Context& ctx) {
  absl::StatusOr<ResourceRef> ref = OneRef(ctx, "report", "vlas", "vla/ID");
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  const auto* period_value = FindEnumValue(v1::CalendarPeriod_descriptor(),
                                           ctx.Get("period", "month"));
  if (period_value == nullptr || period_value->number() == 0) {
    return ctx.Usage("report: --period is month, quarter or year");
  }
  const auto period = static_cast<v1::CalendarPeriod>(period_value->number());
  int last = 0;
  if (!absl::SimpleAtoi(ctx.Get("last", "6"), &last) || last < 1 ||
      last > 120) {
    return ctx.Usage("report: --last is a number of periods from 1 to 120");
  }
  const std::string zone = ctx.Get("time-zone");
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!zone.empty() && !absl::LoadTimeZone(zone, &tz)) {
    return ctx.Usage(absl::StrCat("report: --time-zone \"", zone,
                                  "\" is not an IANA time zone (like "
                                  "Europe/Berlin)"));
  }
  absl::StatusOr<absl::Time> until = UntilFlag(ctx, "report");
  if (!until.ok()) return ctx.Usage(std::string(until.status().message()));
  // Any instant in the period `last - 1` periods before the one holding
  // `until`: the server reports every period from the one holding it.
  const int months = period == v1::CALENDAR_PERIOD_QUARTER ? 3
                     : period == v1::CALENDAR_PERIOD_YEAR  ? 12
                                                           : 1;
  const absl::CivilMonth first =
      absl::ToCivilMonth(*until, tz) - months * (last - 1);
  v1::GetVlaReportRequest req;
  req.set_vla(ref->name());
  req.set_period(period);
  req.set_time_zone(zone);
  *req.mutable_start_time() = ToProtoTime(absl::FromCivil(first, tz));
  // Up to and including `until`, so its period is always the last one.
  *req.mutable_end_time() = ToProtoTime(*until + absl::Seconds(1));
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  v1::VlaReport report;
  const grpc::Status s = client::CallWithRetry(
      ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
        return stub->GetVlaReport(c, req, &report);
      });
  if (!s.ok()) return ctx.Fail(s);
  switch (ctx.format()) {
    case Format::kJson:
    case Format::kYaml:
      PrintDocuments(ctx.out(), ctx.format(), {MessageJson(report, true)},
                     false);
      return client::kExitOk;
    case Format::kCsv:
      ctx.out() << client::ToCsv(client::ReportTable(report));
      return client::kExitOk;
    case Format::kMarkdown:
      ctx.out() << client::ReportMarkdown(report);
      return client::kExitOk;
    case Format::kTable:
      break;
  }
  const client::TextTable rows = client::ReportTable(report);
  Table t(rows.header);
  for (const std::vector<std::string>& row : rows.rows) {
    std::vector<Table::Cell> cells(row.begin(), row.end());
    cells[1].color = ColorForState(row[1]);  // STATE
    t.AddRow(std::move(cells));
  }
  ctx.out() << client::ReportTitle(report) << "\n\n";
  t.Print(ctx.out(), ctx.color());
  if (report.periods_size() > 0) {
    const v1::PeriodReport& current = *report.periods().rbegin();
    ctx.out() << "\n"
              << client::PeriodLabel(report, current) << ": "
              << current.status().explanation() << "\n";
  }
  return client::kExitOk;
}

int RunHistory(Context& ctx) {
  absl::StatusOr<ResourceRef> ref = OneRef(ctx, "history", "vlas", "vla/ID");
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  absl::StatusOr<absl::Duration> since =
      DurationFlag(ctx, "history", "since", "7d");
  if (!since.ok()) return ctx.Usage(std::string(since.status().message()));
  absl::StatusOr<absl::Time> until = UntilFlag(ctx, "history");
  if (!until.ok()) return ctx.Usage(std::string(until.status().message()));
  v1::ListVlaEvaluationsRequest req;
  req.set_vla(ref->name());
  *req.mutable_start_time() = ToProtoTime(*until - *since);
  *req.mutable_end_time() = ToProtoTime(*until);
  req.set_page_size(1000);
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  std::vector<v1::VlaStatus> evaluations;
  do {
    v1::ListVlaEvaluationsResponse resp;
    const grpc::Status s = client::CallWithRetry(
        ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
          return stub->ListVlaEvaluations(c, req, &resp);
        });
    if (!s.ok()) return ctx.Fail(s);
    for (v1::VlaStatus& e : *resp.mutable_evaluations()) {
      evaluations.push_back(std::move(e));
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (IsDocumentFormat(ctx.format())) {
    std::vector<std::string> docs;
    for (const v1::VlaStatus& e : evaluations) {
      docs.push_back(MessageJson(e, true));
    }
    PrintDocuments(
        ctx.out(), ctx.format(),
        {absl::StrCat("{\"vla\":\"", ref->name(), "\",\"evaluations\":[",
                      absl::StrJoin(docs, ","), "]}")},
        false);
    return client::kExitOk;
  }
  Table t({"TIME (UTC)", "REVISION", "STATE", "SCORE", "WATERMELON", "DISPUTED",
           "EXPLANATION"});
  for (const v1::VlaStatus& e : evaluations) {
    const std::string state = ShortName(e.state());
    t.AddRow(
        {When(e.evaluate_time()), absl::StrCat(e.vla_revision()),
         Table::Cell(state, ColorForState(state)),
         e.state() == v1::COMPLIANCE_STATE_NO_DATA ? "-" : Number(e.score(), 1),
         e.watermelon() ? Table::Cell("yes", Color::kRed) : "no",
         e.disputed() ? Table::Cell("yes", Color::kYellow) : "no",
         e.explanation()});
  }
  if (t.empty() && ctx.format() == Format::kTable) {
    ctx.err() << "No evaluations of " << ref->name() << " published in the "
              << "last " << ctx.Get("since", "7d") << ".\n";
    return client::kExitOk;
  }
  t.PrintAs(ctx.out(), ctx.format(), ctx.color());
  return client::kExitOk;
}

// One character per point, from ▁ (the lowest value) to █ (the highest);
// a space where the KVI had no value.
std::string Sparkline(const v1::KviSeries& series) {
  static const char* const kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  double lo = 0, hi = 0;
  bool any = false;
  for (const v1::KviValue& p : series.points()) {
    if (!p.has_value()) continue;
    lo = any ? std::min(lo, p.value()) : p.value();
    hi = any ? std::max(hi, p.value()) : p.value();
    any = true;
  }
  std::string out;
  for (const v1::KviValue& p : series.points()) {
    if (!p.has_value()) {
      out += " ";
      continue;
    }
    const int level =
        hi > lo ? static_cast<int>((p.value() - lo) / (hi - lo) * 7 + 0.5) : 3;
    out += kBars[std::clamp(level, 0, 7)];
  }
  return out;
}

// "vlas/x: target 16 h, warning 20 h" for each VLA clause that uses `kvi`.
std::vector<std::string> ClausesUsing(Context& ctx, const v1::Kvi& kvi) {
  VmdbClient vmdb(ctx.channel(), ctx.options());
  std::vector<std::unique_ptr<google::protobuf::Message>> vlas;
  std::vector<std::string> out;
  if (!vmdb.List(*FindKind("vla"),
                 absl::StrCat("value_stream = \"", kvi.value_stream(), "\""),
                 &vlas)
           .ok()) {
    return out;
  }
  for (const auto& m : vlas) {
    const auto& vla = static_cast<const v1::Vla&>(*m);
    for (const v1::Clause& c : vla.clauses()) {
      if (c.kvi() != kvi.name()) continue;
      out.push_back(
          absl::StrCat(vla.name(), " (", ShortName(vla.state()), "): target ",
                       FormatValue(c.target(), kvi.unit()), ", warning ",
                       FormatValue(c.warning(), kvi.unit())));
    }
  }
  return out;
}

int RunSeries(Context& ctx) {
  absl::StatusOr<ResourceRef> ref = OneRef(ctx, "series", "kvis", "kvi/ID");
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  absl::StatusOr<absl::Duration> since =
      DurationFlag(ctx, "series", "since", "30d");
  if (!since.ok()) return ctx.Usage(std::string(since.status().message()));
  absl::StatusOr<absl::Duration> step =
      DurationFlag(ctx, "series", "step", "1d");
  if (!step.ok()) return ctx.Usage(std::string(step.status().message()));
  absl::StatusOr<absl::Time> until = UntilFlag(ctx, "series");
  if (!until.ok()) return ctx.Usage(std::string(until.status().message()));
  // From `since` before `until` up to `until`, both included.
  v1::GetKviSeriesRequest req;
  req.set_kvi(ref->name());
  *req.mutable_start_time() = ToProtoTime(*until - *since);
  *req.mutable_end_time() = ToProtoTime(*until + absl::Seconds(1));
  *req.mutable_step() = ToProtoDuration(*step);
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  v1::KviSeries series;
  const grpc::Status s = client::CallWithRetry(
      ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
        return stub->GetKviSeries(c, req, &series);
      });
  if (!s.ok()) return ctx.Fail(s);
  if (IsDocumentFormat(ctx.format())) {
    PrintDocuments(ctx.out(), ctx.format(), {MessageJson(series, true)}, false);
    return client::kExitOk;
  }
  // The unit and the clauses are for people: without them, plain numbers.
  v1::Kvi kvi;
  VmdbClient vmdb(ctx.channel(), ctx.options());
  const bool known = vmdb.Get(*FindKind("kvi"), ref->name(), &kvi).ok();
  const bool csv = ctx.format() == Format::kCsv;
  Table t({"TIME (UTC)", "VALUE", "SAMPLES"});
  for (const v1::KviValue& p : series.points()) {
    std::string value = "-";
    if (p.has_value()) {
      value = csv ? absl::StrFormat("%.15g", p.value())
                  : FormatValue(p.value(), kvi.unit());
    }
    t.AddRow({When(p.window_end()), value, absl::StrCat(p.samples())});
  }
  if (ctx.format() == Format::kTable) {
    auto& out = ctx.out();
    out << ref->name();
    if (known && !kvi.display_name().empty()) {
      out << " (" << kvi.display_name() << ")";
    }
    out << ": " << series.points_size() << " points, every "
        << HumanDuration(absl::ToDoubleSeconds(*step));
    if (series.points_size() > 0) {
      out << ", " << When(series.points(0).window_end()) << " .. "
          << When(series.points().rbegin()->window_end()) << " UTC";
    }
    out << "\n" << Sparkline(series) << "\n";
    if (known) {
      for (const std::string& line : ClausesUsing(ctx, kvi)) {
        out << line << "\n";
      }
    }
    out << "\n";
  }
  t.PrintAs(ctx.out(), ctx.format(), ctx.color());
  return client::kExitOk;
}

}  // namespace

std::vector<Command> HistoryCommands() {
  return {
      {"report",
       "report vla/ID [--period month|quarter|year] [--last 6] "
       "[--time-zone TZ]",
       "Per-period compliance: state, score, time in each state, "
       "watermelon and disputed shares, the worst clauses.",
       "One row per calendar period (the current one to date): the VLA "
       "evaluated with every\nKVI over the period itself (at the revision in "
       "force at its end), how long it was\nMET, AT_RISK, BREACHED or "
       "without data, how long a watermelon or disputed.\n-o markdown is "
       "what you paste into a review page; -o csv goes into a spreadsheet.\n",
       {{"period", 0, "PERIOD", "month (default), quarter or year"},
        {"last", 0, "N",
         "how many periods, the current one included "
         "(default 6)"},
        {"time-zone", 0, "TZ", "IANA time zone of the calendar (default UTC)"},
        {"until", 0, "TIME",
         "the last period is the one holding TIME (RFC 3339 or a date; default "
         "now)"}},
       true,
       RunReport,
       true},
      {"history",
       "history vla/ID [--since 7d]",
       "The evaluations the evaluator published: each change with its "
       "revision and explanation.",
       "",
       {{"since", 0, "DURATION", "how far back (default 7d)"},
        {"until", 0, "TIME", "up to TIME (RFC 3339 or a date; default now)"}},
       true,
       RunHistory,
       true},
      {"series",
       "series kvi/ID [--since 30d] [--step 1d]",
       "A KVI at evenly spaced instants, with a sparkline and the targets "
       "that use it.",
       "Each point is the KVI with its own window at that instant, exactly "
       "as `GetKviValue`\nanswers it; from --since before --until up to "
       "--until.\n",
       {{"since", 0, "DURATION", "how far back (default 30d)"},
        {"step", 0, "DURATION", "between points (default 1d, at least 1m)"},
        {"until", 0, "TIME",
         "the last point (RFC 3339 or a date; default now)"}},
       true,
       RunSeries,
       true},
  };
}

}  // namespace vla::vlactl
