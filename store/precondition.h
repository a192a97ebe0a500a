// Precondition: what a conditional write requires of its key's current
// state, checked by the store under its write lock together with the lease
// (store.h), so that the check and the write are one atomic step on the
// node where the write enters (docs/design.md "Conditional writes").
//
// A version names a write globally: (hlc, origin node ID), as Meta.version
// shows it; the node-local revision would mean nothing on another node.
// A view: `origin` borrows from the caller's request.
#ifndef MESHKV_STORE_PRECONDITION_H_
#define MESHKV_STORE_PRECONDITION_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace meshkv {

struct Precondition {
  enum class Kind : uint8_t {
    kNone,     // unconditional
    kAbsent,   // the key has no live value (Redis SET NX, NATS KV create)
    kVersion,  // the key is live and its current version is (hlc, origin)
  };

  static Precondition Absent() { return {Kind::kAbsent, 0, {}}; }
  static Precondition AtVersion(uint64_t hlc, absl::string_view origin) {
    return {Kind::kVersion, hlc, origin};
  }

  Kind kind = Kind::kNone;
  uint64_t hlc = 0;          // when kind is kVersion
  absl::string_view origin;  // when kind is kVersion
};

}  // namespace meshkv

#endif  // MESHKV_STORE_PRECONDITION_H_
