#include "services/evaluator/vla_revisions.h"

#include <algorithm>

#include "common/proto_time.h"

namespace vla::evaluator {

void VlaRevisions::Add(int64_t change_revision, const v1::Vla& vla) {
  std::vector<Entry>& entries = by_vla_[vla.name()];
  auto it = std::lower_bound(
      entries.begin(), entries.end(), change_revision,
      [](const Entry& e, int64_t r) { return e.change_revision < r; });
  if (it != entries.end() && it->change_revision == change_revision) return;
  entries.insert(it,
                 Entry{change_revision, FromProtoTime(vla.update_time()), vla});
}

const v1::Vla* VlaRevisions::At(const std::string& name, absl::Time at) const {
  auto it = by_vla_.find(name);
  if (it == by_vla_.end() || it->second.empty()) return nullptr;
  const std::vector<Entry>& entries = it->second;
  for (auto e = entries.rbegin(); e != entries.rend(); ++e) {
    if (e->committed < at) return &e->vla;
  }
  return &entries.front().vla;
}

}  // namespace vla::evaluator
