// The gRPC face of the VMDB: a thin adapter from VmdbService's callback API
// to VmdbCore. Reads run on gRPC's threads (they do not block: WAL readers);
// writes run on an Executor, so a disk sync never stalls gRPC's threads.
#ifndef VLA_SERVICES_VMDB_VMDB_SERVICE_H_
#define VLA_SERVICES_VMDB_VMDB_SERVICE_H_

#include <memory>

#include "services/common/access.h"
#include "services/common/executor.h"
#include "services/vmdb/vmdb_core.h"
#include "vla/v1/vmdb.grpc.pb.h"

namespace vla::vmdb {

class VmdbServiceImpl final : public v1::VmdbService::CallbackService {
 public:
  // `core`, `writer` and `policy` (null: no checks) must outlive the
  // service. A WatchChanges message holds changes up to
  // `watch_batch_bytes` (one bigger change goes alone).
  VmdbServiceImpl(VmdbCore* core, Executor* writer,
                  const AccessPolicy* policy = nullptr,
                  size_t watch_batch_bytes = 256 << 10)
      : core_(core),
        writer_(writer),
        guard_(policy, v1::VmdbService::service_full_name()),
        watch_batch_bytes_(watch_batch_bytes) {}

#define VLA_VMDB_STANDARD_METHODS(R, Rs)                                     \
  grpc::ServerUnaryReactor* Create##R(grpc::CallbackServerContext* ctx,      \
                                      const v1::Create##R##Request* req,     \
                                      v1::R* resp) override;                 \
  grpc::ServerUnaryReactor* Get##R(grpc::CallbackServerContext* ctx,         \
                                   const v1::Get##R##Request* req,           \
                                   v1::R* resp) override;                    \
  grpc::ServerUnaryReactor* List##Rs(grpc::CallbackServerContext* ctx,       \
                                     const v1::List##Rs##Request* req,       \
                                     v1::List##Rs##Response* resp) override; \
  grpc::ServerUnaryReactor* Update##R(grpc::CallbackServerContext* ctx,      \
                                      const v1::Update##R##Request* req,     \
                                      v1::R* resp) override;                 \
  grpc::ServerUnaryReactor* Delete##R(grpc::CallbackServerContext* ctx,      \
                                      const v1::Delete##R##Request* req,     \
                                      google::protobuf::Empty* resp) override;
  VLA_VMDB_STANDARD_METHODS(Team, Teams)
  VLA_VMDB_STANDARD_METHODS(ValueStream, ValueStreams)
  VLA_VMDB_STANDARD_METHODS(Kvi, Kvis)
  VLA_VMDB_STANDARD_METHODS(Vla, Vlas)
  VLA_VMDB_STANDARD_METHODS(Objective, Objectives)
#undef VLA_VMDB_STANDARD_METHODS

  grpc::ServerUnaryReactor* ListVlaRevisions(
      grpc::CallbackServerContext* ctx, const v1::ListVlaRevisionsRequest* req,
      v1::ListVlaRevisionsResponse* resp) override;
  grpc::ServerWriteReactor<v1::WatchChangesResponse>* WatchChanges(
      grpc::CallbackServerContext* ctx,
      const v1::WatchChangesRequest* req) override;

 private:
  VmdbCore* core_;
  Executor* writer_;
  AccessGuard guard_;
  size_t watch_batch_bytes_;
};

}  // namespace vla::vmdb

#endif  // VLA_SERVICES_VMDB_VMDB_SERVICE_H_
