// Time as a dependency: services read the time through a Clock so that
// windows, periods and timestamps are tested at fixed instants.
#ifndef VLA_SERVICES_COMMON_CLOCK_H_
#define VLA_SERVICES_COMMON_CLOCK_H_

#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace vla {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process-wide real-time clock; never null, never deleted.
  static const Clock* Real();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override;
  void Set(absl::Time t);
  void Advance(absl::Duration d);

 private:
  mutable std::mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_CLOCK_H_
