// The evaluator's checkpoint file: a sequence of sections (type, record
// sequence, payload) between a header and a footer, written atomically and
// verified before use.
//
// Layout (little-endian):
//   header  "VLASNAP\0", u32 format version
//   section u8 type, i64 sequence, u64 payload size, payload   (repeated)
//   footer  u64 section count, u32 CRC-32 of everything before it,
//           "VLAEND\0\0"
//
// SnapshotWriter writes to PATH.tmp, fsyncs it, renames it over PATH and
// fsyncs the folder: a crash leaves the old file or the new one, never a
// torn one. SnapshotFile maps a file read-only and refuses, with a message
// that says why, a missing file, another format version, a wrong checksum
// or a truncated file.
//
//   VLA_ASSIGN_OR_RETURN(auto w, SnapshotWriter::Create(path));
//   VLA_RETURN_IF_ERROR(w->Add(kSomething, seq, payload));
//   VLA_RETURN_IF_ERROR(w->Commit());
//   VLA_ASSIGN_OR_RETURN(auto f, SnapshotFile::Open(path));
//   for (const SnapshotFile::Section& s : f->sections()) ...
#ifndef VLA_SERVICES_EVALUATOR_SNAPSHOT_FILE_H_
#define VLA_SERVICES_EVALUATOR_SNAPSHOT_FILE_H_

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vla::evaluator {

inline constexpr uint32_t kSnapshotFormatVersion = 1;

class SnapshotWriter {
 public:
  static absl::StatusOr<std::unique_ptr<SnapshotWriter>> Create(
      const std::string& path);
  ~SnapshotWriter();  // an uncommitted file is removed
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  absl::Status Add(uint8_t type, int64_t sequence, absl::string_view payload);
  // Writes the footer, syncs and renames the file into place.
  absl::Status Commit();

 private:
  SnapshotWriter(std::string path, std::FILE* file);
  absl::Status Write(absl::string_view bytes);

  std::string path_;
  std::string tmp_path_;
  std::FILE* file_;
  uint32_t crc_ = 0;
  uint64_t sections_ = 0;
  bool committed_ = false;
};

class SnapshotFile {
 public:
  struct Section {
    uint8_t type;
    int64_t sequence;
    absl::string_view payload;  // valid while the SnapshotFile lives
  };

  // NOT_FOUND when there is no file; DATA_LOSS (with the reason) when it
  // is not a complete, intact snapshot of this format version.
  static absl::StatusOr<std::unique_ptr<SnapshotFile>> Open(
      const std::string& path);
  ~SnapshotFile();
  SnapshotFile(const SnapshotFile&) = delete;
  SnapshotFile& operator=(const SnapshotFile&) = delete;

  const std::vector<Section>& sections() const { return sections_; }
  size_t size() const { return size_; }

 private:
  SnapshotFile() = default;
  void* data_ = nullptr;
  size_t size_ = 0;
  std::vector<Section> sections_;
};

// Little-endian encoding of the sections' payloads.
class ByteWriter {
 public:
  template <typename T>
  void Put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &value, sizeof(T));
  }
  // A run of trivially copyable values, as stored in memory.
  template <typename T>
  void PutArray(const T* values, size_t count) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(values), count * sizeof(T));
  }
  void PutString(absl::string_view s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  const std::string& bytes() const { return out_; }
  void Clear() { out_.clear(); }

 private:
  std::string out_;
};

// Reads what ByteWriter wrote; any read past the end fails the reader for
// good (ok() false) and returns zeros.
class ByteReader {
 public:
  explicit ByteReader(absl::string_view in) : in_(in) {}
  template <typename T>
  T Get() {
    T value{};
    if (!Take(sizeof(T))) return value;
    std::memcpy(&value, in_.data() - sizeof(T), sizeof(T));
    return value;
  }
  // `count` values into `out` (resized).
  template <typename T>
  void GetArray(size_t count, std::vector<T>* out) {
    if (count > in_.size() / sizeof(T) || !Take(count * sizeof(T))) {
      ok_ = false;
      out->clear();
      return;
    }
    out->resize(count);
    std::memcpy(out->data(), in_.data() - count * sizeof(T), count * sizeof(T));
  }
  absl::string_view GetString() {
    const uint32_t size = Get<uint32_t>();
    if (!Take(size)) return {};
    return absl::string_view(in_.data() - size, size);
  }
  bool ok() const { return ok_; }
  bool done() const { return in_.empty(); }

 private:
  bool Take(size_t n) {
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return false;
    }
    in_.remove_prefix(n);
    return true;
  }
  absl::string_view in_;
  bool ok_ = true;
};

}  // namespace vla::evaluator

#endif  // VLA_SERVICES_EVALUATOR_SNAPSHOT_FILE_H_
