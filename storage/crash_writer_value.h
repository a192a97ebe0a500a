// The value storage_crash_writer writes for a key, so that the crash tests
// can check every recovered byte.
#ifndef MESHKV_STORAGE_CRASH_WRITER_VALUE_H_
#define MESHKV_STORAGE_CRASH_WRITER_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace meshkv::storage {

inline std::string CrashWriterValue(const std::string& key, size_t bytes) {
  std::string v(bytes, '\0');
  uint32_t h = 2166136261u;
  for (char c : key) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  for (size_t i = 0; i < bytes; ++i) {
    h = h * 1103515245u + 12345u;
    v[i] = static_cast<char>('a' + (h >> 16) % 26);
  }
  return v;
}

}  // namespace meshkv::storage

#endif  // MESHKV_STORAGE_CRASH_WRITER_VALUE_H_
