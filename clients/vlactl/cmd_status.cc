// status, explain, flow, watch, checkin.
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/lib/watch.h"
#include "clients/vlactl/cli.h"
#include "clients/vlactl/documents.h"
#include "clients/vlactl/vmdb_client.h"
#include "common/format_value.h"
#include "common/proto_time.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"

namespace vla::vlactl {
namespace {

std::string Clock(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromProtoTime(t),
                          absl::UTCTimeZone());
}

Table::Cell StateCell(const std::string& state) {
  return Table::Cell(state, ColorForState(state));
}

Table::Cell Flag(bool on, Color color) {
  return on ? Table::Cell("yes", color) : Table::Cell("no");
}

std::string SlaText(const v1::VlaStatus& s) {
  if (!s.sla_met() && s.sla_value() == 0) return "-";
  return absl::StrCat(s.sla_met() ? "met " : "missed ",
                      Number(s.sla_value(), 3));
}

grpc::Status ListVlaStatuses(Context& ctx, const std::string& filter,
                             std::vector<v1::VlaStatus>* out) {
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  std::string token;
  do {
    v1::ListVlaStatusesRequest req;
    req.set_filter(filter);
    req.set_page_token(token);
    req.set_page_size(500);
    v1::ListVlaStatusesResponse resp;
    grpc::Status s = client::CallWithRetry(
        ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
          return stub->ListVlaStatuses(c, req, &resp);
        });
    if (!s.ok()) return s;
    for (auto& st : *resp.mutable_statuses()) out->push_back(std::move(st));
    token = resp.next_page_token();
  } while (!token.empty());
  return grpc::Status::OK;
}

grpc::Status ListObjectiveStatuses(Context& ctx, const std::string& filter,
                                   std::vector<v1::ObjectiveStatus>* out) {
  auto stub = v1::OkrStatusService::NewStub(ctx.channel());
  std::string token;
  do {
    v1::ListObjectiveStatusesRequest req;
    req.set_filter(filter);
    req.set_page_token(token);
    req.set_page_size(500);
    v1::ListObjectiveStatusesResponse resp;
    grpc::Status s = client::CallWithRetry(
        ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
          return stub->ListObjectiveStatuses(c, req, &resp);
        });
    if (!s.ok()) return s;
    for (auto& st : *resp.mutable_statuses()) out->push_back(std::move(st));
    token = resp.next_page_token();
  } while (!token.empty());
  return grpc::Status::OK;
}

void AddVlaRow(Table& t, const v1::VlaStatus& s) {
  t.AddRow({s.vla(), StateCell(ShortName(s.state())), Number(s.score(), 1),
            SlaText(s), Flag(s.watermelon(), Color::kRed),
            Flag(s.disputed(), Color::kYellow)});
}

void AddObjectiveRow(Table& t, const v1::ObjectiveStatus& s) {
  t.AddRow({s.objective(), StateCell(ShortName(s.status())),
            Table::Cell(absl::StrCat(Number(100 * s.score(), 1), " ",
                                     ShortName(s.color())),
                        ColorForState(ShortName(s.color()))),
            "-", "-", "-"});
}

int RunStatus(Context& ctx) {
  if (!ctx.args().empty()) return ctx.Usage("status: takes no arguments");
  std::vector<v1::VlaStatus> vlas;
  grpc::Status s = ListVlaStatuses(ctx, ctx.Get("filter"), &vlas);
  if (!s.ok()) return ctx.Fail(s);
  std::vector<v1::ObjectiveStatus> objectives;
  if (!ctx.Has("filter")) {
    s = ListObjectiveStatuses(ctx, "", &objectives);
    if (!s.ok()) return ctx.Fail(s);
  }
  if (ctx.format() != Format::kTable) {
    std::string json = "{\"vlas\":[";
    for (size_t i = 0; i < vlas.size(); ++i) {
      absl::StrAppend(&json, i ? "," : "", MessageJson(vlas[i], true));
    }
    absl::StrAppend(&json, "],\"objectives\":[");
    for (size_t i = 0; i < objectives.size(); ++i) {
      absl::StrAppend(&json, i ? "," : "", MessageJson(objectives[i], true));
    }
    absl::StrAppend(&json, "]}");
    PrintDocuments(ctx.out(), ctx.format(), {json}, false);
    return client::kExitOk;
  }
  Table t({"NAME", "STATE", "SCORE", "SLA", "WATERMELON", "DISPUTED"});
  for (const auto& v : vlas) AddVlaRow(t, v);
  for (const auto& o : objectives) AddObjectiveRow(t, o);
  if (t.empty()) {
    ctx.err() << "No active VLAs or objectives (vlactl apply -f examples/).\n";
    return client::kExitOk;
  }
  t.Print(ctx.out(), ctx.color());
  return client::kExitOk;
}

// The unit of each clause's KVI ("" when it cannot be read: the value is
// then printed as a plain number).
std::map<std::string, std::string> KviUnits(Context& ctx,
                                            const v1::VlaStatus& status) {
  VmdbClient vmdb(ctx.channel(), ctx.options());
  std::map<std::string, std::string> units;
  for (const v1::ClauseStatus& cl : status.clauses()) {
    v1::Kvi kvi;
    const grpc::Status s = vmdb.Get(*FindKind("kvi"), cl.kvi(), &kvi);
    units[cl.kvi()] = s.ok() ? kvi.unit() : "";
  }
  return units;
}

int RunExplain(Context& ctx) {
  if (ctx.args().size() != 1) return ctx.Usage("explain: vla/ID is required");
  auto ref = ParseResourceRef(ctx.args()[0]);
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  if (ref->kind->collection != "vlas") {
    return ctx.Usage("explain: only VLAs are explained (vla/ID)");
  }
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  v1::GetVlaStatusRequest req;
  req.set_vla(ref->name());
  v1::VlaStatus st;
  const grpc::Status s = client::CallWithRetry(
      ctx.options(), client::RetryPolicy(),
      [&](grpc::ClientContext* c) { return stub->GetVlaStatus(c, req, &st); });
  if (!s.ok()) return ctx.Fail(s);
  if (ctx.format() != Format::kTable) {
    PrintDocuments(ctx.out(), ctx.format(), {MessageJson(st, true)}, false);
    return client::kExitOk;
  }
  auto& out = ctx.out();
  const bool c = ctx.color();
  out << "VLA:         " << st.vla() << " (revision " << st.vla_revision()
      << ")\n";
  out << "State:       "
      << Colorize(ShortName(st.state()), ColorForState(ShortName(st.state())),
                  c)
      << ", score " << Number(st.score(), 1) << "\n";
  out << "SLA:         " << SlaText(st) << "\n";
  out << "Watermelon:  "
      << (st.watermelon() ? Colorize("yes: the SLA is met, the value is not",
                                     Color::kRed, c)
                          : "no")
      << "\n";
  out << "Disputed:    " << (st.disputed() ? "yes" : "no") << "\n";
  out << "Evaluated:   " << Clock(st.evaluate_time()) << " UTC\n\n";
  if (!st.explanation().empty()) out << st.explanation() << "\n\n";
  // Values in each KVI's unit, as the explanation writes them.
  const std::map<std::string, std::string> units = KviUnits(ctx, st);
  Table t(
      {"KVI", "STATE", "VALUE", "TARGET", "WARNING", "ATTAINMENT", "SAMPLES"});
  for (const v1::ClauseStatus& cl : st.clauses()) {
    const std::string& unit = units.at(cl.kvi());
    t.AddRow({cl.kvi(), StateCell(ShortName(cl.state())),
              cl.has_value() ? FormatValue(cl.value(), unit) : "-",
              FormatValue(cl.target(), unit), FormatValue(cl.warning(), unit),
              // Blank without a baseline: there is nothing to attain from.
              cl.has_attainment() ? Number(cl.attainment(), 2) : "",
              absl::StrCat(cl.samples())});
  }
  t.Print(out, c);
  return client::kExitOk;
}

int RunFlow(Context& ctx) {
  if (ctx.args().size() != 1) {
    return ctx.Usage("flow: valuestream/ID is required");
  }
  auto ref = ParseResourceRef(ctx.args()[0]);
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  if (ref->kind->collection != "valueStreams") {
    return ctx.Usage("flow: a value stream is required (valuestream/ID)");
  }
  v1::GetValueStreamFlowRequest req;
  req.set_value_stream(ref->name());
  if (ctx.Has("window")) {
    const absl::StatusOr<absl::Duration> d =
        ParseHumanDuration(ctx.Get("window"));
    if (!d.ok()) {
      return ctx.Usage(absl::StrCat("flow: --window: ", d.status().message()));
    }
    *req.mutable_window() = ToProtoDuration(*d);
  }
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  v1::ValueStreamFlow flow;
  const grpc::Status s = client::CallWithRetry(
      ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
        return stub->GetValueStreamFlow(c, req, &flow);
      });
  if (!s.ok()) return ctx.Fail(s);
  if (ctx.format() != Format::kTable) {
    PrintDocuments(ctx.out(), ctx.format(), {MessageJson(flow, true)}, false);
    return client::kExitOk;
  }
  auto& out = ctx.out();
  out << "Value stream " << ref->name() << ", " << Clock(flow.window_start())
      << " .. " << Clock(flow.window_end()) << " UTC\n";
  out << "Resolved items: " << flow.resolved_items()
      << "   ping-pong items: " << flow.ping_pong_items()
      << "   flow efficiency: " << Number(100 * flow.flow_efficiency(), 1)
      << "%\n\n";
  Table teams({"TEAM", "ITEMS", "ACTIVE", "WAITING", "WAIT SHARE"});
  for (const v1::TeamFlow& t : flow.teams()) {
    const double total = t.active_seconds() + t.wait_seconds();
    teams.AddRow(
        {t.team(), absl::StrCat(t.items()), HumanDuration(t.active_seconds()),
         HumanDuration(t.wait_seconds()),
         total > 0
             ? absl::StrCat(Number(100 * t.wait_seconds() / total, 0), "%")
             : "-"});
  }
  teams.Print(out, ctx.color());
  out << "\n";
  Table seams({"FROM", "TO", "HANDOFFS", "MEAN WAIT AFTER HANDOFF"});
  for (const v1::Seam& sm : flow.seams()) {
    seams.AddRow({sm.from_team(), sm.to_team(), absl::StrCat(sm.handoffs()),
                  HumanDuration(sm.mean_wait_seconds())});
  }
  if (seams.empty()) {
    out << "No handoffs between teams in the window.\n";
  } else {
    seams.Print(out, ctx.color());
  }
  return client::kExitOk;
}

// Prints a watch stream until it ends or Ctrl-C: each event (of each
// batch) as a document with -o json|yaml, else the snapshot marker and
// `line(event)` per status, after the local time.
template <typename Open, typename Line>
int PrintWatch(Context& ctx, Open open, Line line) {
  InstallInterruptHandler();
  auto c = client::MakeContext(ctx.options(), absl::InfiniteDuration());
  CancelOnInterrupt cancel(c.get());
  auto reader = client::WatchEvents(open(c.get()));
  typename decltype(reader)::Item ev;
  while (reader.Read(&ev)) {
    if (ctx.format() != Format::kTable) {
      const std::string j = MessageJson(ev, true);
      ctx.out() << (ctx.format() == Format::kJson
                        ? j
                        : absl::StrCat("---\n", JsonToYaml(j)))
                << "\n"
                << std::flush;
      continue;
    }
    ctx.out() << absl::FormatTime("%H:%M:%S", absl::Now(),
                                  absl::LocalTimeZone())
              << "  "
              << (ev.snapshot_complete()
                      ? "-- snapshot complete; watching changes --"
                      : line(ev))
              << "\n"
              << std::flush;
  }
  const grpc::Status status = reader.Finish();
  if (Interrupted()) return client::kExitOk;
  return status.ok() ? client::kExitOk : ctx.Fail(status);
}

int RunWatch(Context& ctx) {
  if (ctx.args().size() != 1) {
    return ctx.Usage("watch: vlas or objectives is required");
  }
  const KindInfo* kind = FindKind(ctx.args()[0]);
  if (kind == nullptr ||
      (kind->collection != "vlas" && kind->collection != "objectives")) {
    return ctx.Usage("watch: vlas or objectives is required");
  }
  const bool rc = ctx.color();
  if (kind->collection == "vlas") {
    auto stub = v1::EvaluationService::NewStub(ctx.channel());
    v1::WatchVlaStatusesRequest req;
    req.set_filter(ctx.Get("filter"));
    return PrintWatch(
        ctx,
        [&](grpc::ClientContext* c) { return stub->WatchVlaStatuses(c, req); },
        [&](const v1::VlaStatusEvent& ev) {
          const v1::VlaStatus& s = ev.status();
          const std::string state = ShortName(s.state());
          return absl::StrCat(
              s.vla(), "  ", Colorize(state, ColorForState(state), rc),
              "  score ", Number(s.score(), 1), "  SLA ", SlaText(s),
              s.watermelon() ? Colorize("  WATERMELON", Color::kRed, rc) : "",
              s.disputed() ? Colorize("  DISPUTED", Color::kYellow, rc) : "",
              ev.removed() ? "  (removed)" : "");
        });
  }
  auto stub = v1::OkrStatusService::NewStub(ctx.channel());
  v1::WatchObjectiveStatusesRequest req;
  req.set_filter(ctx.Get("filter"));
  return PrintWatch(
      ctx,
      [&](grpc::ClientContext* c) {
        return stub->WatchObjectiveStatuses(c, req);
      },
      [&](const v1::ObjectiveStatusEvent& ev) {
        const v1::ObjectiveStatus& s = ev.status();
        const std::string state = ShortName(s.status());
        return absl::StrCat(
            s.objective(), "  ", Colorize(state, ColorForState(state), rc),
            "  score ", Number(100 * s.score(), 1), " ", ShortName(s.color()),
            "  expected ", Number(100 * s.expected_progress(), 1));
      });
}

int RunCheckIn(Context& ctx) {
  if (ctx.args().size() != 3) {
    return ctx.Usage("checkin: objective/ID KR VALUE are required");
  }
  auto ref = ParseResourceRef(ctx.args()[0]);
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  if (ref->kind->collection != "objectives") {
    return ctx.Usage("checkin: an objective is required (objective/ID)");
  }
  v1::RecordCheckInRequest req;
  req.set_objective(ref->name());
  req.set_key_result_id(ctx.args()[1]);
  double value = 0;
  if (!absl::SimpleAtod(ctx.args()[2], &value)) {
    return ctx.Usage(
        absl::StrCat("checkin: VALUE \"", ctx.args()[2], "\" is not a number"));
  }
  req.set_value(value);
  if (ctx.Has("confidence")) {
    double confidence = 0;
    if (!absl::SimpleAtod(ctx.Get("confidence"), &confidence)) {
      return ctx.Usage("checkin: --confidence is not a number (0..1)");
    }
    req.set_confidence(confidence);
  }
  req.set_note(ctx.Get("note"));
  std::string team = ctx.Get("team");
  if (!team.empty() && !absl::StartsWith(team, "teams/")) {
    team = absl::StrCat("teams/", team);
  }
  req.set_team(team);
  auto stub = v1::OkrStatusService::NewStub(ctx.channel());
  v1::CheckIn checkin;
  auto c = client::MakeContext(ctx.options());
  const grpc::Status s = stub->RecordCheckIn(c.get(), req, &checkin);
  if (!s.ok()) return ctx.Fail(s);
  if (ctx.format() != Format::kTable) {
    PrintDocuments(ctx.out(), ctx.format(), {MessageJson(checkin, true)},
                   false);
    return client::kExitOk;
  }
  ctx.out() << checkin.objective() << " key result " << checkin.key_result_id()
            << ": checked in " << Number(checkin.value(), 4) << " (confidence "
            << Number(checkin.confidence(), 2) << ") at "
            << Clock(checkin.create_time()) << " UTC\n";
  return client::kExitOk;
}

}  // namespace

std::vector<Command> StatusCommands() {
  return {
      {"status",
       "status [--filter F]",
       "VLAs and objectives in one table: state, score, SLA, watermelon, "
       "disputed.",
       "A watermelon is a VLA whose linked SLA is met while the VLA is at "
       "risk or breached.\nColours only when stdout is a terminal (and "
       "NO_COLOR is unset). --filter applies\nto VLAs (fields state, "
       "value_stream, team, watermelon, disputed) and hides\nobjectives, e.g. "
       "--filter 'watermelon = true'.\n",
       {{"filter", 0, "FILTER", "only VLAs that match"}},
       true,
       RunStatus},
      {"explain",
       "explain vla/ID",
       "Why a VLA is in its state: the clauses.",
       "",
       {},
       true,
       RunExplain},
      {"flow",
       "flow valuestream/ID [--window 30d]",
       "The value stream map from data: teams, seams between them, waits.",
       "",
       {{"window", 0, "DURATION", "window ending now (server default: 30d)"}},
       true,
       RunFlow},
      {"watch",
       "watch vlas|objectives [--filter F]",
       "Stream status changes, one line each, until Ctrl-C.",
       "First the current status of everything that matches, then a line per "
       "change.\n",
       {{"filter", 0, "FILTER", "only statuses that match"}},
       true,
       RunWatch},
      {"checkin",
       "checkin objective/ID KR VALUE [--confidence C] [--note T]",
       "Record a check-in on a manual key result.",
       "",
       {{"confidence", 0, "C", "confidence 0..1"},
        {"note", 0, "TEXT", "what changed"},
        {"team", 0, "TEAM", "the team checking in (teams/ID or ID)"}},
       true,
       RunCheckIn},
  };
}

}  // namespace vla::vlactl
