// The definitions the evaluator follows from the VMDB's change feed: teams,
// value streams, KVIs and VLAs by name (objectives are okr-status's), and
// every revision of each VLA.
#ifndef VLA_SERVICES_EVALUATOR_DEFINITIONS_H_
#define VLA_SERVICES_EVALUATOR_DEFINITIONS_H_

#include <map>
#include <set>
#include <string>

#include "services/evaluator/vla_revisions.h"
#include "vla/v1/resources.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace vla::evaluator {

struct Definitions {
  std::set<std::string> teams;
  std::map<std::string, v1::ValueStream> value_streams;
  std::map<std::string, v1::Kvi> kvis;
  std::map<std::string, v1::Vla> vlas;  // the latest revision
  VlaRevisions vla_revisions;           // all of them, kept after deletion

  // Applies one change (create, update or delete); false when it is about
  // none of the kinds above.
  bool Apply(const v1::Change& change);

  const v1::ValueStream* FindValueStream(const std::string& name) const {
    auto it = value_streams.find(name);
    return it == value_streams.end() ? nullptr : &it->second;
  }
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_DEFINITIONS_H_
