// The checks an ingested record passes before it is stored (the limits are
// documented in the README): one INVALID_ARGUMENT with the reason per bad
// record, so that it is rejected alone and the rest of its batch is kept.
#ifndef VLA_SERVICES_EVALUATOR_RECORD_CHECK_H_
#define VLA_SERVICES_EVALUATOR_RECORD_CHECK_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/evaluator/definitions.h"
#include "vla/v1/evaluation.pb.h"

namespace vla::evaluator {

// Limits on ingested records.
struct IngestLimits {
  static constexpr int kMaxLabels = 16;
  static constexpr size_t kMaxLabelKey = 64;
  static constexpr size_t kMaxLabelValue = 256;
  static constexpr size_t kMaxEventId = 256;
  static constexpr size_t kMaxName = 256;
  static constexpr absl::Duration kMaxFuture = absl::Hours(24);
};

// OK if the record may be stored at `now` given the known definitions (its
// value stream, reporter and team must exist), else INVALID_ARGUMENT naming
// the field.
absl::Status CheckObservation(const v1::Observation& o,
                              const Definitions& known, absl::Time now);
absl::Status CheckEvent(const v1::WorkItemEvent& e, const Definitions& known,
                        absl::Time now);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_RECORD_CHECK_H_
