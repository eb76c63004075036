// VLA evaluation (domain.md, "VLA evaluation"): clause states, score,
// gating, NO_DATA renormalisation, attainment, the linked SLA, the watermelon
// and disputed flags, and an explanation a person can read. Pure functions
// of the definitions and the KVI values.
#ifndef VLA_SERVICES_EVALUATOR_VLA_EVAL_H_
#define VLA_SERVICES_EVALUATOR_VLA_EVAL_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/resources.pb.h"

namespace vla::evaluator {

// What the evaluator knows about one KVI at the evaluation time. Both point
// into the caller's data, which must outlive the EvaluateVla call.
struct KviInput {
  const v1::Kvi* kvi = nullptr;  // null if the definition is unknown
  const v1::KviValue* value = &v1::KviValue::default_instance();
};

// `lookup(kvi_name)` returns the KVI's definition and value at `at`.
v1::VlaStatus EvaluateVla(
    const v1::Vla& vla,
    const std::function<KviInput(const std::string&)>& lookup, absl::Time at);

// The state of one clause given its KVI's value and direction.
v1::ClauseState ClauseStateOf(const v1::Clause& clause, v1::Direction direction,
                              const v1::KviValue& value);

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_VLA_EVAL_H_
