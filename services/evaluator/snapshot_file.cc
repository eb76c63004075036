#include "services/evaluator/snapshot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace vla::evaluator {
namespace {

constexpr char kMagic[8] = {'V', 'L', 'A', 'S', 'N', 'A', 'P', '\0'};
constexpr char kEndMagic[8] = {'V', 'L', 'A', 'E', 'N', 'D', '\0', '\0'};
constexpr size_t kHeaderSize = sizeof(kMagic) + sizeof(uint32_t);
constexpr size_t kSectionHeaderSize =
    sizeof(uint8_t) + sizeof(int64_t) + sizeof(uint64_t);
constexpr size_t kFooterSize =
    sizeof(uint64_t) + sizeof(uint32_t) + sizeof(kEndMagic);

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

template <typename T>
absl::string_view Bytes(const T& value) {
  return absl::string_view(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
T Load(const char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

uint32_t Crc(uint32_t crc, absl::string_view bytes) {
  // zlib's crc32 takes at most uInt bytes at a time.
  while (!bytes.empty()) {
    const size_t n = std::min<size_t>(bytes.size(), 1u << 30);
    crc = static_cast<uint32_t>(
        crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()),
              static_cast<uInt>(n)));
    bytes.remove_prefix(n);
  }
  return crc;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotWriter>> SnapshotWriter::Create(
    const std::string& path) {
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) return Errno("creating", tmp);
  auto writer = std::unique_ptr<SnapshotWriter>(new SnapshotWriter(path, file));
  writer->crc_ = static_cast<uint32_t>(crc32(0, nullptr, 0));
  const uint32_t version = kSnapshotFormatVersion;
  if (absl::Status s = writer->Write(absl::string_view(kMagic, sizeof(kMagic)));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = writer->Write(Bytes(version)); !s.ok()) return s;
  return writer;
}

SnapshotWriter::SnapshotWriter(std::string path, std::FILE* file)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp"), file_(file) {}

SnapshotWriter::~SnapshotWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(tmp_path_.c_str());
}

absl::Status SnapshotWriter::Write(absl::string_view bytes) {
  crc_ = Crc(crc_, bytes);
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return Errno("writing", tmp_path_);
  }
  return absl::OkStatus();
}

absl::Status SnapshotWriter::Add(uint8_t type, int64_t sequence,
                                 absl::string_view payload) {
  const uint64_t size = payload.size();
  if (absl::Status s = Write(Bytes(type)); !s.ok()) return s;
  if (absl::Status s = Write(Bytes(sequence)); !s.ok()) return s;
  if (absl::Status s = Write(Bytes(size)); !s.ok()) return s;
  ++sections_;
  return Write(payload);
}

absl::Status SnapshotWriter::Commit() {
  if (absl::Status s = Write(Bytes(sections_)); !s.ok()) return s;
  const uint32_t crc = crc_;
  if (std::fwrite(&crc, sizeof(crc), 1, file_) != 1 ||
      std::fwrite(kEndMagic, sizeof(kEndMagic), 1, file_) != 1 ||
      std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) {
    return Errno("writing", tmp_path_);
  }
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return Errno("renaming", tmp_path_);
  }
  committed_ = true;
  // The rename is durable once the folder is.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("opening", dir);
  const int synced = fsync(fd);
  close(fd);
  if (synced != 0) return Errno("syncing", dir);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SnapshotFile>> SnapshotFile::Open(
    const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("no snapshot at ", path));
    }
    return Errno("opening", path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("reading", path);
  }
  auto file = std::unique_ptr<SnapshotFile>(new SnapshotFile());
  file->size_ = static_cast<size_t>(st.st_size);
  const auto lost = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("snapshot ", path, ": ", why));
  };
  if (file->size_ < kHeaderSize + kFooterSize) {
    close(fd);
    return lost("truncated");
  }
  file->data_ = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (file->data_ == MAP_FAILED) {
    file->data_ = nullptr;
    return Errno("mapping", path);
  }
  const char* const data = static_cast<const char*>(file->data_);
  const absl::string_view all(data, file->size_);
  if (std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    return lost("not a snapshot file");
  }
  const uint32_t version = Load<uint32_t>(data + sizeof(kMagic));
  if (version != kSnapshotFormatVersion) {
    return lost(absl::StrCat("format version ", version, ", this binary reads ",
                             kSnapshotFormatVersion));
  }
  const char* footer = data + file->size_ - kFooterSize;
  if (std::memcmp(footer + sizeof(uint64_t) + sizeof(uint32_t), kEndMagic,
                  sizeof(kEndMagic)) != 0) {
    return lost("truncated (no end marker)");
  }
  const size_t covered = file->size_ - kFooterSize + sizeof(uint64_t);
  const uint32_t want = Load<uint32_t>(footer + sizeof(uint64_t));
  const uint32_t crc =
      Crc(static_cast<uint32_t>(crc32(0, nullptr, 0)), all.substr(0, covered));
  if (crc != want) return lost("checksum mismatch");
  const uint64_t count = Load<uint64_t>(footer);
  size_t at = kHeaderSize;
  const size_t end = file->size_ - kFooterSize;
  for (uint64_t i = 0; i < count; ++i) {
    if (end - at < kSectionHeaderSize) return lost("section past the end");
    Section s;
    s.type = Load<uint8_t>(data + at);
    s.sequence = Load<int64_t>(data + at + 1);
    const uint64_t size = Load<uint64_t>(data + at + 9);
    at += kSectionHeaderSize;
    if (size > end - at) return lost("section past the end");
    s.payload = all.substr(at, size);
    at += size;
    file->sections_.push_back(s);
  }
  if (at != end) return lost("bytes after the last section");
  return file;
}

SnapshotFile::~SnapshotFile() {
  if (data_ != nullptr) munmap(data_, size_);
}

}  // namespace vla::evaluator
