// Early-return helpers for absl::Status (Debian's Abseil 20220623 has none).
#ifndef MESHKV_COMMON_STATUS_MACROS_H_
#define MESHKV_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"

#define MESHKV_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status meshkv_status_ = (expr);          \
    if (!meshkv_status_.ok()) return meshkv_status_; \
  } while (0)

#endif  // MESHKV_COMMON_STATUS_MACROS_H_
