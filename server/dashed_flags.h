// Dashed command-line flags for Abseil: meshkv's programs take
// `--node-id=x`, as DESIGN.md spells them, while Abseil flag names cannot
// hold dashes. `Undash` rewrites the flag names (not their values) of argv
// before absl::ParseCommandLine.
#ifndef MESHKV_SERVER_DASHED_FLAGS_H_
#define MESHKV_SERVER_DASHED_FLAGS_H_

#include <string>
#include <vector>

namespace meshkv {

// "--node-id=a-b" -> "--node_id=a-b". The returned pointers point into
// *storage, which must outlive them.
std::vector<char*> Undash(int argc, char** argv, std::vector<std::string>* storage);

}  // namespace meshkv

#endif  // MESHKV_SERVER_DASHED_FLAGS_H_
