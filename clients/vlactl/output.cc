#include "clients/vlactl/output.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/lib/text_table.h"
#include "google/protobuf/util/json_util.h"

namespace vla::vlactl {
namespace {

void SetBlockStyle(YAML::Node node) {
  if (node.IsMap() || node.IsSequence()) {
    node.SetStyle(YAML::EmitterStyle::Block);
    if (node.IsMap()) {
      for (auto it : node) SetBlockStyle(it.second);
    } else {
      for (auto it : node) SetBlockStyle(it);
    }
  }
}

const char* AnsiCode(Color c) {
  switch (c) {
    case Color::kGreen:
      return "\033[32m";
    case Color::kYellow:
      return "\033[33m";
    case Color::kRed:
      return "\033[1;31m";
    case Color::kGrey:
      return "\033[90m";
    case Color::kBold:
      return "\033[1m";
    case Color::kNone:
      break;
  }
  return "";
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view text) {
  if (text == "table" || text.empty()) return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  if (text == "csv") return Format::kCsv;
  if (text == "markdown" || text == "md") return Format::kMarkdown;
  return absl::InvalidArgumentError(
      absl::StrCat("--output: \"", text,
                   "\" is not a format (table, json, yaml, csv or markdown)"));
}

std::string MessageJson(const google::protobuf::Message& m, bool defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = defaults;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

std::string JsonDump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string PrettyJson(absl::string_view json) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  auto newline = [&] {
    out.push_back('\n');
    out.append(2 * depth, ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(json[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[': {
        const char close = c == '{' ? '}' : ']';
        if (i + 1 < json.size() && json[i + 1] == close) {  // empty
          out.push_back(c);
          out.push_back(close);
          ++i;
          break;
        }
        out.push_back(c);
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline();
        break;
      case ':':
        out.append(": ");
        break;
      case ' ':
      case '\n':
      case '\t':
      case '\r':
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string JsonToYaml(absl::string_view json) {
  try {
    YAML::Node node = YAML::Load(std::string(json));
    SetBlockStyle(node);
    YAML::Emitter out;
    out << node;
    return out.c_str();
  } catch (const YAML::Exception&) {
    return "";
  }
}

void PrintDocuments(std::ostream& out, Format format,
                    const std::vector<std::string>& json_docs, bool as_list) {
  if (format == Format::kJson) {
    if (as_list) {
      std::string all = "[";
      for (size_t i = 0; i < json_docs.size(); ++i) {
        if (i > 0) all += ",";
        all += json_docs[i];
      }
      all += "]";
      out << PrettyJson(all) << "\n";
    } else {
      for (const std::string& doc : json_docs) out << PrettyJson(doc) << "\n";
    }
    return;
  }
  for (size_t i = 0; i < json_docs.size(); ++i) {
    if (i > 0) out << "---\n";
    out << JsonToYaml(json_docs[i]) << "\n";
  }
}

std::string HumanDuration(double seconds) {
  if (!std::isfinite(seconds)) return "-";
  const double s = std::abs(seconds);
  if (s < 90) return absl::StrCat(Number(seconds, 0), "s");
  if (s < 90 * 60) return absl::StrCat(Number(seconds / 60, 1), "m");
  if (s < 36 * 3600) return absl::StrCat(Number(seconds / 3600, 1), "h");
  return absl::StrCat(Number(seconds / 86400, 1), "d");
}

std::string Number(double value, int digits) {
  if (!std::isfinite(value)) return absl::StrCat(value);
  std::string s = absl::StrFormat("%.*f", digits, value);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

Color ColorForState(absl::string_view state) {
  if (state == "MET" || state == "ON_TRACK" || state == "ACHIEVED" ||
      state == "AGREED" || state == "GREEN") {
    return Color::kGreen;
  }
  if (state == "AT_RISK" || state == "YELLOW" || state == "DISPUTED") {
    return Color::kYellow;
  }
  if (state == "BREACHED" || state == "OFF_TRACK" || state == "MISSED" ||
      state == "RED") {
    return Color::kRed;
  }
  if (state == "NO_DATA" || state == "NOT_STARTED") return Color::kGrey;
  return Color::kNone;
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::AddRow(std::vector<Cell> row) {
  row.resize(header_.size(), Cell(""));
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out, bool color) const {
  std::vector<size_t> width(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].text.size());
    }
  }
  auto print_row = [&](const std::vector<Cell>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const bool last = c + 1 == row.size();
      std::string text = row[c].text;
      if (!last) text.resize(width[c], ' ');
      line += Colorize(text, row[c].color, color);
      if (!last) line += "   ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  std::vector<Cell> head;
  for (const auto& h : header_) head.emplace_back(h);
  print_row(head);
  for (const auto& row : rows_) print_row(row);
}

void Table::PrintAs(std::ostream& out, Format format, bool color) const {
  if (format == Format::kTable) {
    Print(out, color);
    return;
  }
  if (IsDocumentFormat(format)) return;
  client::TextTable text{header_, {}};
  for (const auto& row : rows_) {
    std::vector<std::string>& line = text.rows.emplace_back();
    for (const Cell& c : row) line.push_back(c.text);
  }
  out << (format == Format::kCsv ? client::ToCsv(text)
                                 : client::ToMarkdown(text));
}

bool UseColor(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && absl::string_view(term) == "dumb") return false;
  return isatty(fd) == 1;
}

std::string Colorize(absl::string_view text, Color color, bool enabled) {
  if (!enabled || color == Color::kNone) return std::string(text);
  // Keep padding outside the colour, so underlines and backgrounds stay
  // tight.
  const size_t end = text.find_last_not_of(' ');
  const absl::string_view body =
      end == absl::string_view::npos ? text : text.substr(0, end + 1);
  return absl::StrCat(AnsiCode(color), body, "\033[0m",
                      text.substr(body.size()));
}

}  // namespace vla::vlactl
