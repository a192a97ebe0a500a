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

// The block of addresses one party most likely controls, for per-source
// caps: an IPv4 address itself (an IPv4-mapped IPv6 one too), an IPv6
// address's /64 (one subnet: whoever has one address of it usually has them
// all, so a cap per exact address would not hold). Takes "host:port" or a
// bare host; anything unparsable is its own block.
std::string AddressBlockOf(absl::string_view endpoint);

}  // namespace meshkv

#endif  // MESHKV_COMMON_HOST_PORT_H_
