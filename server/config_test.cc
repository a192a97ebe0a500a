// The mapping from ServerConfig to each part's options: every setting reaches
// its part, and an untouched config gives each part its own defaults (each
// default is written once).
#include "server/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/grpc_security.h"
#include "tests/util/status_matchers.h"

namespace meshkv {
namespace {

using ::meshkv::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ConfigTest, AnUntouchedConfigGivesEachPartItsOwnDefaults) {
  const ServerConfig config;
  const StoreOptions store = StoreOptionsFor(config, "n1");
  const StoreOptions store_defaults;
  EXPECT_EQ(store.node_id, "n1");
  EXPECT_EQ(store.leasing, store_defaults.leasing);
  EXPECT_EQ(store.lease_duration, store_defaults.lease_duration);
  EXPECT_EQ(store.tombstone_retention, store_defaults.tombstone_retention);
  EXPECT_EQ(store.max_clock_ahead, store_defaults.max_clock_ahead);
  EXPECT_EQ(store.max_key_bytes, store_defaults.max_key_bytes);
  EXPECT_EQ(store.max_value_bytes, store_defaults.max_value_bytes);
  EXPECT_EQ(store.history_max_events, store_defaults.history_max_events);
  EXPECT_EQ(store.history_max_bytes, store_defaults.history_max_bytes);

  const peer::MeshOptions mesh = MeshOptionsFor(config, "n1", "h:1", 7, 9);
  const peer::MeshOptions mesh_defaults;
  EXPECT_EQ(mesh.cluster, mesh_defaults.cluster);
  EXPECT_EQ(mesh.leasing, mesh_defaults.leasing);
  EXPECT_EQ(mesh.initial_sync_timeout_ms, mesh_defaults.initial_sync_timeout_ms);
  EXPECT_EQ(mesh.max_frame_bytes, mesh_defaults.max_frame_bytes);
  EXPECT_TRUE(mesh.seeds.empty());

  EXPECT_EQ(KeyValueServiceOptionsFor(config).watch.max_lag, WatchOptions().max_lag);
  EXPECT_EQ(KeyValueServiceOptionsFor(config).max_watch_streams,
            KeyValueServiceOptions().max_watch_streams);
  EXPECT_EQ(KeyValueServiceOptionsFor(config).max_delete_prefix_keys,
            KeyValueServiceOptions().max_delete_prefix_keys);
  EXPECT_TRUE(ValidateConfig(config).ok());
}

TEST(ConfigTest, EverySettingReachesItsPart) {
  ServerConfig config;
  config.cluster = "prod";
  config.leasing = false;
  config.lease_duration = absl::Minutes(5);
  config.tombstone_retention = absl::Hours(2);
  config.max_key_bytes = 100;
  config.max_value_bytes = 200;
  config.watch_history = 300;
  config.watch_max_lag = 400;
  config.max_watch_streams = 500;
  config.max_delete_prefix_keys = 600;
  config.join = {"a:1", "b:2"};
  config.initial_sync_timeout = absl::Seconds(3);

  const StoreOptions store = StoreOptionsFor(config, "n1");
  EXPECT_FALSE(store.leasing);
  EXPECT_EQ(store.lease_duration, absl::Minutes(5));
  EXPECT_EQ(store.tombstone_retention, absl::Hours(2));
  EXPECT_EQ(store.max_key_bytes, 100u);
  EXPECT_EQ(store.max_value_bytes, 200u);
  EXPECT_EQ(store.history_max_events, 300u);

  const peer::MeshOptions mesh = MeshOptionsFor(config, "n1", "h:1", 7, 9);
  EXPECT_EQ(mesh.node_id, "n1");
  EXPECT_EQ(mesh.advertise_addr, "h:1");
  EXPECT_EQ(mesh.cluster, "prod");
  EXPECT_FALSE(mesh.leasing);
  EXPECT_THAT(mesh.seeds, ElementsAre("a:1", "b:2"));
  EXPECT_EQ(mesh.incarnation_ms, 7);
  EXPECT_EQ(mesh.rng_seed, 9u);
  EXPECT_EQ(mesh.initial_sync_timeout_ms, 3000);

  EXPECT_EQ(KeyValueServiceOptionsFor(config).watch.max_lag, 400u);
  EXPECT_EQ(KeyValueServiceOptionsFor(config).max_watch_streams, 500u);
  EXPECT_EQ(KeyValueServiceOptionsFor(config).max_delete_prefix_keys, 600u);
}

TEST(ConfigTest, FramesGrowToHoldTheLargestRecord) {
  ServerConfig config;
  config.max_value_bytes = 64 << 20;
  const peer::MeshOptions mesh = MeshOptionsFor(config, "n1", "h:1", 0, 0);
  EXPECT_GE(mesh.max_frame_bytes, 4 * (config.max_value_bytes + config.max_key_bytes));
}

TEST(ConfigTest, ValuesThatCannotWorkAreRefusedNamingTheFlag) {
  auto refused = [](auto edit) {
    ServerConfig c;
    edit(c);
    return ValidateConfig(c);
  };
  EXPECT_THAT(refused([](ServerConfig& c) { c.max_key_bytes = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-key-bytes")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.max_key_bytes = 70000; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-key-bytes")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.max_value_bytes = (64u << 20) + 1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-value-bytes")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.lease_duration = absl::ZeroDuration(); }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--lease-duration")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.tombstone_retention = absl::InfiniteDuration(); }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tombstone-retention")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.watch_history = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--watch-history")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.watch_max_lag = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--watch-max-lag")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.max_watch_streams = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-watch-streams")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.max_delete_prefix_keys = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-delete-prefix-keys")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.max_concurrent_streams = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max-concurrent-streams")));
}

// gRPC's security block: plaintext only with --insecure, and the client
// flags only where they mean something (certificate files are checked by
// grpc_credentials_test and tests/cluster/grpc_tls_test.cc).
TEST(ConfigTest, GrpcSecurityFlagsThatCannotWorkAreRefusedNamingTheFlag) {
  ServerConfig plain;
  plain.insecure = true;
  absl::StatusOr<GrpcSecurity> s = GrpcSecurityFor(plain);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->tls);
  EXPECT_EQ(s->client_auth, ClientAuth::kOff);
  EXPECT_TRUE(ServerConfig().client_ca.empty());
  EXPECT_FALSE(ServerConfig().require_client_cert);

  auto refused = [](auto edit) {
    ServerConfig c;
    c.certs_dir = "/nonexistent";
    edit(c);
    return GrpcSecurityFor(c).status();
  };
  EXPECT_THAT(refused([](ServerConfig& c) { c.client_roles = "dash=read-only"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--client-roles needs")));
  EXPECT_THAT(refused([](ServerConfig& c) { c.require_client_cert = true; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--require-client-cert")));
  EXPECT_THAT(refused([](ServerConfig& c) {
                c.client_ca = "ca.crt";
                c.client_roles = "dash=writer";
              }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown client role")));
  EXPECT_THAT(refused([](ServerConfig& c) {
                c.certs_dir.clear();
                c.insecure = true;
                c.client_ca = "ca.crt";
              }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--client-ca needs TLS")));
  EXPECT_THAT(refused([](ServerConfig&) {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("/nonexistent")));
}

TEST(ConfigTest, TheDataQuotaIsBytesOrAShareOfTheMemoryLimit) {
  EXPECT_EQ(*ParseDataQuota("0", 0), 0u);
  EXPECT_EQ(*ParseDataQuota("1048576", 0), 1048576u);
  EXPECT_EQ(*ParseDataQuota("35%", 1073741824), 1073741824u / 100 * 35);
  EXPECT_EQ(*ParseDataQuota("100%", 1000), 1000u);
  for (const char* bad : {"", "-1", "1.5", "10MiB", "0%", "101%", "x%"}) {
    absl::StatusOr<uint64_t> q = ParseDataQuota(bad, 1000);
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(q.status().message(), ::testing::HasSubstr("--max-data-bytes")) << bad;
  }
  EXPECT_THAT(ParseDataQuota("35%", 0).status().message(),
              ::testing::HasSubstr("--memory-limit-bytes"));
  ServerConfig config;
  config.max_data_bytes = 123;
  EXPECT_EQ(StoreOptionsFor(config, "n1").max_data_bytes, 123u);
}

}  // namespace
}  // namespace meshkv
