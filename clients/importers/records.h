// Reads an export table (CSV with a header row, or JSON) into records of
// named cells, so each importer deals with columns, not formats.
//
// JSON shapes: `{"result": [...]}` (ServiceNow Table API), `{"records":
// [...]}` (ServiceNow JSONv2), or a plain array, of objects. A value may be
// a string, number, boolean, null, or an object `{"display_value": ...,
// "value": ...}` (Table API with sysparm_display_value=all); other values
// are ignored.
#ifndef VLA_CLIENTS_IMPORTERS_RECORDS_H_
#define VLA_CLIENTS_IMPORTERS_RECORDS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/importers/importers.h"

namespace vla::importers::internal {

// One value as a person sees it (`display`) and as the source stores it
// (`value`: UTC times, sys_ids). They differ only for JSON display-value
// objects; otherwise both hold the same text.
struct Cell {
  std::string display;
  std::string value;
  // True when `value` came from a display-value object's "value" (stored
  // form: UTC times, sys_ids).
  bool stored = false;
};

struct Record {
  int line = 0;   // CSV: the line where the record starts; JSON: 0
  int index = 0;  // 0-based among the data records
  std::map<std::string, Cell> cells;  // by column name

  // The cell of `column`; an empty cell when the record has none.
  const Cell& Get(absl::string_view column) const;
};

struct Table {
  std::set<std::string> columns;  // every column name seen
  std::vector<Record> records;    // the readable records, in input order
  std::vector<RowError> errors;   // the unreadable ones
  int total = 0;                  // data records in the input
};

// Turns a header or JSON key into a column name (e.g. lower case plus
// aliases); called once per distinct name.
using ColumnNamer = absl::FunctionRef<std::string(absl::string_view)>;

// CSV or JSON by the first character that is not blank (after a BOM): '{'
// or '[' is JSON. INVALID_ARGUMENT naming `file` when the input is no table
// at all (bad JSON, no header); a record that cannot be read (bad quoting,
// wrong number of fields, not an object) goes to `errors`.
absl::StatusOr<Table> ReadTable(const InputFile& file, ColumnNamer namer);

// A column name in lower case with blanks, '-' and '.' as '_'.
std::string NormalColumn(absl::string_view name);

}  // namespace vla::importers::internal

#endif  // VLA_CLIENTS_IMPORTERS_RECORDS_H_
