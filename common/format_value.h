// A KVI value written for people in the KVI's unit, the same way wherever it
// appears: in the evaluator's explanations and in the clients' tables.
#ifndef VLA_COMMON_FORMAT_VALUE_H_
#define VLA_COMMON_FORMAT_VALUE_H_

#include <string>

namespace vla {

// `value` in `unit`: seconds ("s") as "9.2 d", "3.5 h", "12 min", "42 s";
// "%" as a percentage (fractions of magnitude <= 1 are scaled by 100, so
// 0.97 and 97 both read "97%"); any other unit as 4 significant digits and
// the unit ("12.5 EUR"); no unit: the number alone.
std::string FormatValue(double value, const std::string& unit);

// One decimal without a trailing ".0": "16.7", "100" (scores).
std::string OneDecimal(double value);

}  // namespace vla

#endif  // VLA_COMMON_FORMAT_VALUE_H_
