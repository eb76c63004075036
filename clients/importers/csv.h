// A small RFC 4180 CSV reader for ITSM exports: comma-separated fields,
// fields in double quotes may hold commas, line breaks and doubled quotes
// (""), records end at LF or CRLF (a lone CR too), a UTF-8 byte order mark
// at the start is skipped, and empty lines are skipped.
//
//   CsvReader reader(text);
//   CsvRecord record;
//   while (reader.Next(record)) {
//     if (!record.error.empty()) { /* report record.line, skip */ }
//     ...record.fields...
//   }
//
// It never fails as a whole: a malformed record (text after a closing quote,
// a quote that is never closed) is returned with `error` set, and reading
// goes on with the next record. Untrusted input is fine (it will be fuzzed).
#ifndef VLA_CLIENTS_IMPORTERS_CSV_H_
#define VLA_CLIENTS_IMPORTERS_CSV_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace vla::importers {

struct CsvRecord {
  // The physical line (1-based) on which the record starts.
  int line = 0;
  std::vector<std::string> fields;
  // Empty for a well-formed record; else why it is malformed (its fields are
  // then incomplete and should not be used).
  std::string error;
};

class CsvReader {
 public:
  // `text` must outlive the reader.
  explicit CsvReader(absl::string_view text);

  // Reads the next record into `record`; false at the end of the input.
  bool Next(CsvRecord& record);

 private:
  // Consumes a line break at pos_ if there is one; true if it did.
  bool ConsumeLineBreak();

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace vla::importers

#endif  // VLA_CLIENTS_IMPORTERS_CSV_H_
