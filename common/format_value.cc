#include "common/format_value.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vla {
namespace {

// One decimal, without a trailing ".0".
std::string Trim(double v) {
  std::string s = absl::StrFormat("%.1f", v);
  if (absl::EndsWith(s, ".0")) s.resize(s.size() - 2);
  return s;
}

}  // namespace

std::string FormatValue(double value, const std::string& unit) {
  if (unit == "s") {
    const double a = std::fabs(value);
    if (a >= 86400) return absl::StrCat(Trim(value / 86400), " d");
    if (a >= 3600) return absl::StrCat(Trim(value / 3600), " h");
    if (a >= 60) return absl::StrCat(Trim(value / 60), " min");
    return absl::StrCat(Trim(value), " s");
  }
  if (unit == "%") {
    return absl::StrCat(Trim(std::fabs(value) <= 1 ? value * 100 : value), "%");
  }
  std::string s = absl::StrFormat("%.4g", value);
  return unit.empty() ? s : absl::StrCat(s, " ", unit);
}

}  // namespace vla
