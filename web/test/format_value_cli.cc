// Prints how the C++ writes numbers, for web/test/format.test.mjs to
// compare the dashboard's port (web/src/format.js) with: one line per value
// read from stdin (a double, shortest round-trip form), tab-separated:
// FormatValue in "s", "%", "" and "points", OneDecimal, vlactl's Number
// with 0..3 digits and HumanDuration.
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "clients/vlactl/output.h"
#include "common/format_value.h"

int main() {
  std::string line;
  while (std::getline(std::cin, line)) {
    double v = 0;
    if (!absl::SimpleAtod(line, &v)) {
      std::cerr << "not a number: " << line << "\n";
      return 1;
    }
    namespace cli = vla::vlactl;
    std::cout << absl::StrJoin(
                     {vla::FormatValue(v, "s"), vla::FormatValue(v, "%"),
                      vla::FormatValue(v, ""), vla::FormatValue(v, "points"),
                      vla::OneDecimal(v), cli::Number(v, 0), cli::Number(v, 1),
                      cli::Number(v, 2), cli::Number(v, 3),
                      cli::HumanDuration(v)},
                     "\t")
              << "\n";
  }
  return 0;
}
