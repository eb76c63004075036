// The free space of a data folder, and what the services do when it runs
// out: a full file system is RESOURCE_EXHAUSTED (never UNAVAILABLE, which
// tells clients to retry at once), named with the folder and its free
// bytes; bulk ingest stops at a reserve so that small, important writes
// (definitions, check-ins) still fit.
#ifndef VLA_SERVICES_COMMON_DISK_SPACE_H_
#define VLA_SERVICES_COMMON_DISK_SPACE_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vla {

// Bytes an unprivileged writer may still use on the file system of
// `folder` (statvfs f_bavail * f_frsize).
absl::StatusOr<uint64_t> FreeBytes(const std::string& folder);

// RESOURCE_EXHAUSTED: "<what>: the file system of the data folder FOLDER is
// full (N bytes free)".
absl::Status DiskFullError(absl::string_view what, const std::string& folder);

// "12.5 MiB": bytes for people.
std::string FormatBytes(uint64_t bytes);

// Guards bulk writes into a folder: Check() refuses them while its free
// space is below the reserve, and logs one warning when the reserve is
// crossed and one line when space returns. Thread-safe; statvfs is cheap
// (a system call), so every Check reads it afresh.
class DiskReserve {
 public:
  // `free_bytes` replaces statvfs (tests); null: FreeBytes(folder).
  DiskReserve(std::string folder, uint64_t reserve_bytes,
              std::function<absl::StatusOr<uint64_t>()> free_bytes = nullptr);

  // OK while the folder has at least the reserve free (or its free space
  // cannot be read: the write itself then reports). Else
  // RESOURCE_EXHAUSTED naming the folder, its free bytes and the reserve.
  absl::Status Check(absl::string_view what);
  // Whether the last Check found the folder below the reserve.
  bool low() const;

  const std::string& folder() const { return folder_; }
  uint64_t reserve_bytes() const { return reserve_; }

 private:
  const std::string folder_;
  const uint64_t reserve_;
  const std::function<absl::StatusOr<uint64_t>()> free_bytes_;
  mutable std::mutex mu_;
  bool low_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vla

#endif  // VLA_SERVICES_COMMON_DISK_SPACE_H_
