// Valid example resources for tests, built the way a user would write them.
#ifndef VLA_TESTS_FIXTURES_H_
#define VLA_TESTS_FIXTURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "vla/v1/resources.pb.h"

namespace vla::testing {

inline v1::Team MakeTeam(v1::TeamKind kind = v1::TEAM_KIND_PROVIDER,
                         const std::string& display_name = "A team") {
  v1::Team t;
  t.set_display_name(display_name);
  t.set_kind(kind);
  return t;
}

inline v1::ValueStream MakeValueStream(
    const std::string& consumer = "teams/business",
    const std::vector<std::string>& providers = {"teams/service-desk"}) {
  v1::ValueStream vs;
  vs.set_display_name("Incident to back-to-work");
  vs.set_value_owner("owner@example.com");
  vs.set_consumer(consumer);
  for (const auto& p : providers) vs.add_providers(p);
  auto* stage = vs.add_stages();
  stage->set_name("triage");
  stage->set_team(providers.front());
  vs.add_services("svc-email");
  return vs;
}

inline v1::Kvi MakeKvi(
    const std::string& value_stream = "valueStreams/incident",
    v1::Direction direction = v1::DIRECTION_LOWER_IS_BETTER) {
  v1::Kvi k;
  k.set_display_name("p90 lead time");
  k.set_value_stream(value_stream);
  k.set_source(v1::SOURCE_WORK_ITEMS);
  k.set_field(v1::WORK_ITEM_FIELD_LEAD_TIME);
  k.set_aggregation(v1::AGGREGATION_PERCENTILE);
  k.set_percentile(90);
  k.mutable_window()->mutable_rolling()->set_seconds(30 * 86400);
  k.set_unit("s");
  k.set_direction(direction);
  k.set_dimension(v1::DIMENSION_FLOW);
  return k;
}

inline v1::Vla MakeVla(
    const std::vector<std::string>& kvis = {"kvis/lead-time"},
    const std::string& value_stream = "valueStreams/incident") {
  v1::Vla v;
  v.set_display_name("Incident VLA");
  v.set_value_stream(value_stream);
  v.set_value_owner("owner@example.com");
  v.set_consumer("teams/business");
  v.add_providers("teams/service-desk");
  for (const auto& k : kvis) {
    auto* c = v.add_clauses();
    c->set_kvi(k);
    c->set_target(5 * 86400);
    c->set_warning(7 * 86400);
  }
  v.set_state(v1::VLA_STATE_ACTIVE);
  return v;
}

inline v1::Objective MakeObjective(const std::string& kvi = "kvis/lead-time") {
  v1::Objective o;
  o.set_display_name("Back to work faster");
  o.add_owners("teams/service-desk");
  o.add_owners("teams/business");
  o.set_lead("teams/service-desk");
  o.mutable_period_start()->set_seconds(1767225600);  // 2026-01-01
  o.mutable_period_end()->set_seconds(1775001600);    // 2026-04-01
  o.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  auto* kr = o.add_key_results();
  kr->set_id("lead-time");
  kr->set_kvi(kvi);
  kr->set_start_value(10 * 86400);
  kr->set_target_value(5 * 86400);
  auto* manual = o.add_key_results();
  manual->set_id("happiness");
  manual->set_start_value(62);
  manual->set_target_value(80);
  return o;
}

// A committed objective owned and led by `team` over [now - 10 d,
// now + 10 d) (`now` in Unix seconds) with one manual key result `kr` from
// `start` to `target`.
inline v1::Objective MakeManualObjective(const std::string& team, int64_t now,
                                         const std::string& kr, double start,
                                         double target) {
  v1::Objective o;
  o.add_owners(team);
  o.set_lead(team);
  o.mutable_period_start()->set_seconds(now - 10 * 86400);
  o.mutable_period_end()->set_seconds(now + 10 * 86400);
  o.set_kind(v1::OBJECTIVE_KIND_COMMITTED);
  v1::KeyResult* key_result = o.add_key_results();
  key_result->set_id(kr);
  key_result->set_start_value(start);
  key_result->set_target_value(target);
  return o;
}

}  // namespace vla::testing

#endif  // VLA_TESTS_FIXTURES_H_
