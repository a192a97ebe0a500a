// "host:port" addresses, as flags and peers spell them.
#ifndef MESHKV_COMMON_HOST_PORT_H_
#define MESHKV_COMMON_HOST_PORT_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace meshkv {

// Splits "host:port" into its host and its port (0 to 65535). The host may be
// empty (every interface) or a bracketed IPv6 literal, returned without the
// brackets. INVALID_ARGUMENT for anything else.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(absl::string_view addr);

}  // namespace meshkv

#endif  // MESHKV_COMMON_HOST_PORT_H_
