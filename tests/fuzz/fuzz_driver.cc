// Runs a libFuzzer entry point without libFuzzer: on the files named on the
// command line (a corpus, or a crash to reproduce), or else on seeded random
// inputs, so that CTest exercises every fuzz target with any compiler.
//
//   frame_fuzz_smoke                 MESHKV_FUZZ_RUNS random inputs (default 20000)
//   frame_fuzz_smoke crash-1234      one input from a file
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc > 1) {
    for (int i = 1; i < argc; ++i) {
      std::ifstream in(argv[i], std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string input = ss.str();
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    }
    std::printf("ran %d inputs\n", argc - 1);
    return 0;
  }
  const char* runs_env = std::getenv("MESHKV_FUZZ_RUNS");
  const long runs = runs_env ? std::atol(runs_env) : 20000;
  std::mt19937_64 rng(12345);
  std::string input;
  for (long r = 0; r < runs; ++r) {
    input.resize(std::uniform_int_distribution<size_t>(0, 4096)(rng));
    for (char& c : input) c = static_cast<char>(rng());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("ran %ld random inputs\n", runs);
  return 0;
}
