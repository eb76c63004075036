// Fuzzes the CSV reader of the importers over arbitrary text: it must
// terminate, never crash, and report lines that grow with the input.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "clients/importers/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  vla::importers::CsvReader reader(text);
  vla::importers::CsvRecord record;
  int last_line = 0;
  size_t records = 0;
  while (reader.Next(record)) {
    // Lines only move forward, and every record consumes input.
    if (record.line <= last_line) __builtin_trap();
    last_line = record.line;
    if (++records > size) __builtin_trap();
  }
  return 0;
}
