#include "services/common/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace vla {

absl::StatusOr<uint64_t> FreeBytes(const std::string& folder) {
  struct statvfs fs;
  if (statvfs(folder.c_str(), &fs) != 0) {
    return absl::InternalError(
        absl::StrCat("statvfs ", folder, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(fs.f_bavail) *
         static_cast<uint64_t>(fs.f_frsize);
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " bytes");
  const double b = static_cast<double>(bytes);
  if (bytes < (uint64_t{1} << 20)) return absl::StrFormat("%.1f KiB", b / 1024);
  if (bytes < (uint64_t{1} << 30)) {
    return absl::StrFormat("%.1f MiB", b / (1 << 20));
  }
  return absl::StrFormat("%.1f GiB", b / (1 << 30));
}

absl::Status DiskFullError(absl::string_view what, const std::string& folder) {
  const absl::StatusOr<uint64_t> free = FreeBytes(folder);
  return absl::ResourceExhaustedError(absl::StrCat(
      what, ": the file system of the data folder ", folder, " is full (",
      free.ok() ? FormatBytes(*free) : "unknown space", " free)"));
}

DiskReserve::DiskReserve(std::string folder, uint64_t reserve_bytes,
                         std::function<absl::StatusOr<uint64_t>()> free_bytes)
    : folder_(std::move(folder)),
      reserve_(reserve_bytes),
      free_bytes_(free_bytes != nullptr
                      ? std::move(free_bytes)
                      : [f = folder_] { return FreeBytes(f); }) {}

absl::Status DiskReserve::Check(absl::string_view what) {
  if (reserve_ == 0) return absl::OkStatus();
  const absl::StatusOr<uint64_t> free = free_bytes_();
  if (!free.ok()) return absl::OkStatus();
  const bool low = *free < reserve_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (low != low_) {
      low_ = low;
      if (low) {
        Log(LogLevel::kWarning,
            "data folder below its free-space reserve: ingest paused",
            {{"data_dir", folder_},
             {"free_bytes", absl::StrCat(*free)},
             {"min_free_bytes", absl::StrCat(reserve_)}});
      } else {
        Log(LogLevel::kInfo,
            "data folder above its free-space reserve again: ingest resumed",
            {{"data_dir", folder_},
             {"free_bytes", absl::StrCat(*free)},
             {"min_free_bytes", absl::StrCat(reserve_)}});
      }
    }
  }
  if (!low) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      what, ": the data folder ", folder_, " has ", FormatBytes(*free),
      " free, below the reserve of ", FormatBytes(reserve_),
      " (--min_free_bytes) kept for definitions and check-ins; free space "
      "there or grow the volume"));
}

bool DiskReserve::low() const {
  std::lock_guard<std::mutex> lock(mu_);
  return low_;
}

}  // namespace vla
