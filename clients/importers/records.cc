#include "clients/importers/records.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "clients/importers/csv.h"
#include "clients/importers/import_util.h"

namespace vla::importers::internal {
namespace {

using Json = nlohmann::json;

RowError Error(const InputFile& file, int line, int index, std::string reason) {
  return RowError{std::string(file.name), line, index, "", std::move(reason)};
}

// Caches namer() per distinct raw name.
class Namer {
 public:
  explicit Namer(ColumnNamer namer) : namer_(namer) {}
  const std::string& operator()(const std::string& raw) {
    auto it = names_.find(raw);
    if (it == names_.end()) it = names_.emplace(raw, namer_(raw)).first;
    return it->second;
  }

 private:
  ColumnNamer namer_;
  std::map<std::string, std::string> names_;
};

absl::StatusOr<Table> ReadCsv(const InputFile& file, ColumnNamer namer) {
  CsvReader reader(file.text);
  CsvRecord row;
  Table table;
  std::vector<std::string> header;
  if (!reader.Next(row)) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name, ": empty; expected a header row"));
  }
  if (!row.error.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name, ":", row.line, ": header: ", row.error));
  }
  std::vector<bool> used;  // false for a repeated column (first one wins)
  for (const std::string& raw : row.fields) {
    header.push_back(namer(raw));
    used.push_back(table.columns.insert(header.back()).second);
  }
  int index = 0;
  while (reader.Next(row)) {
    const int i = index++;
    ++table.total;
    if (!row.error.empty()) {
      table.errors.push_back(Error(file, row.line, i, row.error));
      continue;
    }
    if (row.fields.size() != header.size()) {
      table.errors.push_back(
          Error(file, row.line, i,
                absl::StrCat("has ", row.fields.size(),
                             " fields, the header has ", header.size())));
      continue;
    }
    Record record;
    record.line = row.line;
    record.index = i;
    for (size_t c = 0; c < header.size(); ++c) {
      if (!used[c]) continue;
      record.cells[header[c]] = Cell{row.fields[c], std::move(row.fields[c])};
    }
    table.records.push_back(std::move(record));
  }
  return table;
}

// A scalar as text; false for arrays and objects.
bool ScalarText(const Json& v, std::string* out) {
  switch (v.type()) {
    case Json::value_t::string:
      *out = v.get<std::string>();
      return true;
    case Json::value_t::boolean:
      *out = v.get<bool>() ? "true" : "false";
      return true;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      *out = v.dump();
      return true;
    case Json::value_t::null:
      out->clear();
      return true;
    default:
      return false;
  }
}

// A JSON value as a cell; false when it has no text form.
bool JsonCell(const Json& v, Cell* cell) {
  if (ScalarText(v, &cell->value)) {
    cell->display = cell->value;
    return true;
  }
  if (!v.is_object()) return false;
  const auto dv = v.find("display_value");
  const auto val = v.find("value");
  const bool has_display = dv != v.end() && ScalarText(*dv, &cell->display);
  const bool has_value = val != v.end() && ScalarText(*val, &cell->value);
  if (!has_display && !has_value) return false;
  cell->stored = has_value;
  if (!has_display) cell->display = cell->value;
  if (!has_value) cell->value = cell->display;
  if (cell->display.empty()) cell->display = cell->value;
  return true;
}

absl::StatusOr<Table> ReadJson(const InputFile& file,
                               ColumnNamer column_namer) {
  Json doc;
  try {
    doc = Json::parse(file.text.begin(), file.text.end());
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name, ": not valid JSON: ", e.what()));
  }
  const Json* rows = &doc;
  if (doc.is_object()) {
    rows = nullptr;
    for (const char* key : {"result", "records"}) {
      auto it = doc.find(key);
      if (it != doc.end() && it->is_array()) rows = &*it;
    }
    if (rows == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.name,
          ": expected a JSON array, or an object with a \"result\" or "
          "\"records\" array"));
    }
  } else if (!doc.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name, ": expected a JSON array or object"));
  }
  Namer namer(column_namer);
  Table table;
  int index = 0;
  for (const Json& row : *rows) {
    const int i = index++;
    ++table.total;
    if (!row.is_object()) {
      table.errors.push_back(Error(file, 0, i, "is not a JSON object"));
      continue;
    }
    Record record;
    record.index = i;
    for (const auto& [key, value] : row.items()) {
      Cell cell;
      if (!JsonCell(value, &cell)) continue;
      const std::string& column = namer(key);
      table.columns.insert(column);
      record.cells.emplace(column, std::move(cell));
    }
    table.records.push_back(std::move(record));
  }
  return table;
}

}  // namespace

const Cell& Record::Get(absl::string_view column) const {
  static const Cell* const kEmpty = new Cell();
  auto it = cells.find(std::string(column));
  return it == cells.end() ? *kEmpty : it->second;
}

absl::StatusOr<Table> ReadTable(const InputFile& file, ColumnNamer namer) {
  absl::string_view text = file.text;
  absl::ConsumePrefix(&text, "\xEF\xBB\xBF");
  text = absl::StripLeadingAsciiWhitespace(text);
  if (!text.empty() && (text[0] == '{' || text[0] == '[')) {
    return ReadJson({file.name, text}, namer);
  }
  return ReadCsv(file, namer);
}

std::string NormalColumn(absl::string_view name) {
  std::string out = Lower(name);
  for (char& c : out) {
    if (c == ' ' || c == '-' || c == '.' || c == '\t') c = '_';
  }
  return out;
}

}  // namespace vla::importers::internal
