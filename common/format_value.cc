#include "common/format_value.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vla {

std::string OneDecimal(double value) {
  std::string s = absl::StrFormat("%.1f", value);
  if (absl::EndsWith(s, ".0")) s.resize(s.size() - 2);
  return s;
}

std::string FormatValue(double value, const std::string& unit) {
  if (unit == "s") {
    const double a = std::fabs(value);
    if (a >= 86400) return absl::StrCat(OneDecimal(value / 86400), " d");
    if (a >= 3600) return absl::StrCat(OneDecimal(value / 3600), " h");
    if (a >= 60) return absl::StrCat(OneDecimal(value / 60), " min");
    return absl::StrCat(OneDecimal(value), " s");
  }
  if (unit == "%") {
    return absl::StrCat(OneDecimal(std::fabs(value) <= 1 ? value * 100 : value),
                        "%");
  }
  std::string s = absl::StrFormat("%.4g", value);
  return unit.empty() ? s : absl::StrCat(s, " ", unit);
}

}  // namespace vla
