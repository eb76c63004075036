// demo: applies examples/ and streams generated, realistic work item events
// and observations so that the example VLA is a watermelon (SLA met, value
// breached) and its co-measured KVI is disputed.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/lib/ingester.h"
#include "clients/vlactl/apply.h"
#include "clients/vlactl/cli.h"
#include "clients/vlactl/documents.h"
#include "common/proto_time.h"
#include "vla/v1/evaluation.grpc.pb.h"
#include "vla/v1/okr_status.grpc.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::vlactl {
namespace {

// What the generator needs to know about the example definitions.
struct Setup {
  std::string value_stream;
  std::string consumer;
  std::vector<std::string> providers;  // the first takes every item first
  std::string happiness_signal;        // the NET_SCORE KVI's signal
  std::string comeasured_signal;       // the co-measured KVI's signal
  std::string vla;
  // Manual key results (no KVI) to check in once: objective, KR, target,
  // the lead team.
  struct ManualKr {
    std::string objective, id, team;
    double start = 0, target = 0;
  };
  std::vector<ManualKr> manual_krs;
};

absl::StatusOr<Setup> SetupFrom(const std::vector<Document>& docs) {
  Setup s;
  for (const Document& d : docs) {
    if (auto* vs = dynamic_cast<const v1::ValueStream*>(d.resource.get())) {
      if (!s.value_stream.empty()) continue;
      s.value_stream = vs->name();
      s.consumer = vs->consumer();
      s.providers.assign(vs->providers().begin(), vs->providers().end());
    } else if (auto* k = dynamic_cast<const v1::Kvi*>(d.resource.get())) {
      if (k->aggregation() == v1::AGGREGATION_NET_SCORE) {
        s.happiness_signal = k->signal();
      }
      if (k->co_measurement().enabled()) s.comeasured_signal = k->signal();
    } else if (auto* o = dynamic_cast<const v1::Objective*>(d.resource.get())) {
      for (const v1::KeyResult& kr : o->key_results()) {
        if (kr.kvi().empty()) {
          s.manual_krs.push_back({o->name(), kr.id(), o->lead(),
                                  kr.start_value(), kr.target_value()});
        }
      }
    } else if (auto* v = dynamic_cast<const v1::Vla*>(d.resource.get())) {
      if (s.vla.empty() && v->state() == v1::VLA_STATE_ACTIVE) {
        s.vla = v->name();
      }
    }
  }
  if (s.value_stream.empty() || s.providers.empty() || s.vla.empty()) {
    return absl::InvalidArgumentError(
        "demo: the examples need a value stream with providers and an ACTIVE "
        "VLA");
  }
  return s;
}

// Generates the life of incidents in the value stream: most are handed
// between teams one to three times and wait on the way, so lead time,
// handoffs and first-contact resolution are poor, while each team's SLA
// clock (which pauses while waiting and restarts per team) is met ~96% of
// the time. End users rate their happiness; consumer and service desk each
// report the productive time lost, and disagree.
class Generator {
 public:
  Generator(Setup setup, uint64_t seed)
      : setup_(std::move(setup)),
        rng_(seed),
        run_(absl::StrFormat("%06x", seed & 0xffffff)) {}

  // Items resolved in [from, to), spread evenly at random.
  v1::IngestRequest Items(int count, absl::Time from, absl::Time to) {
    v1::IngestRequest batch;
    for (int i = 0; i < count; ++i) {
      const double f = Uniform();
      AddItem(from + (to - from) * f, to, &batch);
    }
    return batch;
  }

 private:
  double Uniform() {
    return std::uniform_real_distribution<double>(0, 1)(rng_);
  }
  double LogNormal(double median, double sigma) {
    return median *
           std::exp(sigma * std::normal_distribution<double>(0, 1)(rng_));
  }

  void Event(v1::IngestRequest* batch, const std::string& item, absl::Time t,
             v1::EventKind kind, const std::string& team = "") {
    v1::WorkItemEvent* e = batch->add_work_item_events();
    e->set_event_id(absl::StrCat(item, "-", ++event_seq_));
    e->set_item_id(item);
    e->set_item_type(v1::ITEM_TYPE_INCIDENT);
    e->set_value_stream(setup_.value_stream);
    e->set_service("workplace");
    *e->mutable_time() = ToProtoTime(t);
    e->set_kind(kind);
    e->set_team(team);
    (*e->mutable_labels())["priority"] = Uniform() < 0.2 ? "P2" : "P3";
  }

  void Observe(v1::IngestRequest* batch, const std::string& id,
               const std::string& signal, double value, absl::Time t,
               const std::string& reporter) {
    v1::Observation* o = batch->add_observations();
    o->set_event_id(id);
    o->set_signal(signal);
    *o->mutable_time() = ToProtoTime(t);
    o->set_value(value);
    o->set_value_stream(setup_.value_stream);
    o->set_service("workplace");
    o->set_reporter(reporter);
  }

  // The teams holding the item in turn: the first provider, then handoffs.
  std::vector<std::string> Path() {
    const double r = Uniform();
    const int handoffs = r < 0.20 ? 0 : r < 0.45 ? 1 : r < 0.78 ? 2 : 3;
    const auto& p = setup_.providers;
    std::vector<std::string> path = {p[0]};
    for (int h = 0; h < handoffs; ++h) {
      if (p.size() == 1) break;
      // Onwards to another team; on the third handoff often back again
      // (ping-pong between device and network teams).
      std::string next;
      do {
        next = p[std::uniform_int_distribution<size_t>(0, p.size() - 1)(rng_)];
      } while (next == path.back());
      path.push_back(next);
    }
    return path;
  }

  void AddItem(absl::Time resolved, absl::Time now, v1::IngestRequest* batch) {
    const std::string item = absl::StrCat("INC-", run_, "-", ++item_seq_);
    const double lead_s =
        std::clamp(LogNormal(5 * 3600, 1.1), 600.0, 10 * 86400.0);
    const absl::Duration lead = absl::Seconds(lead_s);
    const absl::Time created = resolved - lead;
    const std::vector<std::string> path = Path();
    Event(batch, item, created, v1::EVENT_KIND_CREATED);
    Event(batch, item, created + lead * 0.02, v1::EVENT_KIND_ASSIGNED, path[0]);
    // Each team's part: first the item queues (most of it), then it is
    // worked. Handoffs fall in the first 70% of the item's life; a wait for
    // the user or a vendor in 40% of items after that.
    const double part = 0.7 / path.size();
    for (size_t h = 0; h < path.size(); ++h) {
      const absl::Time at = created + lead * (0.01 + part * h);
      if (h > 0) Event(batch, item, at, v1::EVENT_KIND_ASSIGNED, path[h]);
      Event(batch, item, at + absl::Seconds(1), v1::EVENT_KIND_WAITING);
      batch->mutable_work_item_events(batch->work_item_events_size() - 1)
          ->set_reason("queue");
      const double queued = part * (h == 0 ? 0.3 : 0.75);
      Event(batch, item, at + lead * queued, v1::EVENT_KIND_ACTIVE);
    }
    if (Uniform() < 0.4) {
      Event(batch, item, created + lead * 0.75, v1::EVENT_KIND_WAITING);
      batch->mutable_work_item_events(batch->work_item_events_size() - 1)
          ->set_reason(Uniform() < 0.6 ? "customer" : "vendor");
      Event(batch, item, created + lead * 0.85, v1::EVENT_KIND_ACTIVE);
    }
    const bool reopened = Uniform() < 0.075;
    if (reopened) {
      Event(batch, item, created + lead * 0.88, v1::EVENT_KIND_RESOLVED);
      Event(batch, item, created + lead * 0.92, v1::EVENT_KIND_REOPENED);
    }
    Event(batch, item, resolved, v1::EVENT_KIND_RESOLVED);
    v1::WorkItemEvent& r =
        *batch->mutable_work_item_events(batch->work_item_events_size() - 1);
    r.set_sla_met(Uniform() < 0.965);
    r.set_first_contact(path.size() == 1 && !reopened && Uniform() < 0.85);

    const absl::Time after = std::min(resolved + absl::Minutes(10), now);
    if (!setup_.happiness_signal.empty() && Uniform() < 0.6) {
      // 0..10: ~45% promoters, ~25% detractors -> Happiness about +20.
      const double u = Uniform();
      const int score = u < 0.45   ? 9 + static_cast<int>(Uniform() * 2)
                        : u < 0.75 ? 7 + static_cast<int>(Uniform() * 2)
                                   : static_cast<int>(Uniform() * 7);
      Observe(batch, absl::StrCat(item, "-happiness"), setup_.happiness_signal,
              score, after, setup_.consumer);
    }
    if (!setup_.comeasured_signal.empty()) {
      // Minutes of productive time lost: the business counts the whole
      // disruption, the service desk only its own working time.
      if (Uniform() < 0.5) {
        Observe(batch, absl::StrCat(item, "-lost-consumer"),
                setup_.comeasured_signal, std::round(LogNormal(150, 0.5)),
                after, setup_.consumer);
      }
      Observe(batch, absl::StrCat(item, "-lost-provider"),
              setup_.comeasured_signal, std::round(LogNormal(75, 0.4)), after,
              setup_.providers[0]);
    }
  }

  Setup setup_;
  std::mt19937_64 rng_;
  std::string run_;
  int64_t item_seq_ = 0;
  int64_t event_seq_ = 0;
};

// examples/ in the working directory, else next to the source tree of the
// binary (build/bin/vlactl -> ../../examples).
std::string DefaultExamples() {
  namespace fs = std::filesystem;
  if (fs::is_directory("examples")) return "examples";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path();
         !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      if (fs::is_directory(dir / "examples"))
        return (dir / "examples").string();
    }
  }
  return "examples";
}

absl::StatusOr<client::IngestTotals> Send(Context& ctx,
                                          const v1::IngestRequest& batch) {
  client::Ingester ingester(ctx.channel(), ctx.options());
  for (const auto& o : batch.observations()) {
    if (auto s = ingester.Add(o); !s.ok()) return s;
  }
  for (const auto& e : batch.work_item_events()) {
    if (auto s = ingester.Add(e); !s.ok()) return s;
  }
  return ingester.Finish();
}

std::string StatusLine(Context& ctx, const std::string& vla) {
  auto stub = v1::EvaluationService::NewStub(ctx.channel());
  v1::GetVlaStatusRequest req;
  req.set_vla(vla);
  v1::VlaStatus st;
  auto c = client::MakeContext(ctx.options());
  const grpc::Status s = stub->GetVlaStatus(c.get(), req, &st);
  if (!s.ok()) return absl::StrCat(vla, ": ", s.error_message());
  const bool color = ctx.color();
  const std::string state = ShortName(st.state());
  return absl::StrCat(
      vla, " ", Colorize(state, ColorForState(state), color), " score ",
      Number(st.score(), 1), " SLA ", st.sla_met() ? "met " : "missed ",
      Number(st.sla_value(), 3),
      st.watermelon() ? Colorize(" WATERMELON", Color::kRed, color) : "",
      st.disputed() ? Colorize(" DISPUTED", Color::kYellow, color) : "");
}

int RunDemo(Context& ctx) {
  double rate = 5;
  if (ctx.Has("rate") && (!absl::SimpleAtod(ctx.Get("rate"), &rate) ||
                          rate <= 0 || rate > 10000)) {
    return ctx.Usage(
        "demo: --rate must be a number of items per second in "
        "(0, 10000]");
  }
  absl::Duration duration = absl::InfiniteDuration();
  if (ctx.Has("duration") &&
      (!absl::ParseDuration(ctx.Get("duration"), &duration) ||
       duration < absl::ZeroDuration())) {
    return ctx.Usage("demo: --duration must be a duration like 60s or 5m");
  }
  int backfill = 400;
  if (ctx.Has("backfill") &&
      (!absl::SimpleAtoi(ctx.Get("backfill"), &backfill) || backfill < 0)) {
    return ctx.Usage("demo: --backfill must be a number of items >= 0");
  }
  uint64_t seed = std::random_device()();
  if (ctx.Has("seed") && !absl::SimpleAtoi(ctx.Get("seed"), &seed)) {
    return ctx.Usage("demo: --seed must be a number");
  }
  const std::string examples = ctx.Get("examples", DefaultExamples());
  auto docs = LoadDocuments(examples);
  if (!docs.ok()) return ctx.Fail(docs.status());
  auto setup = SetupFrom(*docs);
  if (!setup.ok()) return ctx.Fail(setup.status());

  ctx.out() << "Applying " << examples << " to " << ctx.options().address
            << ":\n";
  VmdbClient vmdb(ctx.channel(), ctx.options());
  absl::Status s =
      Apply(vmdb, std::move(*docs), false, [&](const ApplyResult& r) {
        ctx.out() << "  " << r.name << " " << ActionName(r.action) << "\n";
      });
  if (!s.ok()) return ctx.Fail(s);
  InstallInterruptHandler();
  Generator gen(*setup, seed);
  const absl::Time start = absl::Now();
  if (backfill > 0) {
    const v1::IngestRequest batch =
        gen.Items(backfill, start - absl::Hours(24 * 14), start);
    auto totals = Send(ctx, batch);
    if (!totals.ok()) return ctx.Fail(totals.status());
    ctx.out() << "Backfilled the last 14 days: " << backfill << " incidents, "
              << batch.work_item_events_size() << " events, "
              << batch.observations_size() << " observations (accepted "
              << totals->accepted << ")\n";
    // The joint OKR's manual key results: a third of the way, and not sure.
    auto okr = v1::OkrStatusService::NewStub(ctx.channel());
    for (const Setup::ManualKr& kr : setup->manual_krs) {
      v1::RecordCheckInRequest req;
      req.set_objective(kr.objective);
      req.set_key_result_id(kr.id);
      req.set_value(std::round(kr.start + (kr.target - kr.start) / 3));
      req.set_confidence(0.6);
      req.set_note("demo: first joint runbooks published");
      req.set_team(kr.team);
      v1::CheckIn out;
      auto c = client::MakeContext(ctx.options());
      const grpc::Status cs = okr->RecordCheckIn(c.get(), req, &out);
      if (!cs.ok()) return ctx.Fail(cs);
      ctx.out() << "Checked in " << kr.objective << " key result " << kr.id
                << ": " << Number(out.value()) << "\n";
    }
    // Give the evaluator a moment before the first status line.
    SleepUnlessInterrupted(1.5);
  }
  ctx.out() << "Streaming about " << Number(rate) << " incidents a second"
            << (duration == absl::InfiniteDuration() ? "; Ctrl-C stops" : "")
            << ".\n";
  double owed = 0;
  absl::Time last = absl::Now();
  // --duration counts the streaming, not the backfill before it.
  const absl::Time streaming = last;
  for (int n = 1; !Interrupted() && absl::Now() - streaming < duration; ++n) {
    if (!SleepUnlessInterrupted(1)) break;
    const absl::Time now = absl::Now();
    owed += rate * absl::ToDoubleSeconds(now - last);
    const int count = static_cast<int>(owed);
    owed -= count;
    const v1::IngestRequest batch = gen.Items(count, last, now);
    last = now;
    auto totals = Send(ctx, batch);
    if (!totals.ok()) return ctx.Fail(totals.status());
    ctx.out() << absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone())
              << "  batch " << n << ": " << count << " incidents, "
              << batch.work_item_events_size() << " events, "
              << batch.observations_size() << " observations, accepted "
              << totals->accepted << "  |  " << StatusLine(ctx, setup->vla)
              << "\n"
              << std::flush;
  }
  ctx.out() << "Demo stopped. See: vlactl status; vlactl explain "
            << absl::StrReplaceAll(setup->vla, {{"vlas/", "vla/"}})
            << "; vlactl flow "
            << absl::StrReplaceAll(setup->value_stream,
                                   {{"valueStreams/", "valuestream/"}})
            << "\n";
  return client::kExitOk;
}

}  // namespace

std::vector<Command> DemoCommands() {
  return {
      {"demo",
       "demo [--rate N] [--duration D] [--examples DIR]",
       "Apply examples/ and stream generated incidents until Ctrl-C.",
       "Applies the example definitions, backfills two weeks of incidents, "
       "then streams\nnew ones: items handed between the service desk, "
       "end-user computing and the\nnetwork team, with waits, reopens, "
       "happiness ratings, and lost-time reports\nfrom both the business and "
       "the service desk. The numbers are built so that the\nVLA is a "
       "watermelon (SLA met, lead time, handoffs and happiness breached) and\n"
       "the co-measured lost-time KVI is DISPUTED. Prints a line per batch.\n",
       {{"rate", 0, "N", "incidents per second (default 5)"},
        {"duration", 0, "D", "stop after D (like 60s); default: until Ctrl-C"},
        {"backfill", 0, "N", "incidents backfilled over 14 days (default 400)"},
        {"examples", 0, "DIR", "definitions to apply (default examples/)"},
        {"seed", 0, "N", "random seed (default: random)"}},
       false,
       RunDemo},
  };
}

}  // namespace vla::vlactl
