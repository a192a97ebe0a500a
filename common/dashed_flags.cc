#include "common/dashed_flags.h"

#include <algorithm>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
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

std::vector<std::string> ParseDashedCommandLine(int argc, char** argv, absl::string_view usage,
                                                absl::string_view flags_file) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [file = std::string(flags_file)](absl::string_view f) {
    return absl::EndsWith(f, file);
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  std::vector<std::string> storage;
  std::vector<char*> args = Undash(argc, argv, &storage);
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  return std::vector<std::string>(rest.begin(), rest.end());
}

}  // namespace meshkv
