// Fuzzes the evaluator's record checks and what accepted records feed: the
// input is a serialized IngestRequest. A fresh Engine holding one value
// stream, one KVI and one ACTIVE VLA (tests/fixtures.h) checks the batch,
// stores the records it accepts, and evaluates the KVI, the VLA and the flow.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/clock.h"
#include "services/evaluator/engine.h"
#include "tests/fixtures.h"
#include "vla/v1/evaluation.pb.h"
#include "vla/v1/vmdb.pb.h"

namespace {

using vla::evaluator::Engine;
namespace v1 = vla::v1;
namespace fixtures = vla::testing;

// 2026-03-01T00:00:00Z, within the fixtures' objective period.
const absl::Time kNow = absl::FromUnixSeconds(1772323200);

v1::Change Created(int64_t revision, const std::string& name) {
  v1::Change change;
  change.set_revision(revision);
  change.set_kind(v1::CHANGE_KIND_CREATED);
  change.set_name(name);
  return change;
}

void Define(Engine& engine) {
  v1::Change business = Created(1, "teams/business");
  *business.mutable_team() = fixtures::MakeTeam(v1::TEAM_KIND_CONSUMER);
  business.mutable_team()->set_name("teams/business");
  engine.ApplyChange(business);
  v1::Change desk = Created(2, "teams/service-desk");
  *desk.mutable_team() = fixtures::MakeTeam();
  desk.mutable_team()->set_name("teams/service-desk");
  engine.ApplyChange(desk);
  v1::Change stream = Created(3, "valueStreams/incident");
  *stream.mutable_value_stream() = fixtures::MakeValueStream();
  stream.mutable_value_stream()->set_name("valueStreams/incident");
  engine.ApplyChange(stream);
  v1::Change kvi = Created(4, "kvis/lead-time");
  *kvi.mutable_kvi() = fixtures::MakeKvi();
  kvi.mutable_kvi()->set_name("kvis/lead-time");
  engine.ApplyChange(kvi);
  v1::Change vla = Created(5, "vlas/incident");
  *vla.mutable_vla() = fixtures::MakeVla();
  vla.mutable_vla()->set_name("vlas/incident");
  engine.ApplyChange(vla);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::IngestRequest batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  // Batches are bounded by the service; keep the fuzzer fast likewise.
  if (batch.observations_size() + batch.work_item_events_size() > 64) return 0;

  vla::FakeClock clock(kNow);
  Engine engine(&clock);
  Define(engine);

  std::vector<vla::evaluator::IngestRecord> records =
      vla::evaluator::RecordsOf(batch);
  if (records.size() != static_cast<size_t>(batch.observations_size() +
                                            batch.work_item_events_size())) {
    __builtin_trap();
  }
  engine.Check(absl::MakeSpan(records));
  for (auto& r : records) r.stored = true;
  engine.Add(records);

  (void)engine.KviValue("kvis/lead-time", kNow);
  (void)engine.VlaStatus("vlas/incident", kNow);
  (void)engine.Flow("valueStreams/incident", absl::Hours(24 * 30), kNow);
  (void)engine.TakeDirty();
  return 0;
}
