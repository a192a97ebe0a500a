// Real meshkv-server processes under too many streams: the node-wide Watch
// limit answers RESOURCE_EXHAUSTED (counted) while the node serves others and
// takes new watches once old ones close; one connection may open only
// --max-concurrent-streams at once; the memory of closed watch streams goes
// back to the system.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/status_matchers.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::SampleOf;
using ::meshkv::testing::ScrapeMetrics;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::StatusIs;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;
namespace v1 = ::meshkv::v1;

// A channel on a TCP connection of its own (channels with equal arguments
// would share one).
std::shared_ptr<grpc::Channel> OwnConnection(const std::string& addr, int id) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("meshkv.test.connection", id);
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
}

// One Watch RPC, held open until Close().
class OpenWatch {
 public:
  // Opens it and waits (up to `timeout`) for its `created` response.
  absl::Status Open(v1::KeyValue::Stub* stub, absl::Duration timeout = absl::Seconds(10)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    reader_ = stub->Watch(&ctx_, v1::WatchRequest());
    v1::WatchResponse resp;
    if (!reader_->Read(&resp)) {
      grpc::Status s = reader_->Finish();
      reader_.reset();
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    open_ = resp.created();
    return open_ ? absl::OkStatus() : absl::InternalError("first response is not `created`");
  }
  // The next response with events; false when the stream ends.
  bool NextEvents(v1::WatchResponse* resp) {
    while (reader_->Read(resp)) {
      if (resp->events_size() > 0) return true;
    }
    return false;
  }
  void Close() {
    if (!open_) return;
    ctx_.TryCancel();
    (void)reader_->Finish();
    open_ = false;
  }
  ~OpenWatch() { Close(); }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> reader_;
  bool open_ = false;
};

double Metric(const ServerProcess& node, const std::string& sample) {
  return SampleOf(ScrapeMetrics(node.metrics_port()), sample);
}

// Resident memory of `pid`, in bytes.
int64_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    int64_t kib = 0;
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream(line.substr(6)) >> kib;
      return kib * 1024;
    }
  }
  return -1;
}

TEST(GrpcLimitsProcessTest, TooManyWatchStreamsAreRefusedAndTheNodeServesOthers) {
  ServerProcess node({"--node-id=n1", "--max-watch-streams=100"});
  ASSERT_OK(node.Start());
  ASSERT_OK(node.WaitServing());
  auto stub = v1::KeyValue::NewStub(node.Channel());
  std::vector<std::unique_ptr<OpenWatch>> watches;
  for (int i = 0; i < 100; ++i) {
    watches.push_back(std::make_unique<OpenWatch>());
    ASSERT_OK(watches.back()->Open(stub.get())) << i;
  }
  OpenWatch refused;
  EXPECT_THAT(refused.Open(stub.get()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("100 Watch streams open, its limit (--max-watch-streams)")));
  EXPECT_EQ(Metric(node, "meshkv_watch_streams_refused_total"), 1);
  EXPECT_EQ(Metric(node, "meshkv_watch_streams"), 100);

  // The node still serves: writes, reads, and the watches that are open.
  Client c(node);
  ASSERT_TRUE(c.Set("k", "v").ok());
  EXPECT_TRUE(c.WaitValue("k", "v"));
  v1::WatchResponse events;
  ASSERT_TRUE(watches.front()->NextEvents(&events));
  EXPECT_EQ(events.events(0).entry().key(), "k");

  // Closed streams give their places back.
  watches.clear();
  ASSERT_TRUE(WaitFor([&] { return Metric(node, "meshkv_watch_streams") == 0; }));
  OpenWatch again;
  EXPECT_OK(again.Open(stub.get()));
  EXPECT_EQ(Metric(node, "meshkv_watch_streams_refused_total"), 1);
}

TEST(GrpcLimitsProcessTest, OneConnectionMayOpenOnlyMaxConcurrentStreams) {
  ServerProcess node({"--node-id=n1", "--max-concurrent-streams=4"});
  ASSERT_OK(node.Start());
  ASSERT_OK(node.WaitServing());
  auto busy = v1::KeyValue::NewStub(OwnConnection(node.grpc_addr(), 1));
  std::vector<std::unique_ptr<OpenWatch>> watches;
  for (int i = 0; i < 4; ++i) {
    watches.push_back(std::make_unique<OpenWatch>());
    ASSERT_OK(watches.back()->Open(busy.get())) << i;
  }
  // A fifth stream on that connection waits for a free one (the client
  // queues it: HTTP/2), while another connection is served at once.
  OpenWatch queued;
  EXPECT_THAT(queued.Open(busy.get(), absl::Milliseconds(500)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  Client other(OwnConnection(node.grpc_addr(), 2));
  ASSERT_TRUE(other.Set("k", "v").ok());
  // Once one closes, the connection takes a new stream.
  watches.front()->Close();
  OpenWatch next;
  EXPECT_OK(next.Open(busy.get()));
}

// 5,000 watch streams over 20 connections, then closed: the node's
// resident memory returns to near where it was.
TEST(GrpcLimitsProcessTest, MemoryOfClosedWatchStreamsIsReturned) {
  constexpr int kConnections = 20, kPerConnection = 250;
  ServerProcess node({"--node-id=n1"});
  ASSERT_OK(node.Start());
  ASSERT_OK(node.WaitServing());
  std::vector<std::unique_ptr<v1::KeyValue::Stub>> stubs;
  for (int i = 0; i < kConnections; ++i) {
    stubs.push_back(v1::KeyValue::NewStub(OwnConnection(node.grpc_addr(), i)));
  }
  auto round = [&](std::vector<std::unique_ptr<OpenWatch>>* watches) {
    for (auto& stub : stubs) {
      for (int j = 0; j < kPerConnection; ++j) {
        watches->push_back(std::make_unique<OpenWatch>());
        ASSERT_OK(watches->back()->Open(stub.get()));
      }
    }
  };
  // Every connection up, one watch each first: the baseline holds them.
  {
    std::vector<std::unique_ptr<OpenWatch>> warm;
    for (auto& stub : stubs) {
      warm.push_back(std::make_unique<OpenWatch>());
      ASSERT_OK(warm.back()->Open(stub.get()));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return Metric(node, "meshkv_watch_streams") == 0; }));
  const int64_t baseline = RssBytes(node.pid());
  std::vector<std::unique_ptr<OpenWatch>> watches;
  round(&watches);
  const int64_t open = RssBytes(node.pid());
  watches.clear();
  ASSERT_TRUE(WaitFor([&] { return Metric(node, "meshkv_watch_streams") == 0; }));
  // Returned memory shows in RSS once the node has trimmed its heap (next
  // maintenance step).
  int64_t closed = 0;
  const bool returned = WaitFor(
      [&] {
        closed = RssBytes(node.pid());
        return closed - baseline < (open - baseline) / 4;
      },
      absl::Seconds(5));
  std::cout << "RSS baseline " << baseline / 1024 << " KiB, " << kConnections * kPerConnection
            << " watches open " << open / 1024 << " KiB, closed " << closed / 1024 << " KiB\n";
  EXPECT_GT(open - baseline, 10 << 20) << "5000 streams should cost more than 10 MiB";
  EXPECT_TRUE(returned);
}

}  // namespace
}  // namespace meshkv
