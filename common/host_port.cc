#include "common/host_port.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace meshkv {

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(absl::string_view addr) {
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", addr, "\" is not host:port"));
  }
  absl::string_view host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(std::string(host), port);
}

std::string AddressBlockOf(absl::string_view endpoint) {
  std::string host(endpoint);
  in_addr v4;
  unsigned char v6[16];
  // A bare IPv6 address also splits at its last colon: try it whole first.
  if (inet_pton(AF_INET6, host.c_str(), v6) != 1) {
    if (absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(endpoint); hp.ok()) {
      host = hp->first;
    }
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return host;
    if (inet_pton(AF_INET6, host.c_str(), v6) != 1) return host;
  }
  static constexpr unsigned char kMappedV4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMappedV4, sizeof(kMappedV4)) == 0) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, v6 + 12, text, sizeof(text));
    return text;
  }
  std::memset(v6 + 8, 0, 8);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, v6, text, sizeof(text));
  return absl::StrCat(text, "/64");
}

}  // namespace meshkv
