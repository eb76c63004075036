// Rendering for vlactl's `-o table|json|yaml|csv|markdown`: aligned tables
// (coloured only on a terminal), pretty JSON, YAML converted from the same
// JSON (so that json and yaml always carry the same fields), and, for the
// commands whose output is rows, the same rows as CSV or a Markdown table.
#ifndef VLA_CLIENTS_VLACTL_OUTPUT_H_
#define VLA_CLIENTS_VLACTL_OUTPUT_H_

#include <nlohmann/json_fwd.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/enum_names.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace vla::vlactl {

enum class Format { kTable, kJson, kYaml, kCsv, kMarkdown };
absl::StatusOr<Format> ParseFormat(absl::string_view text);
// kJson or kYaml: the output is documents, not rows.
inline bool IsDocumentFormat(Format f) {
  return f == Format::kJson || f == Format::kYaml;
}

// Compact proto JSON with proto field names; `defaults` also prints fields
// that hold their default (false, 0), which statuses want.
std::string MessageJson(const google::protobuf::Message& m, bool defaults);
// Compact JSON of a report built with nlohmann::json; invalid UTF-8 in its
// strings becomes U+FFFD.
std::string JsonDump(const nlohmann::json& value);
// Re-indents compact JSON, two spaces per level.
std::string PrettyJson(absl::string_view json);
// The same data as block-style YAML; empty on unparsable input.
std::string JsonToYaml(absl::string_view json);

// Prints JSON documents: one as an object, `as_list` as an array; YAML
// documents separated by `---`.
void PrintDocuments(std::ostream& out, Format format,
                    const std::vector<std::string>& json_docs, bool as_list);

// "45s", "12m", "3.5h", "2.1d".
std::string HumanDuration(double seconds);
// Up to `digits` decimals, without trailing zeros: 62.5, 0.97, 3.
std::string Number(double value, int digits = 2);

enum class Color { kNone, kGreen, kYellow, kRed, kGrey, kBold };
// The colour people expect for a state name: MET, ON_TRACK, ACHIEVED,
// AGREED, GREEN green; AT_RISK, YELLOW, DISPUTED yellow; BREACHED,
// OFF_TRACK, MISSED, RED red; NO_DATA, NOT_STARTED grey.
Color ColorForState(absl::string_view state);

// A table with a header row; cells may carry a colour, used only when
// `color` is set (stdout is a terminal and NO_COLOR is unset).
class Table {
 public:
  struct Cell {
    std::string text;
    Color color = Color::kNone;
    Cell(std::string t) : text(std::move(t)) {}  // NOLINT: implicit
    Cell(const char* t) : text(t) {}             // NOLINT: implicit
    Cell(std::string t, Color c) : text(std::move(t)), color(c) {}
  };
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<Cell> row);
  bool empty() const { return rows_.empty(); }
  void Print(std::ostream& out, bool color) const;
  // As `format`: kTable as Print, kCsv and kMarkdown without colours
  // (client::ToCsv, client::ToMarkdown); nothing for document formats.
  void PrintAs(std::ostream& out, Format format, bool color) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<Cell>> rows_;
};

// Whether to colour what goes to file descriptor `fd`.
bool UseColor(int fd);
std::string Colorize(absl::string_view text, Color color, bool enabled);

}  // namespace vla::vlactl

#endif  // VLA_CLIENTS_VLACTL_OUTPUT_H_
