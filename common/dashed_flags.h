// Dashed command-line flags for Abseil: meshkv's programs take
// `--node-id=x`, as docs/design.md spells them, while Abseil flag names cannot
// hold dashes. `Undash` rewrites the flag names (not their values) of argv
// before absl::ParseCommandLine.
#ifndef MESHKV_COMMON_DASHED_FLAGS_H_
#define MESHKV_COMMON_DASHED_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace meshkv {

// "--node-id=a-b" -> "--node_id=a-b". The returned pointers point into
// *storage, which must outlive them.
std::vector<char*> Undash(int argc, char** argv, std::vector<std::string>* storage);

// The whole flag set-up of a small program: `usage` for --help, which lists
// only the flags defined in the source file whose name ends with
// `flags_file` (not gRPC's or Abseil's), then Undash and
// absl::ParseCommandLine (which exits on a bad flag). Returns the positional
// arguments, argv[0] first.
std::vector<std::string> ParseDashedCommandLine(int argc, char** argv, absl::string_view usage,
                                                absl::string_view flags_file);

}  // namespace meshkv

#endif  // MESHKV_COMMON_DASHED_FLAGS_H_
