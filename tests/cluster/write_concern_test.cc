// The write concern (min_replicas) against real meshkv-server processes on
// loopback, over the real mesh and real gRPC: what each answer promises.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::PeersOf;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::SizeIs;
namespace v1 = ::meshkv::v1;

// A Set through `node` asking `min_replicas`, with a deadline.
grpc::Status SetWithConcern(const ServerProcess& node, const std::string& key,
                            const std::string& value, uint32_t min_replicas,
                            absl::Duration deadline = absl::Seconds(10)) {
  auto stub = v1::KeyValue::NewStub(node.Channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  v1::SetRequest req;
  req.set_key(key);
  req.mutable_value()->set_bytes(value);
  req.set_min_replicas(min_replicas);
  v1::SetResponse resp;
  return stub->Set(&ctx, req, &resp);
}

class WriteConcernTest : public ::testing::Test {
 protected:
  ServerProcess& StartNode(std::vector<std::string> flags) {
    nodes_.push_back(std::make_unique<ServerProcess>(std::move(flags)));
    ServerProcess& n = *nodes_.back();
    absl::Status started = n.Start();
    EXPECT_TRUE(started.ok()) << started;
    absl::Status serving = n.WaitServing();
    EXPECT_TRUE(serving.ok()) << serving;
    return n;
  }
  // Three nodes, each connected to both others.
  void StartThree() {
    ServerProcess& n0 = StartNode({"--node-id=n0"});
    StartNode({"--node-id=n1", "--join=" + n0.mesh_addr()});
    StartNode({"--node-id=n2", "--join=" + n0.mesh_addr()});
    for (auto& n : nodes_) {
      ASSERT_TRUE(WaitFor([&] { return PeersOf(*n).size() == 2; }, absl::Seconds(20)))
          << n->node_id();
    }
  }
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

TEST_F(WriteConcernTest, MinReplicasOneAndTwoAreHeldElsewhereWhenAcknowledged) {
  StartThree();
  Client c1(*nodes_[1]), c2(*nodes_[2]);
  for (int k = 0; k < 20; ++k) {
    const std::string key = "two" + std::to_string(k);
    ASSERT_TRUE(SetWithConcern(*nodes_[0], key, "v", 2).ok()) << k;
    // Held means applied: both others answer with it at once, no waiting.
    ASSERT_TRUE(c1.Get(key).has_value()) << k;
    ASSERT_TRUE(c2.Get(key).has_value()) << k;
  }
  for (int k = 0; k < 20; ++k) {
    const std::string key = "one" + std::to_string(k);
    ASSERT_TRUE(SetWithConcern(*nodes_[0], key, "v", 1).ok()) << k;
    ASSERT_TRUE(c1.Get(key).has_value() || c2.Get(key).has_value()) << k;
  }
  // Writes nobody waits for still work, and cost no acknowledgement.
  ASSERT_TRUE(SetWithConcern(*nodes_[0], "zero", "v", 0).ok());
}

TEST_F(WriteConcernTest, AStoppedReplicaMakesMinReplicasTwoMissTheDeadlineButTheWriteLandsLater) {
  StartThree();
  ServerProcess& stopped = *nodes_[2];
  ASSERT_EQ(kill(stopped.pid(), SIGSTOP), 0);
  // One replica is enough.
  EXPECT_TRUE(SetWithConcern(*nodes_[0], "one", "v", 1, absl::Seconds(3)).ok());
  // Two are not: the answer names how many held it, before the client's
  // own deadline (so the message is the server's).
  const absl::Time start = absl::Now();
  grpc::Status s = SetWithConcern(*nodes_[0], "two", "v", 2, absl::Milliseconds(1500));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("1 of 2"));
  EXPECT_GE(took, absl::Milliseconds(1000));
  // Not rolled back: it is on the origin and the running replica already,
  // and reaches the stopped one once it runs again.
  Client c0(*nodes_[0]), c1(*nodes_[1]), c2(stopped);
  EXPECT_TRUE(c0.Get("two").has_value());
  EXPECT_TRUE(c1.WaitValue("two", "v"));
  ASSERT_EQ(kill(stopped.pid(), SIGCONT), 0);
  EXPECT_TRUE(c2.WaitValue("two", "v"));
  // And with every replica back, min_replicas=2 is met again.
  EXPECT_TRUE(SetWithConcern(*nodes_[0], "two-again", "v", 2).ok());
}

TEST_F(WriteConcernTest, AnIsolatedNodeFailsFastWithUnavailableAndWritesNothing) {
  ServerProcess& alone = StartNode({"--node-id=alone"});
  const absl::Time start = absl::Now();
  grpc::Status s = SetWithConcern(alone, "k", "v", 1, absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));  // no waiting out the deadline
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("isolated"));
  Client c(alone);
  EXPECT_FALSE(c.Get("k").has_value());
  EXPECT_TRUE(SetWithConcern(alone, "k", "v", 0).ok());  // this node only: fine
}

TEST_F(WriteConcernTest, ANodeWhosePeersAreKilledFailsFastToo) {
  StartThree();
  nodes_[1]->Kill();
  nodes_[2]->Kill();
  ASSERT_TRUE(WaitFor([&] { return PeersOf(*nodes_[0]).empty(); }, absl::Seconds(20)));
  grpc::Status s = SetWithConcern(*nodes_[0], "k", "v", 1, absl::Seconds(10));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  Client c(*nodes_[0]);
  EXPECT_FALSE(c.Get("k").has_value());
}

TEST_F(WriteConcernTest, MoreReplicasThanTheNodeKnowsFailFastAndTooManyIsInvalid) {
  StartThree();
  grpc::Status s = SetWithConcern(*nodes_[0], "k", "v", 3);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("knows 2 other nodes"));
  s = SetWithConcern(*nodes_[0], "k", "v", 100000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  Client c(*nodes_[0]);
  EXPECT_FALSE(c.Get("k").has_value());
}

TEST_F(WriteConcernTest, EveryWriteRpcTakesTheConcern) {
  StartThree();
  auto stub = v1::KeyValue::NewStub(nodes_[0]->Channel());
  Client c2(*nodes_[2]);
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return c;
  };
  {
    v1::UpdateRequest req;
    req.set_min_replicas(2);
    for (const char* k : {"u1", "u2"}) {
      v1::SetRequest* item = req.add_items();
      item->set_key(k);
      item->mutable_value()->set_bytes("v");
    }
    v1::UpdateResponse resp;
    ASSERT_TRUE(stub->Update(ctx().get(), req, &resp).ok());
    EXPECT_TRUE(c2.Get("u1").has_value());
    EXPECT_TRUE(c2.Get("u2").has_value());
    req.mutable_items(0)->set_min_replicas(1);  // on an item: refused
    grpc::Status s = stub->Update(ctx().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::ApplyDeltaRequest req;
    req.set_key("m");
    (*req.mutable_delta()->mutable_fields())["f"] = "1";
    req.set_min_replicas(2);
    v1::ApplyDeltaResponse resp;
    ASSERT_TRUE(stub->ApplyDelta(ctx().get(), req, &resp).ok());
    EXPECT_TRUE(c2.Get("m").has_value());
  }
  {
    v1::DeleteRequest req;
    req.set_key("u1");
    req.set_min_replicas(2);
    v1::DeleteResponse resp;
    ASSERT_TRUE(stub->Delete(ctx().get(), req, &resp).ok());
    EXPECT_FALSE(c2.Get("u1").has_value());
  }
  {
    v1::PopRequest req;
    req.set_key("u2");
    req.set_min_replicas(2);
    v1::PopResponse resp;
    ASSERT_TRUE(stub->Pop(ctx().get(), req, &resp).ok());
    EXPECT_FALSE(c2.Get("u2").has_value());
  }
  {
    v1::PopItemRequest req;
    req.set_min_replicas(2);
    v1::PopItemResponse resp;
    ASSERT_TRUE(stub->PopItem(ctx().get(), req, &resp).ok());
    EXPECT_FALSE(c2.Get(resp.entry().key()).has_value());
  }
  {
    v1::SetRequest set;
    set.set_key("t");
    set.mutable_value()->set_bytes("v");
    set.set_min_replicas(2);
    v1::SetResponse set_resp;
    ASSERT_TRUE(stub->Set(ctx().get(), set, &set_resp).ok());
    v1::TouchRequest req;
    req.set_key("t");
    req.set_ttl_ms(600000);
    req.set_min_replicas(2);
    v1::TouchResponse resp;
    ASSERT_TRUE(stub->Touch(ctx().get(), req, &resp).ok());
    EXPECT_EQ(c2.Get("t")->meta().expires_ms(), resp.meta().expires_ms());
  }
  {
    v1::DeletePrefixRequest req;
    req.set_prefix("t");
    req.set_min_replicas(2);
    v1::DeletePrefixResponse resp;
    ASSERT_TRUE(stub->DeletePrefix(ctx().get(), req, &resp).ok());
    EXPECT_FALSE(c2.Get("t").has_value());
    // One that deletes nothing has nothing to wait for: OK, not a deadline
    // spent waiting for acknowledgements that no write asked for.
    req.set_prefix("nothing-here/");
    grpc::Status s = stub->DeletePrefix(ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.deleted_size(), 0);
  }
}

TEST_F(WriteConcernTest, WithFsyncAlwaysTheReplicasAcknowledgeFromDisk) {
  std::vector<std::string> dirs;
  for (int i = 0; i < 3; ++i) {
    dirs.push_back(::testing::TempDir() + "/concern-" + std::to_string(getpid()) + "-" +
                   std::to_string(i));
  }
  ServerProcess& n0 = StartNode({"--node-id=n0", "--data-dir=" + dirs[0], "--fsync=always"});
  StartNode(
      {"--node-id=n1", "--join=" + n0.mesh_addr(), "--data-dir=" + dirs[1], "--fsync=always"});
  StartNode(
      {"--node-id=n2", "--join=" + n0.mesh_addr(), "--data-dir=" + dirs[2], "--fsync=always"});
  for (auto& n : nodes_) {
    ASSERT_TRUE(WaitFor([&] { return PeersOf(*n).size() == 2; }, absl::Seconds(20)));
  }
  for (int k = 0; k < 10; ++k) {
    ASSERT_TRUE(SetWithConcern(n0, "d" + std::to_string(k), "v", 2).ok()) << k;
  }
  // Killed at once, both replicas come back with every acknowledged write.
  nodes_[1]->Kill();
  nodes_[2]->Kill();
  ASSERT_TRUE(nodes_[1]->Wait().has_value());
  ASSERT_TRUE(nodes_[2]->Wait().has_value());
  n0.Kill();  // the origin too: only the replicas' disks are asked
  ASSERT_TRUE(n0.Wait().has_value());
  ServerProcess& back = StartNode({"--node-id=n1", "--data-dir=" + dirs[1], "--fsync=always"});
  Client c(back);
  for (int k = 0; k < 10; ++k) EXPECT_TRUE(c.Get("d" + std::to_string(k)).has_value()) << k;
}

}  // namespace
}  // namespace meshkv
