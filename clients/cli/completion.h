// `meshkv completion bash|zsh`: a shell completion script generated from the
// command table, so that it completes exactly the commands, flags and flag
// values that ParseArgs accepts.
//
//   source <(meshkv completion bash)
//   meshkv wa<TAB>            -> watch
//   meshkv watch --filter <TAB> -> all deletes updates
//
// The bash script defines _meshkv and registers it with `complete`; the zsh
// one loads zsh's bashcompinit and registers the same function.
#ifndef MESHKV_CLIENTS_CLI_COMPLETION_H_
#define MESHKV_CLIENTS_CLI_COMPLETION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace meshkv::cli {

// `shell` is one of kShells; "" for another.
std::string CompletionScript(absl::string_view shell);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_COMPLETION_H_
