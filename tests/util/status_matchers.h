// gMock matchers for absl::Status and absl::StatusOr (Debian's Abseil 20220623
// ships none).
//
//   EXPECT_THAT(store.Delete("k"), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_OK(store.Set("k", v));
//   EXPECT_THAT(store.Merge(record), IsOkAndHolds(true));
#ifndef MESHKV_TESTS_UTIL_STATUS_MATCHERS_H_
#define MESHKV_TESTS_UTIL_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace meshkv::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace meshkv::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::meshkv::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::meshkv::testing::IsOk())

#endif  // MESHKV_TESTS_UTIL_STATUS_MATCHERS_H_
