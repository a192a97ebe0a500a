// AntiEntropy: when sync sessions run, and when the node counts as synced.
#include "peer/core/anti_entropy.h"

#include "gtest/gtest.h"
#include "peer/core/map_replica.h"
#include "peer/core/sync_session.h"

namespace meshkv::peer {
namespace {

AntiEntropy::Options Opts() {
  AntiEntropy::Options o;
  o.anti_entropy_ms = 5000;
  o.initial_sync_timeout_ms = 10000;
  o.sync_timeout_ms = 120000;
  return o;
}

TEST(AntiEntropyTest, ANodeWithoutSeedsIsSyncedAtOnce) {
  AntiEntropy alone(Opts());
  alone.Start(0, /*has_seeds=*/false);
  EXPECT_TRUE(alone.synced());
  AntiEntropy joining(Opts());
  joining.Start(0, /*has_seeds=*/true);
  EXPECT_FALSE(joining.synced());
}

TEST(AntiEntropyTest, ARoundIsDueOncePerPeriod) {
  AntiEntropy ae(Opts());
  ae.Start(1000, /*has_seeds=*/true);
  EXPECT_FALSE(ae.RoundDue(1000));
  EXPECT_FALSE(ae.RoundDue(5999));
  EXPECT_TRUE(ae.RoundDue(6000));
  EXPECT_FALSE(ae.RoundDue(6000));  // once, not on every tick after
  EXPECT_FALSE(ae.RoundDue(10999));
  EXPECT_TRUE(ae.RoundDue(11000));
  // A late tick delays the next round, it does not bunch rounds up.
  EXPECT_TRUE(ae.RoundDue(30000));
  EXPECT_FALSE(ae.RoundDue(34999));
  EXPECT_TRUE(ae.RoundDue(35000));
}

TEST(AntiEntropyTest, ASessionRunningPastTheTimeoutIsExpired) {
  AntiEntropy ae(Opts());
  ae.Start(0, /*has_seeds=*/true);
  MapReplica replica(16);
  const SyncSession s = SyncSession::Initiate(1, &replica, 1024, /*now_ms=*/500);
  EXPECT_FALSE(ae.Expired(s, 500));
  EXPECT_FALSE(ae.Expired(s, 500 + 120000));
  EXPECT_TRUE(ae.Expired(s, 500 + 120001));
}

TEST(AntiEntropyTest, ASessionWithASyncedPeerSyncsTheNodeOnce) {
  AntiEntropy ae(Opts());
  ae.Start(0, /*has_seeds=*/true);
  EXPECT_TRUE(ae.Completed(/*peer_synced=*/true, /*synced_peer_connected=*/true));
  EXPECT_TRUE(ae.synced());
  // Only the first completion makes it synced.
  EXPECT_FALSE(ae.Completed(/*peer_synced=*/true, /*synced_peer_connected=*/true));
  EXPECT_TRUE(ae.synced());
}

TEST(AntiEntropyTest, APeerStillJoiningCountsOnlyWhenNoSyncedPeerIsInSight) {
  // A synced peer is connected: a session with a joining one may have
  // brought little, so the node waits for the synced one's.
  AntiEntropy ae(Opts());
  ae.Start(0, /*has_seeds=*/true);
  EXPECT_FALSE(ae.Completed(/*peer_synced=*/false, /*synced_peer_connected=*/true));
  EXPECT_FALSE(ae.synced());
  EXPECT_TRUE(ae.Completed(/*peer_synced=*/true, /*synced_peer_connected=*/true));
  EXPECT_TRUE(ae.synced());
  // A cluster starting together: nobody is synced yet, so any session counts.
  AntiEntropy together(Opts());
  together.Start(0, /*has_seeds=*/true);
  EXPECT_TRUE(together.Completed(/*peer_synced=*/false, /*synced_peer_connected=*/false));
  EXPECT_TRUE(together.synced());
}

TEST(AntiEntropyTest, WithNobodyAnsweringTheNodeServesAfterTheInitialTimeout) {
  AntiEntropy ae(Opts());
  ae.Start(1000, /*has_seeds=*/true);
  EXPECT_FALSE(ae.GiveUpWaiting(10999, /*syncing=*/false));
  EXPECT_FALSE(ae.synced());
  EXPECT_EQ(ae.waited_ms(10999), 9999);
  EXPECT_TRUE(ae.GiveUpWaiting(11000, /*syncing=*/false));
  EXPECT_TRUE(ae.synced());
  EXPECT_FALSE(ae.GiveUpWaiting(11100, /*syncing=*/false));  // says so once
}

TEST(AntiEntropyTest, ASessionStillRunningIsWaitedForPastTheInitialTimeout) {
  AntiEntropy ae(Opts());
  ae.Start(0, /*has_seeds=*/true);
  EXPECT_FALSE(ae.GiveUpWaiting(60000, /*syncing=*/true));
  EXPECT_FALSE(ae.synced());
  // The session failed: nothing runs any more, so the node gives up.
  EXPECT_TRUE(ae.GiveUpWaiting(60100, /*syncing=*/false));
  EXPECT_TRUE(ae.synced());
}

}  // namespace
}  // namespace meshkv::peer
