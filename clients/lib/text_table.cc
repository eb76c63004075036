#include "clients/lib/text_table.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace vla::client {
namespace {

std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  return absl::StrCat("\"", absl::StrReplaceAll(field, {{"\"", "\"\""}}), "\"");
}

std::string MarkdownCell(const std::string& cell) {
  return absl::StrReplaceAll(cell, {{"|", "\\|"}, {"\r\n", " "}, {"\n", " "}});
}

template <typename Format>
std::string Line(const std::vector<std::string>& cells, Format format,
                 absl::string_view separator) {
  std::vector<std::string> out;
  out.reserve(cells.size());
  for (const std::string& c : cells) out.push_back(format(c));
  return absl::StrJoin(out, separator);
}

}  // namespace

std::string ToCsv(const TextTable& table) {
  std::string out = absl::StrCat(Line(table.header, CsvField, ","), "\n");
  for (const auto& row : table.rows) {
    absl::StrAppend(&out, Line(row, CsvField, ","), "\n");
  }
  return out;
}

std::string ToMarkdown(const TextTable& table) {
  std::string out =
      absl::StrCat("| ", Line(table.header, MarkdownCell, " | "), " |\n|");
  for (size_t i = 0; i < table.header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : table.rows) {
    absl::StrAppend(&out, "| ", Line(row, MarkdownCell, " | "), " |\n");
  }
  return out;
}

}  // namespace vla::client
