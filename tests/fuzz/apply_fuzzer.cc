// Fuzzes vlactl's apply document parser (YAML or JSON, several documents per
// file) over arbitrary text, then the checks and conversions apply runs on
// the parsed documents.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/vlactl/documents.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<vla::vlactl::Document>> docs =
      vla::vlactl::ParseDocuments(text, "fuzz.yaml");
  if (!docs.ok()) return 0;
  (void)vla::vlactl::CheckDocumentSet(*docs);
  vla::vlactl::SortForApply(&*docs);
  for (const vla::vlactl::Document& doc : *docs) {
    if (doc.kind == nullptr || doc.resource == nullptr) __builtin_trap();
    (void)doc.Where();
    (void)vla::vlactl::ResourceToJson(*doc.resource, /*output_fields=*/false);
  }
  return 0;
}
