// What governance hears about: the pure part of the governance bot. It keeps
// the last known status of every objective and VLA and turns each new status
// into the messages worth a person's attention (one line each):
//
//   Objective objectives/faster OFF_TRACK (was NO_DATA): score 0.00, ...
//   VLA vlas/incident BREACHED (was AT_RISK): BREACHED (score 40): ...
//   VLA vlas/incident is a watermelon (SLA met, value not delivered): ...
//   VLA vlas/incident is disputed: ...
//
// Reported transitions: an objective entering AT_RISK, OFF_TRACK or MISSED;
// a VLA entering BREACHED; a VLA becoming a watermelon; a VLA becoming
// disputed. Improvements and other changes are recorded silently.
#ifndef VLA_CLIENTS_BOT_TRANSITIONS_H_
#define VLA_CLIENTS_BOT_TRANSITIONS_H_

#include <map>
#include <string>
#include <vector>

#include "vla/v1/evaluation.pb.h"
#include "vla/v1/okr_status.pb.h"

namespace vla::bot {

// Short enum names: "BREACHED", "OFF_TRACK".
std::string StateName(v1::ComplianceState state);
std::string StatusName(v1::OkrStatus status);

// Messages for one change; `old` is null for a status never seen before
// (reported as "was unknown").
std::vector<std::string> ObjectiveTransitions(const v1::ObjectiveStatus* old,
                                              const v1::ObjectiveStatus& now);
std::vector<std::string> VlaTransitions(const v1::VlaStatus* old,
                                        const v1::VlaStatus& now);

// The red list: objectives AT_RISK, OFF_TRACK or MISSED; VLAs BREACHED or
// AT_RISK, watermelons, disputed. One line each, objectives first, in the
// order given; empty when all is well.
std::vector<std::string> RedList(
    const std::vector<v1::ObjectiveStatus>& objectives,
    const std::vector<v1::VlaStatus>& vlas);

// The last known statuses and the transitions from them. Not thread-safe.
class TransitionTracker {
 public:
  // A status from a stream. A status never seen before is a baseline when
  // `report_unknown` is false (the first snapshot): recorded, not reported.
  std::vector<std::string> OnObjective(const v1::ObjectiveStatus& status,
                                       bool report_unknown);
  std::vector<std::string> OnVla(const v1::VlaStatus& status,
                                 bool report_unknown);
  // The VLA left the stream (retired, deleted): forgotten.
  void RemoveVla(const std::string& name);
  // A complete VLA snapshot (after a reconnect): each status is diffed
  // against the last known one, so that changes made while disconnected are
  // reported once. VLAs missing from it keep their last known status: a
  // restarted server may complete its snapshot before it has evaluated every
  // VLA, and a VLA that reappears unchanged must not be reported again.
  std::vector<std::string> OnVlaSnapshot(
      const std::vector<v1::VlaStatus>& snapshot, bool report_unknown);

  size_t objectives() const { return objectives_.size(); }
  size_t vlas() const { return vlas_.size(); }

 private:
  std::map<std::string, v1::ObjectiveStatus> objectives_;
  std::map<std::string, v1::VlaStatus> vlas_;
};

}  // namespace vla::bot

#endif  // VLA_CLIENTS_BOT_TRANSITIONS_H_
