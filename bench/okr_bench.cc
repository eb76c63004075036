// okr_bench: many subscribers of OkrStatusService.WatchObjectiveStatuses on
// one server (issue 4's publishing targets).
//
// Runs the real `vlad` binary (all services, a fresh data folder) in a child
// process, defines --objectives objectives with one manual key result each,
// opens --subscribers streams (over --channels TCP connections) plus one
// deliberately stalled subscriber that reads nothing after its first event,
// waits until every subscriber has its snapshot, then records check-ins at
// --checkins_per_second for --seconds. Every check-in changes one
// objective's score, so it is an event for every subscriber.
//
// Prints: delivered events per second (from the first check-in until every
// subscriber has the last status of every objective), the time from a
// check-in being sent to its status arriving at each subscriber (p50, p99,
// max over all deliveries), and the server's memory (VmRSS of the child)
// before the subscribers, with them attached, and at its peak under load,
// per subscriber.
//
//   okr_bench [--subscribers=10000] [--channels=100] [--objectives=100]
//             [--checkins_per_second=40] [--seconds=10] [--quick]
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/bench_util.h"
#include "bench/watch_client.h"
#include "tests/fixtures.h"
#include "tests/vlad_process.h"
#include "vla/v1/okr_status.grpc.pb.h"
#include "vla/v1/vmdb.grpc.pb.h"

ABSL_FLAG(int, subscribers, 10000,
          "Concurrent WatchObjectiveStatuses streams.");
ABSL_FLAG(int, channels, 100,
          "Client TCP connections the subscribers share round-robin.");
ABSL_FLAG(int, objectives, 100, "Objectives (one manual key result each).");
ABSL_FLAG(double, checkins_per_second, 40,
          "Check-ins recorded per second during the load (each one is an "
          "event for every subscriber).");
ABSL_FLAG(double, seconds, 10, "Duration of the load, seconds.");
ABSL_FLAG(bool, quick, false,
          "Smoke run: 200 subscribers, 4 channels, 10 objectives, 2 s.");
ABSL_FLAG(int, client_queues, 4,
          "Completion queues (and threads) of the bench's subscribers.");
ABSL_FLAG(std::string, tmp_dir, "/tmp", "Where the data folder is created.");
ABSL_FLAG(std::vector<std::string>, vlad_flags, {},
          "Extra flags for vlad, comma-separated (e.g. --watch_queues=8).");

namespace {

namespace v1 = vla::v1;
using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
  return ctx;
}

void Fail(const std::string& what, const grpc::Status& s) {
  std::fprintf(stderr, "okr_bench: %s: %s\n", what.c_str(),
               s.error_message().c_str());
  std::exit(1);
}

// When each check-in was sent: by objective, by the value it recorded
// (values count up from 1 per objective).
class SendTimes {
 public:
  SendTimes(int objectives, int max_per_objective)
      : per_(max_per_objective + 1),
        ns_(static_cast<size_t>(objectives) * per_) {}
  void Set(int objective, int value, int64_t ns) {
    ns_[Index(objective, value)].store(ns, std::memory_order_release);
  }
  int64_t Get(int objective, int value) const {
    return ns_[Index(objective, value)].load(std::memory_order_acquire);
  }
  int max_value() const { return per_ - 1; }

 private:
  size_t Index(int objective, int value) const {
    return static_cast<size_t>(objective) * per_ + value;
  }
  int per_;
  std::vector<std::atomic<int64_t>> ns_;
};

struct Shared {
  const SendTimes* sent = nullptr;
  std::atomic<int64_t> delivered{0};  // non-snapshot events
  std::atomic<int64_t> messages{0};   // messages carrying them
  std::atomic<int> snapshots_complete{0};
  std::atomic<int> done{0};
  std::atomic<int64_t> last_delivery_ns{0};
};

// Objective index from "objectives/o-17".
int ObjectiveIndex(const std::string& name) {
  absl::string_view s(name);
  int i = -1;
  if (!absl::ConsumePrefix(&s, "objectives/o-") || !absl::SimpleAtoi(s, &i)) {
    return -1;
  }
  return i;
}

// One subscriber (bench/watch_client.h): reads every message; for each
// change it carries, records the latency from the check-in that produced the
// status.
class Subscriber final
    : public vla::bench::AsyncWatcher<v1::WatchObjectiveStatusesResponse> {
 public:
  Subscriber(Shared* shared, int objectives, bool stalled)
      : AsyncWatcher(stalled), shared_(shared), last_(objectives) {
    for (auto& v : last_) v.store(0);
    latencies_us_.reserve(1024);
  }
  int Last(int objective) const {
    return last_[objective].load(std::memory_order_acquire);
  }
  const std::vector<int32_t>& latencies_us() const { return latencies_us_; }

 protected:
  void OnMessage(const v1::WatchObjectiveStatusesResponse& message) override {
    int64_t changes = 0;
    for (const v1::ObjectiveStatusEvent& event : message.events()) {
      if (OnEvent(event)) ++changes;
    }
    if (changes > 0) {
      shared_->messages.fetch_add(1, std::memory_order_relaxed);
      shared_->delivered.fetch_add(changes, std::memory_order_relaxed);
      shared_->last_delivery_ns.store(NowNs(), std::memory_order_relaxed);
    }
  }
  void OnEnd() override { shared_->done.fetch_add(1); }

 private:
  // Whether `event` is a change of the load (not the snapshot).
  bool OnEvent(const v1::ObjectiveStatusEvent& event) {
    if (event.snapshot_complete()) {
      shared_->snapshots_complete.fetch_add(1);
      return false;
    }
    if (event.status().key_results_size() == 0) return false;
    const int o = ObjectiveIndex(event.status().objective());
    const double v = event.status().key_results(0).current_value();
    const int value = static_cast<int>(v);
    if (o < 0 || o >= static_cast<int>(last_.size())) return false;
    last_[o].store(value, std::memory_order_release);
    if (event.snapshot() || value <= 0 || value > shared_->sent->max_value()) {
      return false;
    }
    const int64_t sent = shared_->sent->Get(o, value);
    if (sent > 0) {
      latencies_us_.push_back(static_cast<int32_t>((NowNs() - sent) / 1000));
    }
    return true;
  }

  Shared* shared_;
  std::vector<std::atomic<int>> last_;
  std::vector<int32_t> latencies_us_;
};

// Cancels every stream and waits until gRPC is done with all of them.
void CancelAll(const std::vector<std::unique_ptr<Subscriber>>& subs,
               Subscriber* stalled, const Shared& shared) {
  for (const auto& sub : subs) sub->Cancel();
  stalled->Cancel();
  while (shared.done.load() < static_cast<int>(subs.size()) + 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

double Mib(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const bool quick = absl::GetFlag(FLAGS_quick);
  const int subscribers = quick ? 200 : absl::GetFlag(FLAGS_subscribers);
  const int channel_count = quick ? 4 : absl::GetFlag(FLAGS_channels);
  const int objectives = quick ? 10 : absl::GetFlag(FLAGS_objectives);
  const double rate = absl::GetFlag(FLAGS_checkins_per_second);
  const double seconds = quick ? 2 : absl::GetFlag(FLAGS_seconds);

  std::string dir_template =
      absl::StrCat(absl::GetFlag(FLAGS_tmp_dir), "/okr_bench.XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = dir_template;
  vla::testing::VladProcess vlad(VLAD_PATH, dir,
                                 absl::GetFlag(FLAGS_vlad_flags));
  if (absl::Status s = vlad.Start(); !s.ok()) {
    std::fprintf(stderr, "okr_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  auto admin =
      grpc::CreateChannel(vlad.address(), grpc::InsecureChannelCredentials());
  auto vmdb = v1::VmdbService::NewStub(admin);
  auto okr = v1::OkrStatusService::NewStub(admin);

  // Definitions: one team, `objectives` objectives over [now - 10 d,
  // now + 10 d) with a manual key result 0 -> 1,000,000.
  {
    v1::CreateTeamRequest req;
    req.set_team_id("owners");
    req.mutable_team()->set_kind(v1::TEAM_KIND_PROVIDER);
    v1::Team out;
    if (auto s = vmdb->CreateTeam(Ctx().get(), req, &out); !s.ok()) {
      Fail("CreateTeam", s);
    }
  }
  const int64_t now_s = absl::ToUnixSeconds(absl::Now());
  for (int i = 0; i < objectives; ++i) {
    v1::CreateObjectiveRequest req;
    req.set_objective_id(absl::StrCat("o-", i));
    *req.mutable_objective() = vla::testing::MakeManualObjective(
        "teams/owners", now_s, "kr", 0, 1000000);
    v1::Objective out;
    if (auto s = vmdb->CreateObjective(Ctx().get(), req, &out); !s.ok()) {
      Fail("CreateObjective", s);
    }
  }
  for (int tries = 0;; ++tries) {
    v1::ListObjectiveStatusesRequest req;
    req.set_page_size(1000);
    v1::ListObjectiveStatusesResponse resp;
    if (okr->ListObjectiveStatuses(Ctx().get(), req, &resp).ok() &&
        resp.statuses_size() == objectives) {
      break;
    }
    if (tries > 300) {
      std::fprintf(stderr, "okr_bench: objectives were not scored\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t rss_base = vla::bench::ProcStatusKib(vlad.pid(), "VmRSS");

  // Subscribers.
  const int max_per_objective =
      static_cast<int>(rate * seconds / objectives) + 2;
  SendTimes sent(objectives, max_per_objective);
  Shared shared;
  shared.sent = &sent;
  auto channels = vla::bench::MakeChannels(vlad.address(), channel_count + 1);
  std::vector<std::unique_ptr<v1::OkrStatusService::Stub>> stubs;
  for (auto& c : channels) stubs.push_back(v1::OkrStatusService::NewStub(c));
  // Connected before the streams start: a connection attempted while the
  // server writes 10,000 snapshots may time out before its handshake.
  for (auto& c : channels) {
    if (!c->WaitForConnected(std::chrono::system_clock::now() +
                             std::chrono::seconds(30))) {
      std::fprintf(stderr, "okr_bench: a channel did not connect\n");
      return 1;
    }
  }
  const Clock::time_point attach_start = Clock::now();
  const double server_cpu_start = vla::bench::ProcCpuSeconds(vlad.pid());
  const double client_cpu_start = vla::bench::ProcCpuSeconds(0);
  // Declared before the subscribers: its threads stop after them.
  vla::bench::ClientQueues queues(
      std::max(1, absl::GetFlag(FLAGS_client_queues)));
  const v1::WatchObjectiveStatusesRequest request;
  auto start_on = [&](v1::OkrStatusService::Stub* stub) {
    return
        [stub, &request](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncWatchObjectiveStatuses(ctx, request, cq);
        };
  };
  std::vector<std::unique_ptr<Subscriber>> subs;
  subs.reserve(subscribers);
  for (int i = 0; i < subscribers; ++i) {
    subs.push_back(std::make_unique<Subscriber>(&shared, objectives, false));
    subs.back()->Begin(start_on(stubs[i % channel_count].get()), queues.get(i));
  }
  // The stalled one has a connection of its own.
  auto stalled = std::make_unique<Subscriber>(&shared, objectives, true);
  stalled->Begin(start_on(stubs.back().get()), queues.get(0));
  int64_t last_report = 0;
  while (shared.snapshots_complete.load() < subscribers) {
    const int64_t elapsed_s = std::chrono::duration_cast<std::chrono::seconds>(
                                  Clock::now() - attach_start)
                                  .count();
    if (elapsed_s >= last_report + 10) {
      last_report = elapsed_s;
      std::fprintf(stderr, "okr_bench: %d of %d snapshots complete\n",
                   shared.snapshots_complete.load(), subscribers);
    }
    if (Clock::now() - attach_start > std::chrono::minutes(5) ||
        shared.done.load() > 0) {
      std::fprintf(stderr, "okr_bench: %d of %d snapshots, %d streams ended\n",
                   shared.snapshots_complete.load(), subscribers,
                   shared.done.load());
      if (stalled->ended()) {
        std::fprintf(stderr, "okr_bench: the stalled stream ended: %d %s\n",
                     stalled->status().error_code(),
                     stalled->status().error_message().c_str());
      }
      for (const auto& sub : subs) {
        if (sub->ended()) {
          std::fprintf(stderr, "okr_bench: a stream ended: %d %s\n",
                       sub->status().error_code(),
                       sub->status().error_message().c_str());
          break;
        }
      }
      CancelAll(subs, stalled.get(), shared);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double attach_s =
      std::chrono::duration<double>(Clock::now() - attach_start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int64_t rss_attached = vla::bench::ProcStatusKib(vlad.pid(), "VmRSS");

  // Load: check-ins at `rate`, round-robin over the objectives, from a few
  // threads (each check-in is a durable SQLite commit).
  std::atomic<int64_t> peak_rss{rss_attached};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      const int64_t rss = vla::bench::ProcStatusKib(vlad.pid(), "VmRSS");
      if (rss > peak_rss.load()) peak_rss.store(rss);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const int total_checkins = static_cast<int>(rate * seconds);
  std::vector<int> final_value(objectives, 0);
  for (int k = 0; k < total_checkins; ++k) ++final_value[k % objectives];
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  const double server_cpu_load = vla::bench::ProcCpuSeconds(vlad.pid());
  const double client_cpu_load = vla::bench::ProcCpuSeconds(0);
  const int64_t load_start_ns = NowNs();
  const int drivers = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < drivers; ++t) {
    threads.emplace_back([&] {
      for (;;) {
        const int k = next.fetch_add(1);
        if (k >= total_checkins) return;
        const int64_t due =
            load_start_ns + static_cast<int64_t>(k / rate * 1e9);
        const int64_t wait = due - NowNs();
        if (wait > 0)
          std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
        const int o = k % objectives;
        const int value = k / objectives + 1;
        v1::RecordCheckInRequest req;
        req.set_objective(absl::StrCat("objectives/o-", o));
        req.set_key_result_id("kr");
        req.set_value(value);
        req.set_confidence(0.8);
        req.set_team("teams/owners");
        v1::CheckIn out;
        sent.Set(o, value, NowNs());
        if (!okr->RecordCheckIn(Ctx().get(), req, &out).ok()) failed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double send_s = static_cast<double>(NowNs() - load_start_ns) / 1e9;

  // Drain: until every subscriber has every objective's last value.
  const Clock::time_point drain_start = Clock::now();
  bool caught_up = false;
  while (!caught_up && Clock::now() - drain_start < std::chrono::seconds(120)) {
    caught_up = true;
    for (const auto& sub : subs) {
      for (int o = 0; o < objectives && caught_up; ++o) {
        caught_up = sub->Last(o) == final_value[o];
      }
      if (!caught_up) break;
    }
    if (!caught_up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sampling = false;
  sampler.join();
  const double server_cpu_end = vla::bench::ProcCpuSeconds(vlad.pid());
  const double client_cpu_end = vla::bench::ProcCpuSeconds(0);
  const int64_t delivered = shared.delivered.load();
  const double deliver_s =
      static_cast<double>(shared.last_delivery_ns.load() - load_start_ns) / 1e9;

  std::vector<int32_t> all;
  all.reserve(static_cast<size_t>(delivered));
  for (const auto& sub : subs) {
    all.insert(all.end(), sub->latencies_us().begin(),
               sub->latencies_us().end());
  }
  std::sort(all.begin(), all.end());
  const int64_t stalled_value = stalled->Last(0);

  std::printf(
      "okr_bench: %d subscribers over %d connections + 1 stalled, "
      "%d objectives\n",
      subscribers, channel_count, objectives);
  std::printf("  attach:    %.1f s until every snapshot was complete\n",
              attach_s);
  std::printf(
      "  load:      %d check-ins in %.1f s (%d failed), %lld "
      "possible deliveries\n",
      total_checkins, send_s, failed.load(),
      static_cast<long long>(total_checkins) * subscribers);
  std::printf("  delivered: %lld events in %.2f s = %.0f events/s%s\n",
              static_cast<long long>(delivered), deliver_s,
              static_cast<double>(delivered) / deliver_s,
              caught_up ? "" : " (NOT all caught up after 120 s)");
  const int64_t messages = shared.messages.load();
  std::printf(
      "  messages:  %lld carrying them = %.0f messages/s, %.2f events per "
      "message\n",
      static_cast<long long>(messages),
      static_cast<double>(messages) / deliver_s,
      messages > 0 ? static_cast<double>(delivered) / messages : 0.0);
  std::printf(
      "  latency:   check-in -> subscriber p50 %.1f ms, p99 %.1f ms, "
      "max %.1f ms (%zu deliveries)\n",
      vla::bench::Percentile(all, 0.50) / 1000.0,
      vla::bench::Percentile(all, 0.99) / 1000.0,
      all.empty() ? 0.0 : all.back() / 1000.0, all.size());
  std::printf(
      "  memory:    server RSS %.1f MiB before, %.1f MiB attached, "
      "%.1f MiB peak under load\n",
      Mib(rss_base), Mib(rss_attached), Mib(peak_rss.load()));
  std::printf("  per subscriber: %.1f KiB attached, %.1f KiB at peak\n",
              static_cast<double>(rss_attached - rss_base) / subscribers,
              static_cast<double>(peak_rss.load() - rss_base) / subscribers);
  std::printf(
      "  cpu:       attach: server %.1f s, bench client %.1f s; load until "
      "caught up: server %.1f s, bench client %.1f s (server %.1f us per "
      "delivered event)\n",
      server_cpu_load - server_cpu_start, client_cpu_load - client_cpu_start,
      server_cpu_end - server_cpu_load, client_cpu_end - client_cpu_load,
      delivered > 0 ? (server_cpu_end - server_cpu_load) * 1e6 / delivered
                    : 0.0);
  std::printf(
      "  stalled subscriber: still connected, saw value %lld of "
      "objective 0 (it stopped reading)\n",
      static_cast<long long>(stalled_value));
  std::fflush(stdout);

  CancelAll(subs, stalled.get(), shared);
  vlad.Signal(SIGTERM);
  vlad.Wait();
  std::filesystem::remove_all(dir);
  return caught_up && failed.load() == 0 ? 0 : 1;
}
