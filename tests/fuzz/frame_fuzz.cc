// Fuzz target: arbitrary bytes into the frame decoder, in arbitrary chunks.
// It must never crash, never return a frame over its maximum, and stop at
// the first error.
#include <cstdint>
#include <cstdlib>

#include "peer/core/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = data[0] % 64 + 1;  // the first byte picks the chunking
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  meshkv::peer::FrameDecoder decoder(1024);
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    decoder.Feed(bytes.substr(at, chunk));
    meshkv::peer::FrameType type;
    absl::string_view body;
    while (decoder.Next(&type, &body)) {
      if (body.size() > 1024) std::abort();
    }
    if (!decoder.status().ok()) break;
  }
  return 0;
}
