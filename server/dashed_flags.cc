#include "server/dashed_flags.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace meshkv {

std::vector<char*> Undash(int argc, char** argv, std::vector<std::string>* storage) {
  storage->clear();
  storage->reserve(argc);  // no reallocation: out points into the strings
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && absl::StartsWith(arg, "--")) {
      const size_t end = std::min(arg.find('='), arg.size());
      std::replace(arg.begin() + 2, arg.begin() + end, '-', '_');
    }
    storage->push_back(std::move(arg));
    out.push_back(storage->back().data());
  }
  return out;
}

}  // namespace meshkv
