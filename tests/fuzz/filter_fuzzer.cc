// Fuzzes the AIP-160 filter parser: the input is a selector byte (whose
// resource kind's filter fields are allowed) followed by the filter text. A
// filter that parses is matched against a default resource of that kind.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "services/common/filter.h"
#include "services/vmdb/resource_kinds.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& kinds = vla::vmdb::AllKinds();
  const vla::vmdb::ResourceKind& kind = *kinds[data[0] % kinds.size()];
  const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                               size - 1);
  absl::StatusOr<vla::Filter> filter =
      vla::Filter::Parse(text, kind.filter_fields);
  if (!filter.ok()) return 0;

  std::unique_ptr<google::protobuf::Message> resource(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(kind.descriptor)
          ->New());
  (void)filter->Matches([&](absl::string_view field) {
    return kind.filter_values(*resource, field);
  });
  for (const vla::FilterField& field : kind.filter_fields) {
    (void)filter->EqualityValue(field.name);
  }
  return 0;
}
