// Every revision of every VLA the evaluator has seen (from the VMDB's change
// feed, kept in its store), so that a period is evaluated with the
// agreement that was in force at its end, also after later renegotiations.
//
//   VlaRevisions revisions;
//   revisions.Add(change.revision(), change.vla());
//   const v1::Vla* in_force = revisions.At("vlas/x", period_end);
//
// Not thread-safe (the engine's lock).
#ifndef VLA_SERVICES_EVALUATOR_VLA_REVISIONS_H_
#define VLA_SERVICES_EVALUATOR_VLA_REVISIONS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {

class VlaRevisions {
 public:
  // Adds `vla` as committed by change `change_revision` of the VMDB's feed
  // (its commit time is `vla.update_time()`). A change added before is
  // ignored, so replaying the feed or loading the store twice is harmless.
  void Add(int64_t change_revision, const v1::Vla& vla);

  // The revision of `name` in force at `at`: the last one committed before
  // `at`; if none was (the period ended before the agreement was made),
  // the first one, so that earlier data is measured against its first
  // terms. Null when `name` has no revision.
  const v1::Vla* At(const std::string& name, absl::Time at) const;

  bool Knows(const std::string& name) const { return by_vla_.count(name) > 0; }

 private:
  struct Entry {
    int64_t change_revision;
    absl::Time committed;
    v1::Vla vla;
  };
  std::map<std::string, std::vector<Entry>> by_vla_;  // by change_revision
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_VLA_REVISIONS_H_
