#include "server/watch_hub.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv {
namespace {

// A stream that records what the hub called, in order, as "name:what".
class Recorder final : public WatchHub::Stream {
 public:
  Recorder(std::string name, std::vector<std::string>* log) : name_(std::move(name)), log_(log) {}
  void OnAdvance(uint64_t) override { log_->push_back(name_ + ":advance"); }
  void OnShutdown() override { log_->push_back(name_ + ":shutdown"); }
  void OnProgress() override { log_->push_back(name_ + ":progress"); }

 private:
  const std::string name_;
  std::vector<std::string>* const log_;
};

class WatchHubTest : public ::testing::Test {
 protected:
  ManualEnv env_{1'700'000'000'000};
  std::vector<std::string> log_;
  WatchHub hub_{&env_};
};

TEST_F(WatchHubTest, ProgressComesEveryIntervalOnlyToStreamsThatAskedForIt) {
  Recorder fast("fast", &log_), slow("slow", &log_), none("none", &log_);
  ASSERT_TRUE(hub_.Add(&fast, absl::Milliseconds(100)));
  ASSERT_TRUE(hub_.Add(&slow, absl::Milliseconds(250)));
  ASSERT_TRUE(hub_.Add(&none));
  hub_.Tick();
  EXPECT_TRUE(log_.empty());  // nothing is due yet
  for (int i = 0; i < 5; ++i) {
    env_.manual_clock()->Advance(absl::Milliseconds(100));
    hub_.Tick();
  }
  // fast at 100, 200, 300, 400, 500; slow once, at 300, before fast (it was
  // due first, at 250); its next is due at 550.
  EXPECT_THAT(log_, ::testing::ElementsAre("fast:progress", "fast:progress", "slow:progress",
                                           "fast:progress", "fast:progress", "fast:progress"));
  hub_.Shutdown();  // before the streams go
}

TEST_F(WatchHubTest, ARemovedStreamGetsNoMoreProgress) {
  Recorder a("a", &log_), b("b", &log_);
  ASSERT_TRUE(hub_.Add(&a, absl::Milliseconds(100)));
  ASSERT_TRUE(hub_.Add(&b, absl::Milliseconds(100)));
  hub_.Remove(&a);
  env_.manual_clock()->Advance(absl::Milliseconds(100));
  hub_.Tick();
  EXPECT_THAT(log_, ::testing::ElementsAre("b:progress"));
  hub_.Remove(&b);
  env_.manual_clock()->Advance(absl::Seconds(10));
  hub_.Tick();
  EXPECT_EQ(log_.size(), 1u);
}

TEST_F(WatchHubTest, CommitsStillWakeEveryStream) {
  Recorder a("a", &log_), b("b", &log_);
  ASSERT_TRUE(hub_.Add(&a, absl::Milliseconds(100)));
  ASSERT_TRUE(hub_.Add(&b));
  hub_.Notify(5);
  env_.RunPending();
  EXPECT_THAT(log_, ::testing::UnorderedElementsAre("a:advance", "b:advance"));
  hub_.Shutdown();
  env_.manual_clock()->Advance(absl::Seconds(1));
  hub_.Tick();                 // after shutdown: nothing
  EXPECT_EQ(log_.size(), 4u);  // + two shutdowns
}

}  // namespace
}  // namespace meshkv
