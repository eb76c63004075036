// A randomized check of the incremental Engine (records bucketed by 5
// minutes, cached day/hour aggregates and spans, edge scans) against a plain
// rescan of the raw records kept by the test.
//
// Thousands of observations and work item events, generated from a fixed
// seed, arrive shuffled (late and out of order), with duplicates removed the
// way the store removes them (by event_id) before they reach the Engine. The
// test asks the Engine for every KVI at many instants (day, hour and minute
// boundaries, the Europe/Berlin month start, random microseconds), after the
// first half of the data, between the late batches that follow, and after
// all of it, and compares each answer with the value computed from scratch;
// it also compares the value stream flow of 7- and 30-day windows.
//
// The reference computes everything its own way, from domain.md and the
// numbered rules at the top of work_item.cc, never by calling or copying the
// production code (a wrong production formula cannot agree with it by
// construction):
// - window [T - d, T), or [start of the month in Europe/Berlin, T);
// - observations filtered by value stream, signal and scope;
// - work items derived by a walk over the segments between their events
//   (each segment working, waiting or in a resolved gap, held by a team or
//   none), counted when resolved, not cancelled, and last resolved in the
//   window; the flow map from the same walk;
// - the aggregation computed exactly over all selected values (its own
//   type-7 percentile);
// - co-measurement as domain.md words it: DISPUTED when any set tolerance is
//   exceeded.
//
// Where domain.md leaves a point open the reference follows the README:
// - RATIO sides: the KVI's scope applies to both sides and a side's own scope
//   adds to it (a side's service and labels override the KVI's);
//   samples = the denominator's count; no value when the denominator is 0.
// - Co-measurement: samples = consumer side count + provider side count;
//   DISPUTED takes the consumer's value; party_values holds the consumer's
//   side under the consumer's name and the provider side under the name of
//   every provider of the value stream.
// - A work item's service is the last non-empty one received and its labels
//   the union of all its events' labels (this test keeps them consistent per
//   item, so the order does not matter).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "services/common/clock.h"
#include "services/evaluator/aggregate.h"
#include "services/evaluator/engine.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::evaluator {
namespace {

// The fixed seed; ENGINE_RANDOM_TEST_SEED=<n> in the environment replaces it
// (to try other data, or to reproduce a failure reported with its seed).
constexpr uint32_t kDefaultSeed = 20240331;

uint32_t Seed() {
  const char* env = std::getenv("ENGINE_RANDOM_TEST_SEED");
  if (env == nullptr || *env == '\0') return kDefaultSeed;
  return static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
}

// Sizes: enough observations of one signal that a 30-day window holds more
// than Aggregate::kExactValuesLimit of them (the percentile sketch).
constexpr int kHappiness = 1500;
constexpr int kCsat = 1000;
constexpr int kLatency = 6000;
constexpr int kCost = 800;
constexpr int kDeployments = 500;
constexpr int kOtherObservations = 300;
constexpr int kItems = 2000;
constexpr int kOtherItems = 150;
constexpr double kDuplicateShare = 0.05;
constexpr int kLateBatches = 20;
constexpr int kInstantsPerLateBatch = 8;
constexpr int kMaxReportedMismatches = 40;

constexpr char kVs[] = "valueStreams/vs";
constexpr char kOtherVs[] = "valueStreams/other";
constexpr char kConsumer[] = "teams/consumer";
constexpr char kOutsider[] = "teams/outsider";
const char* const kProviders[] = {"teams/p1", "teams/p2", "teams/p3"};
constexpr char kBerlin[] = "Europe/Berlin";

constexpr int64_t kSecondUs = 1000 * 1000;
constexpr int64_t kMinuteUs = 60 * kSecondUs;
constexpr int64_t kHourUs = 60 * kMinuteUs;
constexpr int64_t kDayUs = 24 * kHourUs;

// Data spans [kT0, kT0 + 40 days): March 2024 into April, across the
// Europe/Berlin DST change (2024-03-31T01:00Z) and month start
// (2024-03-31T22:00Z).
absl::Time T0() {
  return absl::FromCivil(absl::CivilDay(2024, 3, 1), absl::UTCTimeZone());
}
int64_t T0Us() { return absl::ToUnixMicros(T0()); }
constexpr int64_t kSpanUs = 40 * kDayUs;
// Work item events may run a little past the span.
constexpr int64_t kItemSpanUs = 44 * kDayUs;

std::string Format(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}
std::string FormatUs(int64_t us) { return Format(absl::FromUnixMicros(us)); }

int64_t FloorTo(int64_t t, int64_t unit) { return t - t % unit; }

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// --- Definitions -------------------------------------------------------------

v1::Change Created(const std::string& name) {
  v1::Change change;
  change.set_kind(v1::CHANGE_KIND_CREATED);
  change.set_name(name);
  return change;
}

v1::Change TeamChange(const std::string& name, v1::TeamKind kind) {
  v1::Change change = Created(name);
  change.mutable_team()->set_name(name);
  change.mutable_team()->set_kind(kind);
  return change;
}

v1::Change StreamChange(const std::string& name, const std::string& consumer,
                        const std::vector<std::string>& providers) {
  v1::Change change = Created(name);
  v1::ValueStream* vs = change.mutable_value_stream();
  vs->set_name(name);
  vs->set_consumer(consumer);
  for (const std::string& p : providers) vs->add_providers(p);
  return change;
}

v1::Window Rolling(absl::Duration d) {
  v1::Window w;
  *w.mutable_rolling() = ToProtoDuration(d);
  return w;
}

v1::Window BerlinMonth() {
  v1::Window w;
  w.set_calendar(v1::CALENDAR_PERIOD_MONTH);
  w.set_time_zone(kBerlin);
  return w;
}

const absl::Duration k90Min = absl::Minutes(90);
const absl::Duration k1Day = absl::Hours(24);
const absl::Duration k7Days = absl::Hours(7 * 24);
const absl::Duration k30Days = absl::Hours(30 * 24);

void AddLabel(v1::Scope* scope, const std::string& k, const std::string& v) {
  (*scope->mutable_labels())[k] = v;
}

v1::Selection Side(v1::Source source, const std::string& signal,
                   v1::WorkItemField field, v1::Aggregation aggregation) {
  v1::Selection s;
  s.set_source(source);
  s.set_signal(signal);
  s.set_field(field);
  s.set_aggregation(aggregation);
  return s;
}

// Every aggregation, both sources, every work item field, scopes, rolling
// windows of several lengths, a Europe/Berlin calendar month, min_samples,
// RATIO sides mixing observations and work items, co-measurement.
std::vector<v1::Kvi> MakeKvis() {
  std::vector<v1::Kvi> kvis;
  auto add = [&](const std::string& id, v1::Aggregation aggregation,
                 const v1::Window& window) -> v1::Kvi* {
    v1::Kvi& k = kvis.emplace_back();
    k.set_name("kvis/" + id);
    k.set_value_stream(kVs);
    k.set_aggregation(aggregation);
    *k.mutable_window() = window;
    k.set_direction(v1::DIRECTION_HIGHER_IS_BETTER);
    return &k;
  };
  auto obs = [&](const std::string& id, const std::string& signal,
                 v1::Aggregation aggregation, const v1::Window& window) {
    v1::Kvi* k = add(id, aggregation, window);
    k->set_source(v1::SOURCE_OBSERVATIONS);
    k->set_signal(signal);
    return k;
  };
  auto items = [&](const std::string& id, v1::WorkItemField field,
                   v1::Aggregation aggregation, const v1::Window& window) {
    v1::Kvi* k = add(id, aggregation, window);
    k->set_source(v1::SOURCE_WORK_ITEMS);
    k->set_field(field);
    return k;
  };
  // Observations.
  obs("obs-count-happiness-1d", "happiness", v1::AGGREGATION_COUNT,
      Rolling(k1Day));
  obs("obs-sum-cost-7d-svc-a", "cost_eur", v1::AGGREGATION_SUM, Rolling(k7Days))
      ->mutable_scope()
      ->set_service("svc-a");
  obs("obs-min-cost-90m", "cost_eur", v1::AGGREGATION_MIN, Rolling(k90Min));
  AddLabel(obs("obs-max-latency-90m-eu", "latency_ms", v1::AGGREGATION_MAX,
               Rolling(k90Min))
               ->mutable_scope(),
           "region", "eu");
  obs("obs-mean-cost-30d", "cost_eur", v1::AGGREGATION_MEAN, Rolling(k30Days))
      ->set_min_samples(50);
  {
    v1::Kvi* k = obs("obs-p50-latency-7d-svc-b", "latency_ms",
                     v1::AGGREGATION_PERCENTILE, Rolling(k7Days));
    k->set_percentile(50);
    k->mutable_scope()->set_service("svc-b");
  }
  obs("obs-p90-latency-30d", "latency_ms", v1::AGGREGATION_PERCENTILE,
      Rolling(k30Days))
      ->set_percentile(90);
  obs("obs-p50-latency-month", "latency_ms", v1::AGGREGATION_PERCENTILE,
      BerlinMonth())
      ->set_percentile(50);
  {
    v1::Kvi* k = obs("obs-p90-happiness-1d-p1", "happiness",
                     v1::AGGREGATION_PERCENTILE, Rolling(k1Day));
    k->set_percentile(90);
    k->set_min_samples(3);
    AddLabel(k->mutable_scope(), "priority", "P1");
  }
  obs("obs-rate-deployments-7d", "deployments", v1::AGGREGATION_RATE_PER_DAY,
      Rolling(k7Days));
  obs("obs-rate-deployments-month", "deployments", v1::AGGREGATION_RATE_PER_DAY,
      BerlinMonth());
  obs("obs-csat-month", "csat", v1::AGGREGATION_SHARE_AT_LEAST, BerlinMonth())
      ->set_threshold(4);
  {
    v1::Kvi* k = obs("obs-csat-low-1d", "csat", v1::AGGREGATION_SHARE_AT_MOST,
                     Rolling(k1Day));
    k->set_threshold(2);
    k->set_min_samples(5);
  }
  {
    v1::Kvi* k = obs("obs-nps-30d-p2-portal", "happiness",
                     v1::AGGREGATION_NET_SCORE, Rolling(k30Days));
    AddLabel(k->mutable_scope(), "priority", "P2");
    AddLabel(k->mutable_scope(), "channel", "portal");
  }
  obs("obs-nps-7d", "happiness", v1::AGGREGATION_NET_SCORE, Rolling(k7Days));
  obs("obs-mean-happiness-month-svc-a", "happiness", v1::AGGREGATION_MEAN,
      BerlinMonth())
      ->mutable_scope()
      ->set_service("svc-a");
  {
    v1::Kvi* k = obs("obs-happiness-comeasured-1d", "happiness",
                     v1::AGGREGATION_MEAN, Rolling(k1Day));
    k->set_min_samples(2);
    k->mutable_co_measurement()->set_enabled(true);
    k->mutable_co_measurement()->set_absolute_tolerance(0.75);
    k->mutable_co_measurement()->set_relative_tolerance(0.12);
  }
  {
    v1::Kvi* k = obs("obs-happiness-comeasured-p50-90m", "happiness",
                     v1::AGGREGATION_PERCENTILE, Rolling(k90Min));
    k->set_percentile(50);
    k->mutable_co_measurement()->set_enabled(true);
    k->mutable_co_measurement()->set_absolute_tolerance(1);
  }

  // Work items: every field.
  items("wi-p50-lead-7d", v1::WORK_ITEM_FIELD_LEAD_TIME,
        v1::AGGREGATION_PERCENTILE, Rolling(k7Days))
      ->set_percentile(50);
  {
    v1::Kvi* k = items("wi-p90-lead-30d-p1", v1::WORK_ITEM_FIELD_LEAD_TIME,
                       v1::AGGREGATION_PERCENTILE, Rolling(k30Days));
    k->set_percentile(90);
    AddLabel(k->mutable_scope(), "priority", "P1");
  }
  items("wi-min-lead-30d", v1::WORK_ITEM_FIELD_LEAD_TIME, v1::AGGREGATION_MIN,
        Rolling(k30Days));
  items("wi-lead-share-at-most-8h-1d", v1::WORK_ITEM_FIELD_LEAD_TIME,
        v1::AGGREGATION_SHARE_AT_MOST, Rolling(k1Day))
      ->set_threshold(8 * 3600);
  items("wi-mean-wait-7d", v1::WORK_ITEM_FIELD_WAIT_TIME, v1::AGGREGATION_MEAN,
        Rolling(k7Days));
  items("wi-sum-active-1d", v1::WORK_ITEM_FIELD_ACTIVE_TIME,
        v1::AGGREGATION_SUM, Rolling(k1Day));
  items("wi-mean-flow-efficiency-30d", v1::WORK_ITEM_FIELD_FLOW_EFFICIENCY,
        v1::AGGREGATION_MEAN, Rolling(k30Days));
  items("wi-p90-flow-efficiency-month", v1::WORK_ITEM_FIELD_FLOW_EFFICIENCY,
        v1::AGGREGATION_PERCENTILE, BerlinMonth())
      ->set_percentile(90);
  items("wi-max-handoffs-7d", v1::WORK_ITEM_FIELD_HANDOFFS, v1::AGGREGATION_MAX,
        Rolling(k7Days));
  items("wi-min-handoffs-90m", v1::WORK_ITEM_FIELD_HANDOFFS,
        v1::AGGREGATION_MIN, Rolling(k90Min));
  items("wi-mean-ping-pong-30d-svc-a", v1::WORK_ITEM_FIELD_PING_PONG,
        v1::AGGREGATION_MEAN, Rolling(k30Days))
      ->mutable_scope()
      ->set_service("svc-a");
  items("wi-mean-reopened-month", v1::WORK_ITEM_FIELD_REOPENED,
        v1::AGGREGATION_MEAN, BerlinMonth());
  items("wi-mean-sla-met-7d", v1::WORK_ITEM_FIELD_SLA_MET, v1::AGGREGATION_MEAN,
        Rolling(k7Days))
      ->set_min_samples(20);
  items("wi-fcr-share-30d", v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION,
        v1::AGGREGATION_SHARE_AT_LEAST, Rolling(k30Days))
      ->set_threshold(1);
  items("wi-count-resolved-90m", v1::WORK_ITEM_FIELD_RESOLVED,
        v1::AGGREGATION_COUNT, Rolling(k90Min));
  items("wi-throughput-7d", v1::WORK_ITEM_FIELD_RESOLVED,
        v1::AGGREGATION_RATE_PER_DAY, Rolling(k7Days));
  {
    v1::Kvi* k =
        items("wi-sum-handoffs-1d-svc-b-p2", v1::WORK_ITEM_FIELD_HANDOFFS,
              v1::AGGREGATION_SUM, Rolling(k1Day));
    k->mutable_scope()->set_service("svc-b");
    AddLabel(k->mutable_scope(), "priority", "P2");
  }

  // RATIO.
  {
    v1::Kvi* k = add("ratio-cost-per-resolved-30d", v1::AGGREGATION_RATIO,
                     Rolling(k30Days));
    *k->mutable_numerator() =
        Side(v1::SOURCE_OBSERVATIONS, "cost_eur",
             v1::WORK_ITEM_FIELD_UNSPECIFIED, v1::AGGREGATION_SUM);
    *k->mutable_denominator() =
        Side(v1::SOURCE_WORK_ITEMS, "", v1::WORK_ITEM_FIELD_RESOLVED,
             v1::AGGREGATION_COUNT);
  }
  {
    // The KVI scope applies to both sides; the denominator adds a label.
    v1::Kvi* k =
        add("ratio-reopened-svc-a-7d", v1::AGGREGATION_RATIO, Rolling(k7Days));
    k->mutable_scope()->set_service("svc-a");
    k->set_min_samples(5);
    *k->mutable_numerator() =
        Side(v1::SOURCE_WORK_ITEMS, "", v1::WORK_ITEM_FIELD_REOPENED,
             v1::AGGREGATION_SUM);
    *k->mutable_denominator() =
        Side(v1::SOURCE_WORK_ITEMS, "", v1::WORK_ITEM_FIELD_RESOLVED,
             v1::AGGREGATION_COUNT);
    AddLabel(k->mutable_denominator()->mutable_scope(), "priority", "P1");
    AddLabel(k->mutable_numerator()->mutable_scope(), "priority", "P1");
  }
  {
    // Change failure rate: failed deployments / deployments.
    v1::Kvi* k =
        add("ratio-change-failure-month", v1::AGGREGATION_RATIO, BerlinMonth());
    *k->mutable_numerator() =
        Side(v1::SOURCE_OBSERVATIONS, "deployments",
             v1::WORK_ITEM_FIELD_UNSPECIFIED, v1::AGGREGATION_COUNT);
    AddLabel(k->mutable_numerator()->mutable_scope(), "outcome", "failed");
    *k->mutable_denominator() =
        Side(v1::SOURCE_OBSERVATIONS, "deployments",
             v1::WORK_ITEM_FIELD_UNSPECIFIED, v1::AGGREGATION_COUNT);
  }
  {
    v1::Kvi* k =
        add("ratio-wait-over-lead-7d", v1::AGGREGATION_RATIO, Rolling(k7Days));
    *k->mutable_numerator() =
        Side(v1::SOURCE_WORK_ITEMS, "", v1::WORK_ITEM_FIELD_WAIT_TIME,
             v1::AGGREGATION_SUM);
    *k->mutable_denominator() =
        Side(v1::SOURCE_WORK_ITEMS, "", v1::WORK_ITEM_FIELD_LEAD_TIME,
             v1::AGGREGATION_SUM);
  }
  {
    // The side's service overrides the KVI's.
    v1::Kvi* k = add("ratio-latency-sum-per-csat-1d", v1::AGGREGATION_RATIO,
                     Rolling(k1Day));
    k->mutable_scope()->set_service("svc-a");
    *k->mutable_numerator() =
        Side(v1::SOURCE_OBSERVATIONS, "latency_ms",
             v1::WORK_ITEM_FIELD_UNSPECIFIED, v1::AGGREGATION_SUM);
    k->mutable_numerator()->mutable_scope()->set_service("svc-b");
    *k->mutable_denominator() =
        Side(v1::SOURCE_OBSERVATIONS, "csat", v1::WORK_ITEM_FIELD_UNSPECIFIED,
             v1::AGGREGATION_SUM);
  }
  return kvis;
}

// --- The reference: a plain rescan of the raw records ------------------------

struct RefObservation {
  int64_t time_us = 0;
  double value = 0;
  std::string service;
  std::map<std::string, std::string> labels;
  std::string reporter;
};

struct RefEvent {
  int64_t time_us = 0;
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  std::string team;
  bool sla_met = false;
  bool first_contact = false;
};

// What the reference derives of a work item (domain.md's fields, and its
// part of the flow map).
struct RefFacts {
  bool counts = false;  // resolved and not cancelled
  int64_t resolved_us = 0;
  double lead = 0, wait = 0;  // seconds
  int handoffs = 0;
  bool ping_pong = false, reopened = false, sla_met = false, fcr = false;
  // Flow: per team held, active and waiting seconds; per handoff (from, to)
  // the wait after it.
  std::map<std::string, std::pair<double, double>> custody;
  std::vector<std::pair<std::pair<std::string, std::string>, double>> seams;
};

// Walks the events in time order (stable: ties keep arrival order), from
// the first CREATED to the last RESOLVED, cutting the lead time into
// segments between consecutive events; each segment is working, waiting
// (after a WAITING, until an ACTIVE) or a resolved gap (after a RESOLVED
// that is not the last, until a REOPENED), and held by the team of the last
// ASSIGNED before it (none before the first).
RefFacts RefDerive(std::vector<RefEvent> events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const RefEvent& a, const RefEvent& b) {
                     return a.time_us < b.time_us;
                   });
  RefFacts f;
  const auto of_kind = [](v1::EventKind kind) {
    return [kind](const RefEvent& e) { return e.kind == kind; };
  };
  const auto end_it = events.end();
  const auto created_it =
      std::find_if(events.begin(), end_it, of_kind(v1::EVENT_KIND_CREATED));
  const auto resolved_rit = std::find_if(events.rbegin(), events.rend(),
                                         of_kind(v1::EVENT_KIND_RESOLVED));
  f.reopened =
      std::any_of(events.begin(), end_it, of_kind(v1::EVENT_KIND_REOPENED));
  const bool cancelled =
      std::any_of(events.begin(), end_it, of_kind(v1::EVENT_KIND_CANCELLED));
  if (created_it == end_it || resolved_rit == events.rend()) return f;
  // Reopened after its last resolution: open again.
  if (std::any_of(resolved_rit.base(), end_it,
                  of_kind(v1::EVENT_KIND_REOPENED))) {
    return f;
  }
  const int created = static_cast<int>(created_it - events.begin());
  const int last_resolved = static_cast<int>(events.rend() - resolved_rit) - 1;
  f.counts = !cancelled;
  f.resolved_us = events[last_resolved].time_us;
  const int64_t begin = events[created].time_us;
  const int64_t end = std::max(begin, f.resolved_us);
  f.lead = static_cast<double>(end - begin) / 1e6;
  f.sla_met = events[last_resolved].sla_met;

  enum class State { kWorking, kWaiting, kGap };
  State state = State::kWorking;
  std::string holder;
  std::set<std::string> held;
  int64_t wait_us = 0;
  int64_t prev = begin;
  int open_seam = -1;  // the handoff whose wait is still being counted
  std::vector<int64_t> seam_wait_us;
  std::map<std::string, std::pair<int64_t, int64_t>> custody_us;
  const auto segment = [&](int64_t until) {
    const int64_t length = until - prev;
    prev = until;
    const bool waiting = state != State::kWorking;
    if (waiting) wait_us += length;
    if (!holder.empty()) {
      (waiting ? custody_us[holder].second : custody_us[holder].first) +=
          length;
    }
    if (waiting && open_seam >= 0) seam_wait_us[open_seam] += length;
  };
  for (int i = 0; i < last_resolved; ++i) {
    const RefEvent& e = events[i];
    segment(std::clamp(e.time_us, begin, end));
    if (e.kind == v1::EVENT_KIND_ASSIGNED && !e.team.empty() &&
        e.team != holder) {
      if (!holder.empty()) {
        ++f.handoffs;
        f.ping_pong = f.ping_pong || held.count(e.team) > 0;
        f.seams.push_back({{holder, e.team}, 0});
        seam_wait_us.push_back(0);
        open_seam = static_cast<int>(f.seams.size()) - 1;
      }
      holder = e.team;
      held.insert(e.team);
      custody_us[holder];  // held, even for no time
    }
    if (i <= created) continue;  // events before creation set no state
    switch (e.kind) {
      case v1::EVENT_KIND_WAITING:
        if (state == State::kWorking) state = State::kWaiting;
        break;
      case v1::EVENT_KIND_ACTIVE:
        if (state == State::kWaiting) state = State::kWorking;
        open_seam = -1;  // work resumed after the handoff
        break;
      case v1::EVENT_KIND_RESOLVED:
        state = State::kGap;
        break;
      case v1::EVENT_KIND_REOPENED:
        if (state == State::kGap) state = State::kWorking;
        break;
      default:
        break;
    }
  }
  segment(end);
  f.wait = static_cast<double>(wait_us) / 1e6;
  f.fcr = events[last_resolved].first_contact && !f.reopened && f.handoffs == 0;
  for (const auto& [team, us] : custody_us) {
    f.custody[team] = {static_cast<double>(us.first) / 1e6,
                       static_cast<double>(us.second) / 1e6};
  }
  for (size_t k = 0; k < f.seams.size(); ++k) {
    f.seams[k].second = static_cast<double>(seam_wait_us[k]) / 1e6;
  }
  return f;
}

std::optional<double> RefField(const RefFacts& f, v1::WorkItemField field) {
  switch (field) {
    case v1::WORK_ITEM_FIELD_LEAD_TIME:
      return f.lead;
    case v1::WORK_ITEM_FIELD_WAIT_TIME:
      return f.wait;
    case v1::WORK_ITEM_FIELD_ACTIVE_TIME:
      return f.lead - f.wait;
    case v1::WORK_ITEM_FIELD_FLOW_EFFICIENCY:
      if (f.lead == 0) return std::nullopt;
      return (f.lead - f.wait) / f.lead;
    case v1::WORK_ITEM_FIELD_HANDOFFS:
      return f.handoffs;
    case v1::WORK_ITEM_FIELD_PING_PONG:
      return f.ping_pong;
    case v1::WORK_ITEM_FIELD_REOPENED:
      return f.reopened;
    case v1::WORK_ITEM_FIELD_SLA_MET:
      return f.sla_met;
    case v1::WORK_ITEM_FIELD_FIRST_CONTACT_RESOLUTION:
      return f.fcr;
    case v1::WORK_ITEM_FIELD_RESOLVED:
      return 1;
    default:
      return std::nullopt;
  }
}

// The p-th percentile by linear interpolation between closest ranks (R type
// 7): rank h = (n - 1) p / 100 from 0, between the values at floor and ceil.
double RefPercentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double h = static_cast<double>(values.size() - 1) * p / 100;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

struct RefItem {
  std::vector<RefEvent> events;  // in arrival order
  std::string service;
  std::map<std::string, std::string> labels;
  RefFacts facts;
  bool stale = false;
};

// The flow map the reference expects.
struct RefFlow {
  int64_t resolved = 0, ping_pong = 0;
  double sum_active = 0, sum_lead = 0;
  struct Team {
    int64_t items = 0;
    double active = 0, wait = 0;
  };
  std::map<std::string, Team> teams;
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, double>>
      seams;  // handoffs, summed wait
};

// What a selection picks: source, signal or field, scope, and for
// co-measurement the reporters of one side.
struct RefSelection {
  v1::Source source = v1::SOURCE_UNSPECIFIED;
  std::string signal;
  v1::WorkItemField field = v1::WORK_ITEM_FIELD_UNSPECIFIED;
  std::string service;
  std::map<std::string, std::string> labels;
  std::optional<std::set<std::string>> reporters;
};

struct Expected {
  bool has_value = false;
  double value = 0;
  int64_t samples = 0;
  int64_t window_start_us = 0;
  int64_t window_end_us = 0;
  v1::CoMeasurementState comeasurement =
      v1::CO_MEASUREMENT_STATE_NOT_COMEASURED;
  std::map<std::string, double> party_values;
  // A percentile over more than Aggregate::kExactValuesLimit values: the
  // Engine may answer from its sketch (1% relative error).
  bool sketch = false;
};

bool ScopeMatches(const RefSelection& sel, const std::string& service,
                  const std::map<std::string, std::string>& labels) {
  if (!sel.service.empty() && service != sel.service) return false;
  for (const auto& [k, v] : sel.labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// The exact aggregation of domain.md over `values`; nullopt with no values.
std::optional<double> ExactAggregate(const std::vector<double>& values,
                                     const v1::Kvi& kvi,
                                     absl::Duration window) {
  if (values.empty()) return std::nullopt;
  const double n = static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  const auto share = [&](auto pred) {
    return static_cast<double>(
               std::count_if(values.begin(), values.end(), pred)) /
           n;
  };
  switch (kvi.aggregation()) {
    case v1::AGGREGATION_COUNT:
      return n;
    case v1::AGGREGATION_SUM:
      return sum;
    case v1::AGGREGATION_MIN:
      return *std::min_element(values.begin(), values.end());
    case v1::AGGREGATION_MAX:
      return *std::max_element(values.begin(), values.end());
    case v1::AGGREGATION_MEAN:
      return sum / n;
    case v1::AGGREGATION_PERCENTILE:
      return RefPercentile(values, kvi.percentile());
    case v1::AGGREGATION_RATE_PER_DAY:
      if (window <= absl::ZeroDuration()) return std::nullopt;
      return n / absl::FDivDuration(window, absl::Hours(24));
    case v1::AGGREGATION_SHARE_AT_LEAST:
      return share([&](double v) { return v >= kvi.threshold(); });
    case v1::AGGREGATION_SHARE_AT_MOST:
      return share([&](double v) { return v <= kvi.threshold(); });
    case v1::AGGREGATION_NET_SCORE:
      return 100 * (share([](double v) { return v >= 9; }) -
                    share([](double v) { return v <= 6; }));
    default:
      return std::nullopt;
  }
}

class Reference {
 public:
  explicit Reference(const std::vector<std::string>& providers)
      : providers_(providers.begin(), providers.end()) {
    EXPECT_TRUE(absl::LoadTimeZone(kBerlin, &berlin_))
        << "no time zone data for " << kBerlin;
  }

  void Add(const v1::Observation& o) {
    RefObservation r;
    r.time_us = absl::ToUnixMicros(FromProtoTime(o.time()));
    r.value = o.value();
    r.service = o.service();
    r.labels.insert(o.labels().begin(), o.labels().end());
    r.reporter = o.reporter();
    observations_[{o.value_stream(), o.signal()}].push_back(std::move(r));
  }

  void Add(const v1::WorkItemEvent& e) {
    RefItem& item = items_[{e.value_stream(), e.item_id()}];
    item.events.push_back({absl::ToUnixMicros(FromProtoTime(e.time())),
                           e.kind(), e.team(), e.sla_met(), e.first_contact()});
    if (!e.service().empty()) item.service = e.service();
    for (const auto& [k, v] : e.labels()) item.labels[k] = v;
    item.stale = true;
  }

  // Rebuilds the items that received events since the last call.
  void Rederive() {
    for (auto& [key, item] : items_) {
      if (!item.stale) continue;
      item.facts = RefDerive(item.events);
      item.stale = false;
    }
  }

  // The flow map of value stream kVs over [at - window, at).
  RefFlow Flow(absl::Duration window, absl::Time at) const {
    const int64_t from = absl::ToUnixMicros(at - window);
    const int64_t to = absl::ToUnixMicros(at);
    RefFlow flow;
    for (const auto& [key, item] : items_) {
      const RefFacts& f = item.facts;
      if (key.first != kVs || !f.counts) continue;
      if (f.resolved_us < from || f.resolved_us >= to) continue;
      ++flow.resolved;
      flow.ping_pong += f.ping_pong;
      flow.sum_active += f.lead - f.wait;
      flow.sum_lead += f.lead;
      for (const auto& [team, times] : f.custody) {
        RefFlow::Team& t = flow.teams[team];
        ++t.items;
        t.active += times.first;
        t.wait += times.second;
      }
      for (const auto& [seam, wait] : f.seams) {
        auto& acc = flow.seams[seam];
        ++acc.first;
        acc.second += wait;
      }
    }
    return flow;
  }

  int64_t WindowStart(const v1::Kvi& kvi, absl::Time at) const {
    if (kvi.window().has_rolling()) {
      return absl::ToUnixMicros(at - FromProtoDuration(kvi.window().rolling()));
    }
    // Calendar month in Europe/Berlin (the only calendar window here).
    const absl::CivilMonth month(absl::ToCivilSecond(at, berlin_));
    return absl::ToUnixMicros(absl::FromCivil(month, berlin_));
  }

  // The values `sel` selects in value stream kVs over [from, to).
  std::vector<double> Values(const RefSelection& sel, int64_t from,
                             int64_t to) const {
    std::vector<double> out;
    if (sel.source == v1::SOURCE_OBSERVATIONS) {
      auto it = observations_.find({kVs, sel.signal});
      if (it == observations_.end()) return out;
      for (const RefObservation& o : it->second) {
        if (o.time_us < from || o.time_us >= to) continue;
        if (!ScopeMatches(sel, o.service, o.labels)) continue;
        if (sel.reporters && !sel.reporters->count(o.reporter)) continue;
        out.push_back(o.value);
      }
      return out;
    }
    for (const auto& [key, item] : items_) {
      if (key.first != kVs) continue;
      const RefFacts& f = item.facts;
      if (!f.counts) continue;
      if (f.resolved_us < from || f.resolved_us >= to) continue;
      if (!ScopeMatches(sel, item.service, item.labels)) continue;
      if (auto v = RefField(f, sel.field)) out.push_back(*v);
    }
    return out;
  }

  Expected Compute(const v1::Kvi& kvi, absl::Time at) const {
    Expected x;
    x.window_end_us = absl::ToUnixMicros(at);
    x.window_start_us = std::min(WindowStart(kvi, at), x.window_end_us);
    const int64_t from = x.window_start_us;
    const int64_t to = x.window_end_us;
    const absl::Duration length = absl::Microseconds(to - from);
    const int64_t min_samples = std::max(1, kvi.min_samples());

    if (kvi.aggregation() == v1::AGGREGATION_RATIO) {
      double totals[2];
      int64_t counts[2];
      const v1::Selection* sides[2] = {&kvi.numerator(), &kvi.denominator()};
      for (int i = 0; i < 2; ++i) {
        RefSelection sel = BaseSelection(kvi);
        sel.source = sides[i]->source();
        sel.signal = sides[i]->signal();
        sel.field = sides[i]->field();
        if (!sides[i]->scope().service().empty()) {
          sel.service = sides[i]->scope().service();
        }
        for (const auto& [k, v] : sides[i]->scope().labels()) {
          sel.labels[k] = v;
        }
        const std::vector<double> values = Values(sel, from, to);
        counts[i] = static_cast<int64_t>(values.size());
        double sum = 0;
        for (double v : values) sum += v;
        totals[i] = sides[i]->aggregation() == v1::AGGREGATION_SUM
                        ? sum
                        : static_cast<double>(values.size());
      }
      x.samples = counts[1];
      if (counts[1] >= min_samples && totals[1] != 0) {
        x.has_value = true;
        x.value = totals[0] / totals[1];
      }
      return x;
    }

    RefSelection sel = BaseSelection(kvi);
    const bool percentile = kvi.aggregation() == v1::AGGREGATION_PERCENTILE;
    if (!kvi.co_measurement().enabled()) {
      const std::vector<double> values = Values(sel, from, to);
      x.samples = static_cast<int64_t>(values.size());
      x.sketch = percentile && x.samples > Aggregate::kExactValuesLimit;
      if (x.samples >= min_samples) {
        if (auto v = ExactAggregate(values, kvi, length)) {
          x.has_value = true;
          x.value = *v;
        }
      }
      return x;
    }

    // Co-measurement, as domain.md words it.
    std::optional<double> side[2];
    RefSelection consumer = sel;
    consumer.reporters = std::set<std::string>{kConsumer};
    RefSelection provider = sel;
    provider.reporters = providers_;
    const RefSelection* sides[2] = {&consumer, &provider};
    for (int i = 0; i < 2; ++i) {
      const std::vector<double> values = Values(*sides[i], from, to);
      const int64_t n = static_cast<int64_t>(values.size());
      x.samples += n;
      x.sketch |= percentile && n > Aggregate::kExactValuesLimit;
      if (n >= min_samples) side[i] = ExactAggregate(values, kvi, length);
    }
    if (side[0]) x.party_values[kConsumer] = *side[0];
    for (const std::string& p : providers_) {
      if (side[1]) x.party_values[p] = *side[1];
    }
    const int sides_with_value = (side[0] ? 1 : 0) + (side[1] ? 1 : 0);
    if (sides_with_value == 0) return x;
    x.has_value = true;
    if (sides_with_value == 1) {
      x.comeasurement = v1::CO_MEASUREMENT_STATE_ONE_SIDED;
      x.value = side[0].value_or(side[1].value_or(0));
      return x;
    }
    // "differ by more than the tolerance (absolute, or relative to the
    // consumer's value; a tolerance of 0 is unset, and exceeding any set
    // tolerance counts)"
    std::vector<double> allowed;
    const v1::CoMeasurement& cm = kvi.co_measurement();
    if (cm.absolute_tolerance() != 0)
      allowed.push_back(cm.absolute_tolerance());
    if (cm.relative_tolerance() != 0) {
      allowed.push_back(cm.relative_tolerance() * std::fabs(*side[0]));
    }
    const double apart = std::fabs(*side[1] - *side[0]);
    const bool disputed = std::any_of(allowed.begin(), allowed.end(),
                                      [&](double a) { return apart > a; });
    x.comeasurement = disputed ? v1::CO_MEASUREMENT_STATE_DISPUTED
                               : v1::CO_MEASUREMENT_STATE_AGREED;
    x.value = disputed ? *side[0] : 0.5 * (*side[0] + *side[1]);
    return x;
  }

 private:
  static RefSelection BaseSelection(const v1::Kvi& kvi) {
    RefSelection sel;
    sel.source = kvi.source();
    sel.signal = kvi.signal();
    sel.field = kvi.field();
    sel.service = kvi.scope().service();
    sel.labels.insert(kvi.scope().labels().begin(), kvi.scope().labels().end());
    return sel;
  }

  absl::TimeZone berlin_;
  std::set<std::string> providers_;
  std::map<std::pair<std::string, std::string>, std::vector<RefObservation>>
      observations_;
  std::map<std::pair<std::string, std::string>, RefItem> items_;
};

// --- Random records ----------------------------------------------------------

// One record as delivered: an observation or a work item event.
struct Record {
  bool is_observation = true;
  v1::Observation observation;
  v1::WorkItemEvent event;
  const std::string& event_id() const {
    return is_observation ? observation.event_id() : event.event_id();
  }
};

class Generator {
 public:
  Generator(std::mt19937* rng, std::vector<int64_t> hot_times)
      : rng_(*rng), hot_times_(std::move(hot_times)) {}

  double Uniform() {
    return std::uniform_real_distribution<double>(0, 1)(rng_);
  }
  int Int(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }

  // A time in [from, to): mostly at a random microsecond, sometimes on a
  // minute, hour or day boundary, sometimes exactly at a check instant or at
  // the start of a window ending at one.
  int64_t Time(int64_t from, int64_t to) {
    int64_t t = std::uniform_int_distribution<int64_t>(from, to - 1)(rng_);
    const double r = Uniform();
    if (r < 0.10) {
      t = FloorTo(t, kMinuteUs);
    } else if (r < 0.14) {
      t = FloorTo(t, 5 * kMinuteUs);
    } else if (r < 0.17) {
      t = FloorTo(t, kHourUs);
    } else if (r < 0.19) {
      t = FloorTo(t, kDayUs);
    } else if (r < 0.22) {
      t = Pick(hot_times_);
    }
    return std::clamp(t, from, to - 1);
  }

  // A delay between two events of an item: minutes, hours or days; now and
  // then zero (equal times) or rounded to whole minutes.
  int64_t Delay() {
    const double r = Uniform();
    if (r < 0.04) return 0;
    double mean_s = r < 0.45 ? 20 * 60 : (r < 0.85 ? 3 * 3600 : 1.5 * 86400);
    int64_t us = static_cast<int64_t>(
        std::exponential_distribution<double>(1 / mean_s)(rng_) * 1e6);
    if (Uniform() < 0.1) us = FloorTo(us, kMinuteUs);
    return us;
  }

  // An observation at a random time of the span, for a random service.
  void AddObservation(const std::string& vs, const std::string& signal,
                      double value,
                      const std::map<std::string, std::string>& labels,
                      const std::string& reporter) {
    const int64_t t = Time(T0Us(), T0Us() + kSpanUs);
    const std::string service =
        Pick(std::vector<std::string>{"svc-a", "svc-b", ""});
    Record& r = records_.emplace_back();
    r.is_observation = true;
    v1::Observation& o = r.observation;
    o.set_event_id(absl::StrCat("obs-", records_.size()));
    o.set_signal(signal);
    *o.mutable_time() = ToProtoTime(absl::FromUnixMicros(t));
    o.set_value(value);
    o.set_value_stream(vs);
    o.set_service(service);
    o.mutable_labels()->insert(labels.begin(), labels.end());
    o.set_reporter(reporter);
  }

  void Observations() {
    const std::vector<std::string> priorities = {"P1", "P2", "P3", "P4"};
    const std::vector<std::string> channels = {"portal", "phone", ""};
    auto labels = [&](bool with_channel) {
      std::map<std::string, std::string> l;
      l["priority"] = Pick(priorities);
      if (with_channel) {
        const std::string& c = Pick(channels);
        if (!c.empty()) l["channel"] = c;
      }
      return l;
    };
    // Happiness, 0..10, reported by the consumer, the providers (who see it
    // a little rosier), a team outside the stream, or nobody.
    std::discrete_distribution<int> happiness(
        {2, 1, 1, 2, 2, 4, 5, 8, 10, 9, 6});
    for (int i = 0; i < kHappiness; ++i) {
      const double r = Uniform();
      std::string reporter;
      int value = happiness(rng_);
      if (r < 0.45) {
        reporter = kConsumer;
      } else if (r < 0.80) {
        reporter = kProviders[Int(0, 2)];
        if (Uniform() < 0.35) value = std::min(10, value + 1);
      } else if (r < 0.85) {
        reporter = kOutsider;
      }
      AddObservation(kVs, "happiness", value, labels(true), reporter);
    }
    std::discrete_distribution<int> csat({0, 1, 1, 2, 4, 3});
    for (int i = 0; i < kCsat; ++i) {
      const int value = csat(rng_);
      const std::string reporter = Uniform() < 0.5 ? kConsumer : "";
      AddObservation(kVs, "csat", value, labels(false), reporter);
    }
    std::lognormal_distribution<double> latency(5, 0.8);
    for (int i = 0; i < kLatency; ++i) {
      const double value = latency(rng_);
      std::map<std::string, std::string> l;
      l["region"] = Uniform() < 0.6 ? "eu" : "us";
      AddObservation(kVs, "latency_ms", value, l, "");
    }
    std::normal_distribution<double> cost(50, 80);
    for (int i = 0; i < kCost; ++i) {
      const double value = Uniform() < 0.05 ? 0 : cost(rng_);
      AddObservation(kVs, "cost_eur", value, labels(false), "");
    }
    for (int i = 0; i < kDeployments; ++i) {
      std::map<std::string, std::string> l;
      l["outcome"] = Uniform() < 0.15 ? "failed" : "ok";
      AddObservation(kVs, "deployments", 1, l, kProviders[Int(0, 2)]);
    }
    // Another value stream with the same signals: never counted.
    const std::vector<std::string> signals = {"happiness", "csat", "latency_ms",
                                              "cost_eur", "deployments"};
    for (int i = 0; i < kOtherObservations; ++i) {
      const std::string signal = Pick(signals);
      const int value = Int(0, 10);
      const std::string reporter = Uniform() < 0.5 ? kConsumer : kProviders[0];
      AddObservation(kOtherVs, signal, value, labels(true), reporter);
    }
  }

  // One item's life: a random walk through the event kinds, with noise
  // (events before CREATED, events out of sequence, no CREATED at all).
  void Item(const std::string& vs, int index) {
    const std::string item_id = absl::StrCat("item-", index);
    const std::string service =
        Pick(std::vector<std::string>{"svc-a", "svc-b", "svc-a", "svc-b", ""});
    std::map<std::string, std::string> labels;
    labels["priority"] = Pick(std::vector<std::string>{"P1", "P2", "P3", "P4"});
    const int64_t lo = T0Us();
    const int64_t hi = lo + kItemSpanUs;
    const int64_t created = Time(lo, lo + 38 * kDayUs);
    std::vector<std::pair<int64_t, v1::WorkItemEvent>> events;
    auto add = [&](int64_t t, v1::EventKind kind) -> v1::WorkItemEvent& {
      auto& [time, e] = events.emplace_back();
      time = std::clamp(t, lo, hi - 1);
      e.set_kind(kind);
      return e;
    };
    const auto team = [&] { return std::string(kProviders[Int(0, 2)]); };

    if (Uniform() >= 0.02) add(created, v1::EVENT_KIND_CREATED);
    int64_t t = created;
    if (Uniform() < 0.8) {
      t += Delay() / 4;
      add(t, v1::EVENT_KIND_ASSIGNED).set_team(team());
    }
    enum class State { kOpen, kWaiting, kResolved };
    State state = State::kOpen;
    const int steps = Int(0, 7);
    for (int i = 0; i < steps; ++i) {
      t += Delay();
      const double r = Uniform();
      switch (state) {
        case State::kOpen:
          if (r < 0.4) {
            add(t, v1::EVENT_KIND_ASSIGNED).set_team(team());
          } else if (r < 0.75) {
            add(t, v1::EVENT_KIND_WAITING).set_reason("customer");
            state = State::kWaiting;
          } else {
            v1::WorkItemEvent& e = add(t, v1::EVENT_KIND_RESOLVED);
            e.set_sla_met(Uniform() < 0.7);
            e.set_first_contact(Uniform() < 0.4);
            state = State::kResolved;
          }
          break;
        case State::kWaiting:
          if (r < 0.6) {
            add(t, v1::EVENT_KIND_ACTIVE);
            state = State::kOpen;
          } else if (r < 0.8) {
            add(t, v1::EVENT_KIND_ASSIGNED).set_team(team());
          } else {
            add(t, v1::EVENT_KIND_RESOLVED).set_sla_met(Uniform() < 0.5);
            state = State::kResolved;
          }
          break;
        case State::kResolved:
          add(t, v1::EVENT_KIND_REOPENED);
          state = State::kOpen;
          break;
      }
      // Noise: an event out of sequence, or one before the creation.
      if (Uniform() < 0.03) {
        const v1::EventKind kinds[] = {v1::EVENT_KIND_ACTIVE,
                                       v1::EVENT_KIND_WAITING,
                                       v1::EVENT_KIND_REOPENED};
        const v1::EventKind kind = kinds[Int(0, 2)];
        add(t + Delay(), kind);
      }
      if (Uniform() < 0.02) {
        add(created - Delay(), v1::EVENT_KIND_ASSIGNED).set_team(team());
      }
    }
    if (state != State::kResolved && Uniform() < 0.8) {
      t += Delay();
      v1::WorkItemEvent& e = add(t, v1::EVENT_KIND_RESOLVED);
      e.set_sla_met(Uniform() < 0.75);
      e.set_first_contact(Uniform() < 0.5);
      state = State::kResolved;
    }
    if (state == State::kResolved) {
      const double r = Uniform();
      if (r < 0.06) {
        add(t + Delay(), v1::EVENT_KIND_REOPENED);  // open again for good
      } else if (r < 0.5) {
        add(t + Delay(), v1::EVENT_KIND_CLOSED);
      }
    }
    if (Uniform() < 0.04) {
      add(created + Delay(), v1::EVENT_KIND_CANCELLED);
    }

    int k = 0;
    for (auto& [time, e] : events) {
      Record& r = records_.emplace_back();
      r.is_observation = false;
      r.event = std::move(e);
      r.event.set_event_id(absl::StrCat(vs, "/", item_id, "/", k++));
      r.event.set_item_id(item_id);
      r.event.set_item_type(v1::ITEM_TYPE_INCIDENT);
      r.event.set_value_stream(vs);
      *r.event.mutable_time() = ToProtoTime(absl::FromUnixMicros(time));
      // Most events carry the item's service and labels, some carry none.
      if (Uniform() < 0.8) {
        r.event.set_service(service);
        r.event.mutable_labels()->insert(labels.begin(), labels.end());
      }
    }
  }

  void Items() {
    for (int i = 0; i < kItems; ++i) Item(kVs, i);
    // The same item ids in another value stream: other items.
    for (int i = 0; i < kOtherItems; ++i) Item(kOtherVs, i);
  }

  // Everything, shuffled, with some records repeated (a sender's retries).
  std::vector<Record> Delivery() {
    std::vector<Record> out = records_;
    const size_t n = records_.size();
    for (size_t i = 0; i < n; ++i) {
      if (Uniform() < kDuplicateShare) out.push_back(records_[i]);
    }
    std::shuffle(out.begin(), out.end(), rng_);
    return out;
  }

  size_t size() const { return records_.size(); }

 private:
  std::mt19937& rng_;
  std::vector<int64_t> hot_times_;
  std::vector<Record> records_;
};

// Check instants: day, hour, 5-minute and minute boundaries, random
// microseconds, and the instants around the Europe/Berlin month start and
// DST change.
std::vector<absl::Time> MakeInstants(std::mt19937* rng) {
  std::mt19937& r = *rng;
  const int64_t t0 = T0Us();
  std::vector<int64_t> us;
  us.push_back(t0);
  us.push_back(t0 + 1);
  for (int d = 1; d <= 46; ++d) us.push_back(t0 + d * kDayUs);
  auto random = [&](int64_t unit) {
    const int64_t t =
        std::uniform_int_distribution<int64_t>(t0, t0 + 45 * kDayUs)(r);
    return FloorTo(t, unit);
  };
  for (int i = 0; i < 20; ++i) us.push_back(random(kHourUs));
  for (int i = 0; i < 10; ++i) us.push_back(random(5 * kMinuteUs));
  for (int i = 0; i < 20; ++i) us.push_back(random(kMinuteUs));
  for (int i = 0; i < 10; ++i) us.push_back(random(kSecondUs));
  for (int i = 0; i < 40; ++i) us.push_back(random(1));
  // A window sliding in 37 s steps over 12 minutes, twice: consecutive
  // checks reuse the cached spans of whole minutes and 5-minute blocks
  // while the window moves inside them, and must see late data in them.
  for (int run = 0; run < 2; ++run) {
    const int64_t start = random(1);
    for (int i = 0; i < 20; ++i) us.push_back(start + i * 37 * kSecondUs);
  }
  absl::TimeZone berlin;
  absl::LoadTimeZone(kBerlin, &berlin);
  const int64_t april =
      absl::ToUnixMicros(absl::FromCivil(absl::CivilMonth(2024, 4), berlin));
  const int64_t dst = absl::ToUnixMicros(
      absl::FromCivil(absl::CivilHour(2024, 3, 31, 1), absl::UTCTimeZone()));
  for (int64_t base : {april, dst}) {
    for (int64_t delta : {-kHourUs, -kMinuteUs, int64_t{-1}, int64_t{0},
                          int64_t{1}, kMinuteUs, 90 * kMinuteUs, kDayUs}) {
      us.push_back(base + delta);
    }
  }
  std::sort(us.begin(), us.end());
  us.erase(std::unique(us.begin(), us.end()), us.end());
  std::vector<absl::Time> out;
  for (int64_t t : us) out.push_back(absl::FromUnixMicros(t));
  return out;
}

// --- Comparison --------------------------------------------------------------

struct Tally {
  int64_t comparisons = 0;
  int64_t flows = 0;
  int64_t flows_with_seams = 0;  // and ping-pong
  int64_t with_value = 0;
  int64_t sketch = 0;
  int64_t mismatches = 0;
  std::map<v1::CoMeasurementState, int64_t> comeasurement;
};

bool Close(double expected, double actual, double relative) {
  const double diff = std::fabs(expected - actual);
  return diff <= 1e-9 ||
         diff <= relative * std::max(std::fabs(expected), std::fabs(actual));
}

class EngineRandomTest : public ::testing::Test {
 protected:
  EngineRandomTest()
      : clock_(T0() + absl::Hours(24 * 47)),
        engine_(&clock_),
        reference_({kProviders[0], kProviders[1], kProviders[2]}) {}

  void Define() {
    engine_.ApplyChange(TeamChange(kConsumer, v1::TEAM_KIND_CONSUMER));
    engine_.ApplyChange(TeamChange(kOutsider, v1::TEAM_KIND_PROVIDER));
    for (const char* p : kProviders) {
      engine_.ApplyChange(TeamChange(p, v1::TEAM_KIND_PROVIDER));
    }
    engine_.ApplyChange(StreamChange(
        kVs, kConsumer, {kProviders[0], kProviders[1], kProviders[2]}));
    engine_.ApplyChange(StreamChange(kOtherVs, kOutsider, {kProviders[0]}));
    kvis_ = MakeKvis();
    for (const v1::Kvi& kvi : kvis_) {
      v1::Change change = Created(kvi.name());
      *change.mutable_kvi() = kvi;
      engine_.ApplyChange(change);
    }
  }

  // Feeds records [begin, end) of the delivery, each distinct event_id once
  // (the store's deduplication), through Check and Add (as ingest does) or
  // one by one (as the rebuild at start does).
  void Feed(const std::vector<Record>& delivery, size_t begin, size_t end,
            bool batch) {
    std::vector<IngestRecord> records;
    for (size_t i = begin; i < end; ++i) {
      const Record& r = delivery[i];
      if (!seen_.insert(r.event_id()).second) {
        ++duplicates_;
        continue;
      }
      IngestRecord& rec = records.emplace_back();
      if (r.is_observation) {
        rec.observation = &r.observation;
      } else {
        rec.event = &r.event;
      }
      rec.stored = true;
    }
    engine_.Check(absl::MakeSpan(records));
    for (const IngestRecord& rec : records) {
      ASSERT_TRUE(rec.check.ok()) << rec.check;
      if (rec.observation != nullptr) {
        reference_.Add(*rec.observation);
      } else {
        reference_.Add(*rec.event);
      }
    }
    if (batch) {
      engine_.Add(records);
    } else {
      for (const IngestRecord& rec : records) {
        if (rec.observation != nullptr) {
          engine_.AddObservation(*rec.observation);
        } else {
          engine_.AddEvent(*rec.event);
        }
      }
    }
    reference_.Rederive();
  }

  void Check(const v1::Kvi& kvi, absl::Time at, absl::string_view phase) {
    const Expected x = reference_.Compute(kvi, at);
    absl::StatusOr<v1::KviValue> got = engine_.KviValue(kvi.name(), at);
    ++tally_.comparisons;
    if (x.has_value) ++tally_.with_value;
    if (x.sketch) ++tally_.sketch;
    if (kvi.co_measurement().enabled()) ++tally_.comeasurement[x.comeasurement];
    std::vector<std::string> problems;
    if (!got.ok()) {
      problems.push_back(got.status().ToString());
    } else {
      const v1::KviValue& v = *got;
      if (v.has_value() != x.has_value) {
        problems.push_back(
            absl::StrCat("has_value ", v.has_value() ? "true" : "false",
                         ", expected ", x.has_value ? "true" : "false"));
      }
      if (v.samples() != x.samples) {
        problems.push_back(
            absl::StrCat("samples ", v.samples(), ", expected ", x.samples));
      }
      const double relative = x.sketch ? 0.01 : 1e-9;
      if (v.has_value() && x.has_value &&
          !Close(x.value, v.value(), relative)) {
        problems.push_back(absl::StrCat("value ", Num(v.value()), ", expected ",
                                        Num(x.value),
                                        x.sketch ? " (sketch, 1%)" : ""));
      }
      const int64_t start = absl::ToUnixMicros(FromProtoTime(v.window_start()));
      const int64_t end = absl::ToUnixMicros(FromProtoTime(v.window_end()));
      if (start != x.window_start_us || end != x.window_end_us) {
        problems.push_back(absl::StrCat(
            "window [", FormatUs(start), ", ", FormatUs(end), "), expected [",
            FormatUs(x.window_start_us), ", ", FormatUs(x.window_end_us), ")"));
      }
      if (v.comeasurement() != x.comeasurement) {
        problems.push_back(absl::StrCat(
            "comeasurement ", v1::CoMeasurementState_Name(v.comeasurement()),
            ", expected ", v1::CoMeasurementState_Name(x.comeasurement)));
      }
      std::map<std::string, double> parties(v.party_values().begin(),
                                            v.party_values().end());
      bool parties_ok = parties.size() == x.party_values.size();
      for (const auto& [team, value] : x.party_values) {
        auto it = parties.find(team);
        parties_ok = parties_ok && it != parties.end() &&
                     Close(value, it->second, relative);
      }
      if (!parties_ok) problems.push_back("party_values differ");
    }
    if (problems.empty()) return;
    if (++tally_.mismatches <= kMaxReportedMismatches) {
      std::string message;
      for (const std::string& p : problems) absl::StrAppend(&message, "; ", p);
      ADD_FAILURE() << "Engine and rescan disagree (" << phase
                    << "): " << kvi.name() << " at " << Format(at) << ": "
                    << message.substr(2) << "\n  window_start "
                    << FormatUs(x.window_start_us) << ", seed " << seed_;
    }
  }

  void CheckFlow(absl::Duration window, absl::Time at,
                 absl::string_view phase) {
    const RefFlow x = reference_.Flow(window, at);
    absl::StatusOr<v1::ValueStreamFlow> got = engine_.Flow(kVs, window, at);
    ++tally_.flows;
    if (!x.seams.empty() && x.ping_pong > 0) ++tally_.flows_with_seams;
    std::vector<std::string> problems;
    if (!got.ok()) {
      problems.push_back(got.status().ToString());
    } else {
      const v1::ValueStreamFlow& f = *got;
      if (f.resolved_items() != x.resolved ||
          f.ping_pong_items() != x.ping_pong) {
        problems.push_back(absl::StrCat(
            "resolved/ping-pong ", f.resolved_items(), "/", f.ping_pong_items(),
            ", expected ", x.resolved, "/", x.ping_pong));
      }
      const double efficiency = x.sum_lead > 0 ? x.sum_active / x.sum_lead : 0;
      if (!Close(efficiency, f.flow_efficiency(), 1e-9)) {
        problems.push_back(absl::StrCat("flow_efficiency ",
                                        Num(f.flow_efficiency()), ", expected ",
                                        Num(efficiency)));
      }
      std::map<std::string, RefFlow::Team> teams;
      for (const v1::TeamFlow& t : f.teams()) {
        teams[t.team()] = {t.items(), t.active_seconds(), t.wait_seconds()};
      }
      bool teams_ok = teams.size() == x.teams.size();
      for (const auto& [team, want] : x.teams) {
        auto it = teams.find(team);
        teams_ok = teams_ok && it != teams.end() &&
                   it->second.items == want.items &&
                   Close(want.active, it->second.active, 1e-9) &&
                   Close(want.wait, it->second.wait, 1e-9);
      }
      if (!teams_ok) problems.push_back("teams differ");
      bool seams_ok = f.seams_size() == static_cast<int>(x.seams.size());
      for (const v1::Seam& seam : f.seams()) {
        auto it = x.seams.find({seam.from_team(), seam.to_team()});
        seams_ok =
            seams_ok && it != x.seams.end() &&
            seam.handoffs() == it->second.first &&
            Close(it->second.second / static_cast<double>(it->second.first),
                  seam.mean_wait_seconds(), 1e-9);
      }
      if (!seams_ok) problems.push_back("seams differ");
    }
    if (problems.empty()) return;
    if (++tally_.mismatches <= kMaxReportedMismatches) {
      ADD_FAILURE() << "Engine and rescan disagree on the flow (" << phase
                    << ") of " << absl::FormatDuration(window) << " at "
                    << Format(at) << ": " << absl::StrJoin(problems, "; ")
                    << ", seed " << seed_;
    }
  }

  void CheckAll(const std::vector<absl::Time>& instants,
                absl::string_view phase) {
    for (absl::Time at : instants) {
      for (const v1::Kvi& kvi : kvis_) Check(kvi, at, phase);
      for (absl::Duration window : {k7Days, k30Days}) {
        CheckFlow(window, at, phase);
      }
    }
  }

  FakeClock clock_;
  Engine engine_;
  Reference reference_;
  std::vector<v1::Kvi> kvis_;
  std::set<std::string> seen_;
  int64_t duplicates_ = 0;
  uint32_t seed_ = kDefaultSeed;
  Tally tally_;
};

TEST_F(EngineRandomTest, IncrementalMatchesRescan) {
  const auto started = std::chrono::steady_clock::now();
  seed_ = Seed();
  std::printf("engine_random_test: seed %u\n", seed_);
  std::mt19937 rng(seed_);
  Define();

  const std::vector<absl::Time> instants = MakeInstants(&rng);
  // Records land exactly on check instants and on the starts of the windows
  // ending there, to test both ends of [T - d, T).
  std::vector<int64_t> hot;
  for (absl::Time at : instants) {
    for (absl::Duration d :
         {absl::ZeroDuration(), k90Min, k1Day, k7Days, k30Days}) {
      const int64_t t = absl::ToUnixMicros(at - d);
      if (t >= T0Us() && t < T0Us() + kSpanUs) hot.push_back(t);
    }
  }
  Generator gen(&rng, hot);
  gen.Observations();
  gen.Items();
  const std::vector<Record> delivery = gen.Delivery();
  int64_t observations = 0;
  for (const Record& r : delivery) observations += r.is_observation;
  std::printf(
      "engine_random_test: %zu distinct records, %zu delivered "
      "(%lld observations), %zu KVIs, %zu instants\n",
      gen.size(), delivery.size(), static_cast<long long>(observations),
      kvis_.size(), instants.size());

  // Phase 1: half the data, then every KVI at every instant (this fills the
  // Engine's caches everywhere).
  const size_t half = delivery.size() / 2;
  ASSERT_NO_FATAL_FAILURE(Feed(delivery, 0, half, /*batch=*/true));
  CheckAll(instants, "after half the data");

  // Phase 2: the rest, late and out of order, in batches; after each batch
  // every KVI at a few instants (some cached blocks must be invalidated).
  const size_t rest = delivery.size() - half;
  absl::Time last_checked = instants.back();
  for (int b = 0; b < kLateBatches; ++b) {
    const size_t begin = half + rest * b / kLateBatches;
    const size_t end = half + rest * (b + 1) / kLateBatches;
    ASSERT_NO_FATAL_FAILURE(Feed(delivery, begin, end, /*batch=*/b % 2 == 0));
    // First the instant checked last: the Engine's cached spans are those
    // of its windows, and the batch may have changed data inside them.
    std::vector<absl::Time> some = {last_checked};
    for (int i = 0; i < kInstantsPerLateBatch; ++i) {
      some.push_back(instants[std::uniform_int_distribution<size_t>(
          0, instants.size() - 1)(rng)]);
    }
    CheckAll(some, absl::StrCat("after late batch ", b + 1));
    last_checked = some.back();
  }

  // Phase 3: everything, at every instant again.
  CheckAll(instants, "after all the data");

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  std::printf(
      "engine_random_test: %lld comparisons (%lld with a value, %lld from the "
      "sketch), %lld flows, %lld duplicates dropped, co-measurement AGREED "
      "%lld DISPUTED "
      "%lld ONE_SIDED %lld none %lld, %lld mismatches, %.1f s\n",
      static_cast<long long>(tally_.comparisons),
      static_cast<long long>(tally_.with_value),
      static_cast<long long>(tally_.sketch),
      static_cast<long long>(tally_.flows), static_cast<long long>(duplicates_),
      static_cast<long long>(
          tally_.comeasurement[v1::CO_MEASUREMENT_STATE_AGREED]),
      static_cast<long long>(
          tally_.comeasurement[v1::CO_MEASUREMENT_STATE_DISPUTED]),
      static_cast<long long>(
          tally_.comeasurement[v1::CO_MEASUREMENT_STATE_ONE_SIDED]),
      static_cast<long long>(
          tally_.comeasurement[v1::CO_MEASUREMENT_STATE_NOT_COMEASURED]),
      static_cast<long long>(tally_.mismatches), seconds);
  EXPECT_EQ(tally_.mismatches, 0)
      << "see the first " << kMaxReportedMismatches << " mismatches above";
  // The data must exercise what the test is about.
  EXPECT_GT(tally_.sketch, 0);
  EXPECT_GT(tally_.flows_with_seams, 0);
  EXPECT_GT(tally_.comeasurement[v1::CO_MEASUREMENT_STATE_AGREED], 0);
  EXPECT_GT(tally_.comeasurement[v1::CO_MEASUREMENT_STATE_DISPUTED], 0);
  EXPECT_GT(tally_.comeasurement[v1::CO_MEASUREMENT_STATE_ONE_SIDED], 0);
}

}  // namespace
}  // namespace vla::evaluator
