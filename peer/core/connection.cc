#include "peer/core/connection.h"

namespace meshkv::peer {

const char* Name(ConnectionState state) {
  switch (state) {
    case ConnectionState::kDialing:
      return "dialing";
    case ConnectionState::kSecuring:
      return "securing";
    case ConnectionState::kHandshaking:
      return "handshaking";
    case ConnectionState::kEstablished:
      return "established";
    case ConnectionState::kClosing:
      return "closing";
  }
  return "?";
}

}  // namespace meshkv::peer
