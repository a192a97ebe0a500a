#include "common/env.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace meshkv {
namespace {

TEST(ManualEnvTest, ScheduledWorkWaitsForRunPendingAndRunsInOrder) {
  ManualEnv env(1000);
  std::vector<int> ran;
  env.Schedule([&] { ran.push_back(1); });
  env.Schedule([&] {
    ran.push_back(2);
    env.Schedule([&] { ran.push_back(3); });  // scheduled by scheduled work
  });
  EXPECT_TRUE(ran.empty());
  EXPECT_EQ(env.pending(), 2u);
  EXPECT_EQ(env.RunPending(), 3u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(env.pending(), 0u);
  EXPECT_EQ(env.RunPending(), 0u);
}

TEST(ManualEnvTest, TimeMovesOnlyWhenTold) {
  ManualEnv env(1000);
  EXPECT_EQ(env.clock()->NowMs(), 1000);
  env.manual_clock()->Advance(absl::Seconds(2));
  EXPECT_EQ(env.clock()->NowMs(), 3000);
}

TEST(DefaultEnvTest, RunsWorkOnAnotherThreadInOrder) {
  Env* env = Env::Default();
  EXPECT_EQ(env, Env::Default());
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<int> ran;  // written only by the worker, read after `done`
  std::atomic<bool> elsewhere{true};
  absl::Notification done;
  for (int i = 0; i < 100; ++i) {
    env->Schedule([&, i] {
      if (std::this_thread::get_id() == caller) elsewhere = false;
      ran.push_back(i);
      if (i == 99) done.Notify();
    });
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(elsewhere);
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[i], i);
  const int64_t now = env->clock()->NowMs();
  EXPECT_GT(now, 1'600'000'000'000);  // the real clock, in Unix ms
}

}  // namespace
}  // namespace meshkv
