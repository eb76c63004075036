#include "services/evaluator/flow.h"

#include <algorithm>
#include <vector>

namespace vla::evaluator {

void FlowAggregate::Add(const DerivedItem& item) {
  ++resolved_;
  if (item.ping_pong) ++ping_pong_;
  sum_active_ += item.active_time;
  sum_lead_ += item.lead_time;
  for (const Custody& c : item.custody) {
    TeamAcc& acc = teams_[c.team];
    ++acc.items;
    acc.active_seconds += c.active_seconds;
    acc.wait_seconds += c.wait_seconds;
  }
  for (const Handoff& h : item.handoffs_detail) {
    SeamAcc& seam = seams_[{h.from_team, h.to_team}];
    ++seam.handoffs;
    seam.wait_seconds += h.wait_seconds;
  }
}

void FlowAggregate::Merge(const FlowAggregate& other) {
  resolved_ += other.resolved_;
  ping_pong_ += other.ping_pong_;
  sum_active_ += other.sum_active_;
  sum_lead_ += other.sum_lead_;
  for (const auto& [team, o] : other.teams_) {
    TeamAcc& acc = teams_[team];
    acc.items += o.items;
    acc.active_seconds += o.active_seconds;
    acc.wait_seconds += o.wait_seconds;
  }
  for (const auto& [key, o] : other.seams_) {
    SeamAcc& seam = seams_[key];
    seam.handoffs += o.handoffs;
    seam.wait_seconds += o.wait_seconds;
  }
}

v1::ValueStreamFlow FlowAggregate::ToProto(
    const std::function<const std::string&(int32_t)>& name) const {
  v1::ValueStreamFlow flow;
  flow.set_resolved_items(resolved_);
  flow.set_ping_pong_items(ping_pong_);
  if (sum_lead_ > 0) flow.set_flow_efficiency(sum_active_ / sum_lead_);
  std::vector<std::pair<const std::string*, const TeamAcc*>> teams;
  for (const auto& [team, acc] : teams_) teams.emplace_back(&name(team), &acc);
  std::sort(teams.begin(), teams.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (const auto& [team, acc] : teams) {
    v1::TeamFlow* t = flow.add_teams();
    t->set_team(*team);
    t->set_items(acc->items);
    t->set_active_seconds(acc->active_seconds);
    t->set_wait_seconds(acc->wait_seconds);
  }
  struct Named {
    const std::string* from;
    const std::string* to;
    const SeamAcc* seam;
  };
  std::vector<Named> seams;
  for (const auto& [key, seam] : seams_) {
    seams.push_back({&name(key.first), &name(key.second), &seam});
  }
  std::sort(seams.begin(), seams.end(), [](const Named& a, const Named& b) {
    return std::tie(*a.from, *a.to) < std::tie(*b.from, *b.to);
  });
  for (const Named& s : seams) {
    v1::Seam* out = flow.add_seams();
    out->set_from_team(*s.from);
    out->set_to_team(*s.to);
    out->set_handoffs(s.seam->handoffs);
    out->set_mean_wait_seconds(s.seam->wait_seconds /
                               static_cast<double>(s.seam->handoffs));
  }
  return flow;
}

}  // namespace vla::evaluator
