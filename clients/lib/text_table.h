// Rows of text as CSV (RFC 4180) or as a Markdown (GFM) table: what a
// person pastes into a spreadsheet or a review page.
#ifndef VLA_CLIENTS_LIB_TEXT_TABLE_H_
#define VLA_CLIENTS_LIB_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace vla::client {

struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as header
};

// A header line and a line per row, each ending in "\n"; a field with a
// comma, a quote or a line break is quoted, its quotes doubled.
std::string ToCsv(const TextTable& table);

// "| a | b |", "|---|---|", then a line per row; `|` in a cell is escaped
// and line breaks become spaces, so each row stays one line.
std::string ToMarkdown(const TextTable& table);

}  // namespace vla::client

#endif  // VLA_CLIENTS_LIB_TEXT_TABLE_H_
