// meshkv.v1.KeyValue end to end in one process: a real MeshkvServer on a
// port chosen by the kernel, real gRPC clients. Every RPC, every status code
// of kv.proto (docs/design.md, "Status codes"), and Watch under concurrency, slowness and shutdown.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "server/meshkv_server.h"
#include "store/store.h"
#include "tests/util/commit_recorder.h"
#include "tests/util/metric_value.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::MetricValue;
using ::meshkv::testing::WaitFor;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
namespace v1 = ::meshkv::v1;

// The revision of an empty store; the first change is kR0 + 1.
constexpr uint64_t kR0 = Store::kEmptyRevision;

v1::Value Bytes(absl::string_view b) {
  v1::Value v;
  v.set_bytes(std::string(b));
  return v;
}

class KvServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(Config()); }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static ServerConfig Config() {
    ServerConfig c;
    c.node_id = "node-a";
    c.grpc_addr = "127.0.0.1:0";
    c.mesh_addr = "127.0.0.1:0";
    c.metrics_addr = "";  // read through server_->metrics() instead
    c.insecure = true;    // the mesh is not what these tests are about
    return c;
  }

  void Start(const ServerConfig& config, Env* env = Env::Default()) {
    if (server_) server_->Shutdown();
    server_.reset();  // closes its data directory, which the next may open
    auto s = MeshkvServer::Start(config, env);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    channel_ = grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials());
    stub_ = v1::KeyValue::NewStub(channel_);
  }

  // A second node's write, delivered as the mesh would: node-b now owns key.
  void RemoteSet(const std::string& key, const std::string& value) {
    StoreOptions o;
    o.node_id = "node-b";
    testing::CommitRecorder out;
    Store other(o, Clock::Real(), {&out});
    ASSERT_TRUE(other.Set(key, ValueView::Bytes(value)).ok());
    ASSERT_TRUE(server_->node().Apply(out.last()[0], peer::ApplySource::kWrite).ok());
  }

  grpc::Status Set(const std::string& key, const v1::Value& value, v1::SetResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::SetRequest req;
    req.set_key(key);
    *req.mutable_value() = value;
    v1::SetResponse resp;
    grpc::Status s = stub_->Set(&ctx, req, &resp);
    if (out) *out = resp;
    return s;
  }

  v1::GetResponse Get(const std::string& key, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    grpc::Status s = stub_->Get(&ctx, req, &resp);
    if (status) *status = s;
    EXPECT_TRUE(status != nullptr || s.ok()) << s.error_message();
    return resp;
  }

  // All pages of a listing.
  std::vector<v1::ListResponse> List(const v1::ListRequest& req, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    auto reader = stub_->List(&ctx, req);
    std::vector<v1::ListResponse> pages;
    v1::ListResponse page;
    while (reader->Read(&page)) pages.push_back(page);
    grpc::Status s = reader->Finish();
    if (status) *status = s;
    EXPECT_TRUE(status != nullptr || s.ok()) << s.error_message();
    return pages;
  }

  static std::vector<std::string> Keys(const std::vector<v1::ListResponse>& pages) {
    std::vector<std::string> keys;
    for (const auto& p : pages) {
      for (const auto& e : p.entries()) keys.push_back(e.key());
    }
    return keys;
  }

  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return MetricValue(server_->metrics().Collect(), name, labels);
  }

  std::unique_ptr<MeshkvServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KeyValue::Stub> stub_;
};

// Reads a watch stream on its own thread and records what arrives.
class WatchReader {
 public:
  WatchReader(v1::KeyValue::Stub* stub, v1::WatchRequest req) {
    reader_ = stub->Watch(&ctx_, req);
    v1::WatchResponse created;
    created_ = reader_->Read(&created) && created.created();
    start_revision_ = created.revision();
    thread_ = std::thread([this] {
      v1::WatchResponse r;
      while (reader_->Read(&r)) {
        absl::MutexLock lock(&mu_);
        for (const auto& e : r.events()) events_.push_back(e);
        if (r.events_size() == 0) progress_.push_back(r.revision());
      }
      grpc::Status s = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = s;
      done_ = true;
    });
  }
  ~WatchReader() {
    ctx_.TryCancel();
    thread_.join();
  }
  bool created() const { return created_; }
  uint64_t start_revision() const { return start_revision_; }
  std::vector<v1::Event> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return events_.size();
  }
  // The revisions of the responses without events (progress notifications).
  std::vector<uint64_t> progress() {
    absl::MutexLock lock(&mu_);
    return progress_;
  }
  bool WaitForEvents(size_t n) {
    return WaitFor([&] { return size() >= n; }, absl::Seconds(20));
  }
  bool WaitForEnd(grpc::Status* status) {
    bool ended = WaitFor(
        [&] {
          absl::MutexLock lock(&mu_);
          return done_;
        },
        absl::Seconds(20));
    absl::MutexLock lock(&mu_);
    *status = status_;
    return ended;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> reader_;
  bool created_ = false;
  uint64_t start_revision_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::Event> events_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> progress_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

v1::WatchRequest WatchFrom(uint64_t start, const std::string& prefix = "", bool prev = false) {
  v1::WatchRequest r;
  r.set_start_revision(start);
  r.set_prefix(prefix);
  r.set_prev_value(prev);
  return r;
}

// --- Get / Set -----------------------------------------------------------------

TEST_F(KvServiceTest, SetThenGetReturnsTheValueAndMeta) {
  v1::SetResponse set;
  ASSERT_TRUE(Set("k", Bytes("v"), &set).ok());
  EXPECT_EQ(set.meta().owner(), "node-a");
  EXPECT_EQ(set.meta().revision(), kR0 + 1);
  EXPECT_GT(set.meta().lease_expires_ms(), set.meta().timestamp_ms());
  v1::GetResponse got = Get("k");
  ASSERT_TRUE(got.found());
  EXPECT_EQ(got.entry().key(), "k");
  EXPECT_EQ(got.entry().value().bytes(), "v");
  EXPECT_EQ(got.entry().meta().owner(), "node-a");
  EXPECT_EQ(got.revision(), kR0 + 1);
  EXPECT_FALSE(Get("absent").found());
}

TEST_F(KvServiceTest, BadArgumentsAreInvalidArgumentAndChangeNothing) {
  grpc::Status s;
  Get("", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Set("", Bytes("v")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Set(std::string(4097, 'k'), Bytes("v")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Set(std::string(4096, 'k'), Bytes("v")).ok());
  EXPECT_EQ(Set("big", Bytes(std::string((1 << 20) + 1, 'x'))).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Set("big", Bytes(std::string(1 << 20, 'x'))).ok());
  grpc::Status unset = Set("k", v1::Value());
  EXPECT_EQ(unset.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unset.error_message(), HasSubstr("value"));
  EXPECT_EQ(Get("k").revision(), kR0 + 2);  // only the two valid sets
}

TEST_F(KvServiceTest, EveryKeyedRpcRefusesAKeyOverTheLimit) {
  const std::string too_long(4097, 'k');
  grpc::Status s;
  Get(too_long, &s);  // no write can create it: not "not found"
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("the limit is 4096"));
  grpc::ClientContext del_ctx;
  v1::DeleteRequest del;
  del.set_key(too_long);
  v1::DeleteResponse del_resp;
  EXPECT_EQ(stub_->Delete(&del_ctx, del, &del_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext pop_ctx;
  v1::PopRequest pop;
  pop.set_key(too_long);
  v1::PopResponse pop_resp;
  EXPECT_EQ(stub_->Pop(&pop_ctx, pop, &pop_resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext delta_ctx;
  v1::ApplyDeltaRequest delta;
  delta.set_key(too_long);
  (*delta.mutable_delta()->mutable_fields())["f"] = "v";
  v1::ApplyDeltaResponse delta_resp;
  EXPECT_EQ(stub_->ApplyDelta(&delta_ctx, delta, &delta_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext update_ctx;
  v1::UpdateRequest update;
  update.add_items()->set_key(too_long);
  *update.mutable_items(0)->mutable_value() = Bytes("v");
  v1::UpdateResponse update_resp;
  EXPECT_EQ(stub_->Update(&update_ctx, update, &update_resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("k").revision(), kR0);  // nothing changed
}

// --- Conditional writes ------------------------------------------------------

// A Jepsen-style counter: clients increment one key through its owner (this
// node) by read-version-then-conditional-set. Every increment that is
// acknowledged must count: the final value is the number of successes. A
// lost update (a check not atomic with its write) would leave it lower.
TEST_F(KvServiceTest, ConcurrentConditionalIncrementsLoseNoUpdate) {
  constexpr int kClients = 4;
  const absl::Time end = absl::Now() + absl::Seconds(2);
  std::atomic<int> successes{0}, conflicts{0}, errors{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto stub = v1::KeyValue::NewStub(
          grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
      while (absl::Now() < end) {
        grpc::ClientContext get_ctx;
        v1::GetRequest get;
        get.set_key("counter");
        v1::GetResponse got;
        if (!stub->Get(&get_ctx, get, &got).ok()) {
          ++errors;
          continue;
        }
        v1::SetRequest set;
        set.set_key("counter");
        int n = 0;
        if (got.found()) {
          n = std::stoi(got.entry().value().bytes());
          *set.mutable_precondition()->mutable_version() = got.entry().meta().version();
        } else {
          set.mutable_precondition()->set_absent(true);
        }
        set.mutable_value()->set_bytes(std::to_string(n + 1));
        grpc::ClientContext set_ctx;
        v1::SetResponse resp;
        grpc::Status s = stub->Set(&set_ctx, set, &resp);
        if (s.ok()) {
          ++successes;
        } else if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          ++conflicts;
        } else {
          ++errors;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0);
  ASSERT_GT(successes.load(), 0);
  v1::GetResponse final_value = Get("counter");
  ASSERT_TRUE(final_value.found());
  EXPECT_EQ(final_value.entry().value().bytes(), std::to_string(successes.load()))
      << conflicts.load() << " conflicts";
}

TEST_F(KvServiceTest, FailedPreconditionNamesTheCurrentVersionAndChangesNothing) {
  v1::SetResponse first;
  ASSERT_TRUE(Set("k", Bytes("1"), &first).ok());
  EXPECT_EQ(first.meta().version().origin(), "node-a");
  EXPECT_GT(first.meta().version().hlc(), 0u);
  EXPECT_EQ(Get("k").entry().meta().version().hlc(), first.meta().version().hlc());

  grpc::ClientContext ctx;
  v1::SetRequest req;
  req.set_key("k");
  *req.mutable_value() = Bytes("2");
  req.mutable_precondition()->set_absent(true);
  v1::SetResponse resp;
  grpc::Status s = stub_->Set(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat(first.meta().version().hlc(), "/node-a")));
  EXPECT_EQ(Get("k").entry().value().bytes(), "1");

  grpc::ClientContext bad_ctx;
  req.mutable_precondition()->set_absent(false);
  EXPECT_EQ(stub_->Set(&bad_ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("k").revision(), kR0 + 1);
}

// With leasing off, a write merged from another node between a client's read
// and its conditional write makes the write fail on this node: the check is
// against everything this node holds when it writes.
TEST_F(KvServiceTest, WithLeasingOffAConditionalWriteSeesMergedWrites) {
  ServerConfig c = Config();
  c.leasing = false;
  Start(c);
  v1::SetResponse mine;
  ASSERT_TRUE(Set("k", Bytes("a"), &mine).ok());
  // node-b's write must be newer than ours to win the merge: within the same
  // millisecond the smaller origin (node-a) would win, so retry until it does.
  for (int i = 0; i < 1000 && Get("k").entry().value().bytes() != "b"; ++i) RemoteSet("k", "b");
  ASSERT_EQ(Get("k").entry().value().bytes(), "b");
  grpc::ClientContext ctx;
  v1::SetRequest req;
  req.set_key("k");
  *req.mutable_value() = Bytes("c");
  *req.mutable_precondition()->mutable_version() = mine.meta().version();
  v1::SetResponse resp;
  grpc::Status s = stub_->Set(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("/node-b"));
  EXPECT_EQ(Get("k").entry().value().bytes(), "b");
}

// --- Delete / Update / ApplyDelta / Pop / PopItem ----------------------------------

TEST_F(KvServiceTest, DeleteReturnsThePreviousEntryAndNotFoundWhenAbsent) {
  ASSERT_TRUE(Set("k", Bytes("v")).ok());
  grpc::ClientContext ctx;
  v1::DeleteRequest req;
  req.set_key("k");
  v1::DeleteResponse resp;
  ASSERT_TRUE(stub_->Delete(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.prev().value().bytes(), "v");
  EXPECT_EQ(resp.meta().revision(), kR0 + 2);
  EXPECT_FALSE(Get("k").found());
  grpc::ClientContext again;
  EXPECT_EQ(stub_->Delete(&again, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(KvServiceTest, LeaseOfAnotherNodeRefusesEveryWriteAndNamesOwnerAndExpiry) {
  RemoteSet("theirs", "b");
  grpc::Status s = Set("theirs", Bytes("a"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("node-b"));
  EXPECT_THAT(s.error_message(), HasSubstr("until 20"));

  v1::UpdateRequest update;
  auto* mine = update.add_items();
  mine->set_key("mine");
  *mine->mutable_value() = Bytes("1");
  auto* theirs = update.add_items();
  theirs->set_key("theirs");
  *theirs->mutable_value() = Bytes("2");
  grpc::ClientContext c1;
  v1::UpdateResponse ur;
  EXPECT_EQ(stub_->Update(&c1, update, &ur).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(Get("mine").found());  // all or nothing

  grpc::ClientContext c2, c3, c4;
  v1::DeleteRequest del;
  del.set_key("theirs");
  v1::DeleteResponse dr;
  EXPECT_EQ(stub_->Delete(&c2, del, &dr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::PopRequest pop;
  pop.set_key("theirs");
  v1::PopResponse pr;
  EXPECT_EQ(stub_->Pop(&c3, pop, &pr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::ApplyDeltaRequest delta;
  delta.set_key("theirs");
  v1::ApplyDeltaResponse ar;
  EXPECT_EQ(stub_->ApplyDelta(&c4, delta, &ar).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Get("theirs").entry().value().bytes(), "b");
  EXPECT_EQ(Metric("meshkv_lease_refused_total"), 5);
}

TEST_F(KvServiceTest, UpdateWritesEveryItem) {
  v1::UpdateRequest update;
  for (const char* k : {"array", "number"}) {
    auto* item = update.add_items();
    item->set_key(k);
    *item->mutable_value() = Bytes(k);
  }
  grpc::ClientContext ctx;
  v1::UpdateResponse resp;
  ASSERT_TRUE(stub_->Update(&ctx, update, &resp).ok());
  ASSERT_EQ(resp.metas_size(), 2);
  EXPECT_EQ(resp.metas(1).revision(), kR0 + 2);
  EXPECT_EQ(Get("number").entry().value().bytes(), "number");
}

TEST_F(KvServiceTest, ApplyDeltaCreatesMergesAndRefusesBytes) {
  v1::ApplyDeltaRequest req;
  req.set_key("m");
  (*req.mutable_delta()->mutable_fields())["a"] = "1";
  v1::ApplyDeltaResponse resp;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->ApplyDelta(&c1, req, &resp).ok());
  req.mutable_delta()->mutable_fields()->clear();
  (*req.mutable_delta()->mutable_fields())["b"] = "2";
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->ApplyDelta(&c2, req, &resp).ok());
  const auto& fields = resp.entry().value().mapping().fields();
  const std::map<std::string, std::string> got(fields.begin(), fields.end());
  EXPECT_THAT(got, ElementsAre(Pair("a", "1"), Pair("b", "2")));

  ASSERT_TRUE(Set("raw", Bytes("x")).ok());
  req.set_key("raw");
  grpc::ClientContext c3;
  grpc::Status s = stub_->ApplyDelta(&c3, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Get("raw").entry().value().bytes(), "x");
}

TEST_F(KvServiceTest, ApplyDeltaRemovesFieldsForReadsAndWatchers) {
  v1::ApplyDeltaRequest req;
  req.set_key("m");
  (*req.mutable_delta()->mutable_fields())["a"] = "1";
  (*req.mutable_delta()->mutable_fields())["b"] = "2";
  v1::ApplyDeltaResponse resp;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->ApplyDelta(&c1, req, &resp).ok());
  WatchReader watch(stub_.get(), WatchFrom(0, "m"));
  ASSERT_TRUE(watch.created());

  req.mutable_delta()->mutable_fields()->clear();
  (*req.mutable_delta()->mutable_fields())["c"] = "3";
  req.add_remove_fields("a");
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->ApplyDelta(&c2, req, &resp).ok());
  auto fields_of = [](const v1::Entry& e) {
    const auto& f = e.value().mapping().fields();
    return std::map<std::string, std::string>(f.begin(), f.end());
  };
  EXPECT_THAT(fields_of(resp.entry()), ElementsAre(Pair("b", "2"), Pair("c", "3")));
  EXPECT_THAT(fields_of(Get("m").entry()), ElementsAre(Pair("b", "2"), Pair("c", "3")));
  ASSERT_TRUE(watch.WaitForEvents(1));
  EXPECT_EQ(watch.events()[0].type(), v1::Event::UPDATE);
  EXPECT_THAT(fields_of(watch.events()[0].entry()), ElementsAre(Pair("b", "2"), Pair("c", "3")));

  // A field both set and removed is a mistake, refused whole.
  req.add_remove_fields("c");
  grpc::ClientContext c3;
  grpc::Status s = stub_->ApplyDelta(&c3, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("both set and removed"));
  EXPECT_THAT(fields_of(Get("m").entry()), ElementsAre(Pair("b", "2"), Pair("c", "3")));
}

// --- DeletePrefix --------------------------------------------------------------

grpc::Status DeletePrefixCall(v1::KeyValue::Stub* stub, const std::string& prefix, uint32_t limit,
                              v1::DeletePrefixResponse* resp) {
  grpc::ClientContext ctx;
  v1::DeletePrefixRequest req;
  req.set_prefix(prefix);
  req.set_limit(limit);
  return stub->DeletePrefix(&ctx, req, resp);
}

TEST_F(KvServiceTest, DeletePrefixDeletesEveryKeyUnderItWithOneEventEach) {
  for (const char* k : {"svc/a", "svc/b", "svc/c", "svcx", "zzz"})
    ASSERT_TRUE(Set(k, Bytes(k)).ok());
  WatchReader watch(stub_.get(), WatchFrom(0));
  ASSERT_TRUE(watch.created());
  v1::DeletePrefixResponse resp;
  grpc::Status s = DeletePrefixCall(stub_.get(), "svc/", 0, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.deleted_size(), 3);
  EXPECT_EQ(resp.deleted(0).key(), "svc/a");
  EXPECT_EQ(resp.deleted(2).key(), "svc/c");
  EXPECT_EQ(resp.deleted(0).meta().owner(), "node-a");
  EXPECT_EQ(resp.deleted(2).meta().revision(), kR0 + 8);
  EXPECT_FALSE(resp.deleted(0).has_value());  // keys and metas only
  EXPECT_FALSE(Get("svc/b").found());
  EXPECT_TRUE(Get("svcx").found());

  ASSERT_TRUE(watch.WaitForEvents(3));
  const std::vector<v1::Event> events = watch.events();
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].type(), v1::Event::DELETE);
    EXPECT_EQ(events[i].entry().key(), resp.deleted(i).key());
    EXPECT_EQ(events[i].entry().meta().revision(), kR0 + 6 + i);
  }

  // Nothing left under the prefix: an empty answer, nothing written.
  v1::DeletePrefixResponse again;
  ASSERT_TRUE(DeletePrefixCall(stub_.get(), "svc/", 0, &again).ok());
  EXPECT_EQ(again.deleted_size(), 0);
  EXPECT_EQ(Get("zzz").revision(), kR0 + 8);
}

TEST_F(KvServiceTest, DeletePrefixDeletesNothingWhenAnotherNodeLeasesOneKey) {
  ASSERT_TRUE(Set("job/1", Bytes("mine")).ok());
  RemoteSet("job/2", "theirs");
  ASSERT_TRUE(Set("job/3", Bytes("mine")).ok());
  v1::DeletePrefixResponse resp;
  grpc::Status s = DeletePrefixCall(stub_.get(), "job/", 0, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), AllOf(HasSubstr("job/2"), HasSubstr("leased by node-b")));
  EXPECT_TRUE(Get("job/1").found());
  EXPECT_TRUE(Get("job/3").found());
}

TEST_F(KvServiceTest, DeletePrefixOverTheLimitDeletesNothingAndSaysWhatToDo) {
  ServerConfig c = Config();
  c.max_delete_prefix_keys = 3;
  Start(c);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Set(absl::StrCat("t/", i), Bytes("v")).ok());
  v1::DeletePrefixResponse resp;
  // The server's maximum, whatever the request asks.
  grpc::Status s = DeletePrefixCall(stub_.get(), "t/", 100, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), AllOf(HasSubstr("4 keys under prefix"), HasSubstr("limit of 3"),
                                       HasSubstr("--max-delete-prefix-keys")));
  // The request's own, lower limit.
  s = DeletePrefixCall(stub_.get(), "t/", 2, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("limit of 2"));
  v1::ListRequest count;
  count.set_prefix("t/");
  count.set_count_only(true);
  EXPECT_EQ(List(count)[0].count(), 4u);
  // Under the limit it goes through.
  ASSERT_TRUE(DeletePrefixCall(stub_.get(), "t/3", 0, &resp).ok());
  ASSERT_TRUE(DeletePrefixCall(stub_.get(), "t/", 0, &resp).ok());
  EXPECT_EQ(resp.deleted_size(), 3);
}

TEST_F(KvServiceTest, PopAndPopItem) {
  ASSERT_TRUE(Set("b", Bytes("2")).ok());
  ASSERT_TRUE(Set("a", Bytes("1")).ok());
  RemoteSet("0-theirs", "x");  // first in key order, but not ours to delete
  v1::PopRequest pop;
  pop.set_key("b");
  v1::PopResponse popped;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->Pop(&c1, pop, &popped).ok());
  EXPECT_EQ(popped.entry().value().bytes(), "2");
  grpc::ClientContext c2;
  EXPECT_EQ(stub_->Pop(&c2, pop, &popped).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::PopItemResponse item;
  grpc::ClientContext c3;
  ASSERT_TRUE(stub_->PopItem(&c3, v1::PopItemRequest(), &item).ok());
  EXPECT_EQ(item.entry().key(), "a");
  grpc::ClientContext c4;
  EXPECT_EQ(stub_->PopItem(&c4, v1::PopItemRequest(), &item).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get("0-theirs").found());
}

// --- Expiring keys -----------------------------------------------------------------

// The real worker (watchers wake as in production) with a clock the test
// moves: expiry without sleeping.
class ManualClockEnv final : public Env {
 public:
  const Clock* clock() const override { return &clock_; }
  void Schedule(std::function<void()> work) override { Env::Default()->Schedule(std::move(work)); }
  ManualClock* manual_clock() { return &clock_; }

 private:
  ManualClock clock_{absl::ToUnixMillis(absl::Now())};
};

class KvServiceTtlTest : public KvServiceTest {
 protected:
  void SetUp() override { Start(Config(), env()); }
  // One per process, never deleted: servers of every test may still hold it
  // while they shut down.
  static ManualClockEnv* env() {
    static ManualClockEnv* env = new ManualClockEnv();
    return env;
  }
  static void Advance(absl::Duration d) { env()->manual_clock()->Advance(d); }

  grpc::Status SetWithTtl(const std::string& key, const std::string& value, int64_t ttl_ms,
                          v1::SetResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::SetRequest req;
    req.set_key(key);
    *req.mutable_value() = Bytes(value);
    req.set_ttl_ms(ttl_ms);
    v1::SetResponse resp;
    grpc::Status s = stub_->Set(&ctx, req, &resp);
    if (out) *out = resp;
    return s;
  }
  grpc::Status Touch(const std::string& key, int64_t ttl_ms, v1::TouchResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::TouchRequest req;
    req.set_key(key);
    req.set_ttl_ms(ttl_ms);
    v1::TouchResponse resp;
    grpc::Status s = stub_->Touch(&ctx, req, &resp);
    if (out) *out = resp;
    return s;
  }
};

TEST_F(KvServiceTtlTest, SetWithTtlIsFoundUntilItsExpiryThenNotFound) {
  v1::SetResponse set;
  ASSERT_TRUE(SetWithTtl("t/k", "v", 5000, &set).ok());
  EXPECT_EQ(set.meta().expires_ms(), set.meta().timestamp_ms() + 5000);
  v1::GetResponse got = Get("t/k");
  ASSERT_TRUE(got.found());
  EXPECT_EQ(got.entry().meta().expires_ms(), set.meta().expires_ms());
  EXPECT_EQ(got.entry().meta().lease_expires_ms(), set.meta().expires_ms());  // ends with it
  Advance(absl::Seconds(5));
  EXPECT_FALSE(Get("t/k").found());
  v1::ListRequest count;
  count.set_count_only(true);
  EXPECT_EQ(List(count)[0].count(), 0u);
  // A key without a ttl says so.
  ASSERT_TRUE(Set("p", Bytes("v"), &set).ok());
  EXPECT_EQ(set.meta().expires_ms(), 0);
}

TEST_F(KvServiceTtlTest, ANegativeTtlIsInvalidArgumentAndChangesNothing) {
  EXPECT_EQ(SetWithTtl("k", "v", -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext c1;
  v1::ApplyDeltaRequest delta;
  delta.set_key("k");
  delta.set_ttl_ms(-1);
  v1::ApplyDeltaResponse dr;
  EXPECT_EQ(stub_->ApplyDelta(&c1, delta, &dr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext c2;
  v1::UpdateRequest update;
  v1::SetRequest* item = update.add_items();
  item->set_key("k");
  *item->mutable_value() = Bytes("v");
  item->set_ttl_ms(-1);
  v1::UpdateResponse ur;
  EXPECT_EQ(stub_->Update(&c2, update, &ur).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Set("k", Bytes("v")).ok());
  EXPECT_EQ(Touch("k", -1).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("k").entry().meta().expires_ms(), 0);
}

TEST_F(KvServiceTtlTest, WatchSeesTheExpiryAsADeleteWithReasonExpired) {
  WatchReader w(stub_.get(), WatchFrom(0, "w/", /*prev=*/true));
  ASSERT_TRUE(w.created());
  ASSERT_TRUE(SetWithTtl("w/a", "1", 1000).ok());
  ASSERT_TRUE(w.WaitForEvents(1));
  Advance(absl::Seconds(1));
  // The maintenance loop (every 100 ms) sweeps it.
  ASSERT_TRUE(w.WaitForEvents(2));
  std::vector<v1::Event> events = w.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), v1::Event::UPDATE);
  EXPECT_EQ(events[0].reason(), v1::Event::WRITE);
  EXPECT_EQ(events[1].type(), v1::Event::DELETE);
  EXPECT_EQ(events[1].reason(), v1::Event::EXPIRED);
  EXPECT_EQ(events[1].entry().key(), "w/a");
  EXPECT_EQ(events[1].prev_value().bytes(), "1");
  EXPECT_EQ(Metric("meshkv_store_keys_expired_total"), 1);
  EXPECT_EQ(Metric("meshkv_store_keys_with_ttl"), 0);
  // A client's delete stays reason WRITE.
  ASSERT_TRUE(Set("w/b", Bytes("2")).ok());
  grpc::ClientContext ctx;
  v1::DeleteRequest del;
  del.set_key("w/b");
  v1::DeleteResponse dr;
  ASSERT_TRUE(stub_->Delete(&ctx, del, &dr).ok());
  ASSERT_TRUE(w.WaitForEvents(4));
  EXPECT_EQ(w.events()[3].reason(), v1::Event::WRITE);
}

TEST_F(KvServiceTtlTest, TouchExtendsRemovesTheExpiryAndIsNotFoundWhenAbsent) {
  EXPECT_EQ(Touch("nope", 1000).error_code(), grpc::StatusCode::NOT_FOUND);
  // Another node's lease refuses a Touch, as it refuses a Set. (Its write is
  // stamped by the real clock: checked before this test's clock moves on.)
  env()->manual_clock()->SetMs(absl::ToUnixMillis(absl::Now()));
  RemoteSet("theirs", "x");
  EXPECT_EQ(Touch("theirs", 1000).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(SetWithTtl("k", "v", 1000).ok());
  EXPECT_EQ(Metric("meshkv_store_keys_with_ttl"), 1);
  Advance(absl::Milliseconds(900));
  v1::TouchResponse touched;
  ASSERT_TRUE(Touch("k", 1000, &touched).ok());
  EXPECT_EQ(touched.meta().expires_ms(), touched.meta().timestamp_ms() + 1000);
  Advance(absl::Milliseconds(900));
  v1::GetResponse got = Get("k");
  ASSERT_TRUE(got.found());
  EXPECT_EQ(got.entry().value().bytes(), "v");
  ASSERT_TRUE(Touch("k", 0, &touched).ok());
  EXPECT_EQ(touched.meta().expires_ms(), 0);
  Advance(absl::Hours(2));
  EXPECT_TRUE(Get("k").found());
}

TEST_F(KvServiceTtlTest, ApplyDeltaAndUpdateTakeATtl) {
  grpc::ClientContext c1;
  v1::ApplyDeltaRequest delta;
  delta.set_key("m");
  (*delta.mutable_delta()->mutable_fields())["f"] = "1";
  delta.set_ttl_ms(1000);
  v1::ApplyDeltaResponse dr;
  ASSERT_TRUE(stub_->ApplyDelta(&c1, delta, &dr).ok());
  EXPECT_EQ(dr.entry().meta().expires_ms(), dr.entry().meta().timestamp_ms() + 1000);
  grpc::ClientContext c2;
  v1::UpdateRequest update;
  v1::SetRequest* item = update.add_items();
  item->set_key("u1");
  *item->mutable_value() = Bytes("v");
  item->set_ttl_ms(1000);
  item = update.add_items();
  item->set_key("u2");
  *item->mutable_value() = Bytes("v");
  v1::UpdateResponse ur;
  ASSERT_TRUE(stub_->Update(&c2, update, &ur).ok());
  EXPECT_NE(ur.metas(0).expires_ms(), 0);
  EXPECT_EQ(ur.metas(1).expires_ms(), 0);
  Advance(absl::Seconds(1));
  EXPECT_FALSE(Get("m").found());
  EXPECT_FALSE(Get("u1").found());
  EXPECT_TRUE(Get("u2").found());
}

TEST_F(KvServiceTtlTest, TheExpirySurvivesARestartFromTheDataDirectory) {
  std::string dir = "/tmp/meshkv-ttl-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  ServerConfig c = Config();
  c.data_dir = dir;
  Start(c, env());
  v1::SetResponse set;
  ASSERT_TRUE(SetWithTtl("lives", "v", 60'000, &set).ok());
  ASSERT_TRUE(SetWithTtl("dies", "v", 1000).ok());
  Advance(absl::Seconds(1));
  ASSERT_TRUE(
      WaitFor([&] { return Metric("meshkv_store_keys_expired_total") == 1; }, absl::Seconds(10)));
  Start(c, env());
  v1::GetResponse got = Get("lives");
  ASSERT_TRUE(got.found());
  EXPECT_EQ(got.entry().meta().expires_ms(), set.meta().expires_ms());
  EXPECT_FALSE(Get("dies").found());
  Advance(absl::Minutes(1));
  EXPECT_FALSE(Get("lives").found());
  server_->Shutdown();
  server_.reset();
  std::filesystem::remove_all(dir);
}

// --- List ----------------------------------------------------------------------------

TEST_F(KvServiceTest, ListStreamsInKeyOrderWithPrefixKeysOnlyLimitAndResume) {
  for (const char* k : {"b/2", "a", "b/1", "c"}) ASSERT_TRUE(Set(k, Bytes(k)).ok());
  v1::ListRequest all;
  auto pages = List(all);
  EXPECT_THAT(Keys(pages), ElementsAre("a", "b/1", "b/2", "c"));
  EXPECT_EQ(pages.back().revision(), kR0 + 4);
  EXPECT_FALSE(pages.back().more());
  EXPECT_EQ(pages[0].entries(0).value().bytes(), "a");

  v1::ListRequest prefix;
  prefix.set_prefix("b/");
  prefix.set_keys_only(true);
  pages = List(prefix);
  EXPECT_THAT(Keys(pages), ElementsAre("b/1", "b/2"));
  EXPECT_FALSE(pages[0].entries(0).has_value());
  EXPECT_EQ(pages[0].entries(0).meta().owner(), "node-a");

  v1::ListRequest limited;
  limited.set_limit(2);
  pages = List(limited);
  EXPECT_THAT(Keys(pages), ElementsAre("a", "b/1"));
  EXPECT_TRUE(pages.back().more());
  limited.set_start_after("b/1");
  pages = List(limited);
  EXPECT_THAT(Keys(pages), ElementsAre("b/2", "c"));
  EXPECT_FALSE(pages.back().more());

  v1::ListRequest none;
  none.set_prefix("zzz");
  pages = List(none);
  ASSERT_EQ(pages.size(), 1u);  // one empty page still carries the revision
  EXPECT_EQ(pages[0].revision(), kR0 + 4);
}

TEST_F(KvServiceTest, ListCountOnlyCountsLiveKeysUnderThePrefixWithoutEntries) {
  for (const char* k : {"b/2", "a", "b/1", "b/3", "c"}) ASSERT_TRUE(Set(k, Bytes(k)).ok());
  grpc::ClientContext ctx;
  v1::DeleteRequest del;
  del.set_key("b/3");
  v1::DeleteResponse del_resp;
  ASSERT_TRUE(stub_->Delete(&ctx, del, &del_resp).ok());

  v1::ListRequest req;
  req.set_count_only(true);
  req.set_prefix("b/");
  req.set_limit(1);  // ignored: a count is of every key under the prefix
  std::vector<v1::ListResponse> pages = List(req);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].count(), 2u);
  EXPECT_EQ(pages[0].entries_size(), 0);
  EXPECT_EQ(pages[0].revision(), kR0 + 6);
  req.clear_prefix();
  EXPECT_EQ(List(req)[0].count(), 4u);
  req.set_prefix("zzz");
  EXPECT_EQ(List(req)[0].count(), 0u);
}

TEST_F(KvServiceTest, ListOfManyKeysSpansPagesAndKeepsOneRevision) {
  for (int i = 0; i < 1500; ++i) ASSERT_TRUE(Set(absl::StrCat("k", 10000 + i), Bytes("v")).ok());
  auto pages = List(v1::ListRequest());
  EXPECT_GE(pages.size(), 3u);
  std::vector<std::string> keys = Keys(pages);
  ASSERT_EQ(keys.size(), 1500u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  for (const auto& p : pages) EXPECT_EQ(p.revision(), kR0 + 1500);
}

// --- Watch -------------------------------------------------------------------------------

TEST_F(KvServiceTest, WatchDeliversUpdatesAndDeletesWithPrevValue) {
  WatchReader w(stub_.get(), WatchFrom(0, "w/", /*prev=*/true));
  ASSERT_TRUE(w.created());
  ASSERT_TRUE(Set("w/a", Bytes("1")).ok());
  ASSERT_TRUE(Set("other", Bytes("x")).ok());
  ASSERT_TRUE(Set("w/a", Bytes("2")).ok());
  grpc::ClientContext ctx;
  v1::DeleteRequest del;
  del.set_key("w/a");
  v1::DeleteResponse dr;
  ASSERT_TRUE(stub_->Delete(&ctx, del, &dr).ok());
  ASSERT_TRUE(w.WaitForEvents(3));
  std::vector<v1::Event> events = w.events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type(), v1::Event::UPDATE);
  EXPECT_EQ(events[0].entry().value().bytes(), "1");
  EXPECT_FALSE(events[0].has_prev_value());
  EXPECT_EQ(events[1].entry().value().bytes(), "2");
  EXPECT_EQ(events[1].prev_value().bytes(), "1");
  EXPECT_EQ(events[2].type(), v1::Event::DELETE);
  EXPECT_EQ(events[2].entry().key(), "w/a");
  EXPECT_EQ(events[2].entry().meta().owner(), "node-a");
  EXPECT_EQ(events[2].prev_value().bytes(), "2");
  EXPECT_EQ(events[2].entry().meta().revision(), kR0 + 4);
}

TEST_F(KvServiceTest, WatchFiltersAndKeysOnlyDeliverWhatWasAskedFor) {
  v1::WatchRequest updates = WatchFrom(0, "f/");
  updates.set_filter(v1::WatchRequest::UPDATES);
  v1::WatchRequest deletes = WatchFrom(0, "f/", /*prev=*/true);
  deletes.set_filter(v1::WatchRequest::DELETES);
  deletes.set_keys_only(true);
  WatchReader u(stub_.get(), updates);
  WatchReader d(stub_.get(), deletes);
  WatchReader all(stub_.get(), WatchFrom(0, "f/"));
  ASSERT_TRUE(u.created() && d.created() && all.created());
  ASSERT_TRUE(Set("f/a", Bytes("1")).ok());
  grpc::ClientContext ctx;
  v1::DeleteRequest del;
  del.set_key("f/a");
  v1::DeleteResponse dr;
  ASSERT_TRUE(stub_->Delete(&ctx, del, &dr).ok());
  ASSERT_TRUE(Set("f/b", Bytes("2")).ok());
  ASSERT_TRUE(all.WaitForEvents(3));
  ASSERT_TRUE(u.WaitForEvents(2));
  ASSERT_TRUE(d.WaitForEvents(1));
  // The last change reached every stream: nothing more is coming.
  ASSERT_TRUE(Set("f/c", Bytes("3")).ok());
  ASSERT_TRUE(u.WaitForEvents(3));
  std::vector<v1::Event> ue = u.events();
  ASSERT_EQ(ue.size(), 3u);
  for (const v1::Event& e : ue) EXPECT_EQ(e.type(), v1::Event::UPDATE);
  EXPECT_EQ(ue[0].entry().value().bytes(), "1");
  EXPECT_EQ(ue[1].entry().key(), "f/b");
  std::vector<v1::Event> de = d.events();
  ASSERT_EQ(de.size(), 1u);
  EXPECT_EQ(de[0].type(), v1::Event::DELETE);
  EXPECT_EQ(de[0].entry().key(), "f/a");
  EXPECT_EQ(de[0].entry().meta().revision(), dr.meta().revision());
  EXPECT_FALSE(de[0].entry().has_value());
  EXPECT_FALSE(de[0].has_prev_value());  // keys only, even with prev_value
}

TEST_F(KvServiceTest, KeysOnlyUpdatesCarryKeyAndMetaButNoValue) {
  v1::WatchRequest req = WatchFrom(0, "k/");
  req.set_keys_only(true);
  WatchReader w(stub_.get(), req);
  ASSERT_TRUE(w.created());
  v1::SetResponse set;
  ASSERT_TRUE(Set("k/a", Bytes(std::string(1000, 'v')), &set).ok());
  ASSERT_TRUE(w.WaitForEvents(1));
  const v1::Event e = w.events()[0];
  EXPECT_EQ(e.type(), v1::Event::UPDATE);
  EXPECT_EQ(e.entry().key(), "k/a");
  EXPECT_FALSE(e.entry().has_value());
  EXPECT_EQ(e.entry().meta().revision(), set.meta().revision());
  EXPECT_EQ(e.entry().meta().owner(), "node-a");
}

TEST_F(KvServiceTest, AnIdleWatchGetsProgressNotificationsWithTheCurrentRevision) {
  v1::WatchRequest req = WatchFrom(0, "p/");
  req.set_progress_notify_ms(100);
  WatchReader w(stub_.get(), req);
  WatchReader quiet(stub_.get(), WatchFrom(0, "p/"));  // asked for none
  ASSERT_TRUE(w.created() && quiet.created());
  // Changes under other prefixes move the revision, not the stream.
  v1::SetResponse last;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Set(absl::StrCat("other/", i), Bytes("x"), &last).ok());
  const uint64_t head = last.meta().revision();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::vector<uint64_t> p = w.progress();
        return p.size() >= 2 && p.back() >= head;
      },
      absl::Seconds(20)))
      << w.progress().size();
  EXPECT_EQ(w.size(), 0u);
  for (uint64_t r : w.progress()) EXPECT_GE(r, w.start_revision());
  EXPECT_TRUE(quiet.progress().empty());
  // A resume from the notified revision misses nothing and repeats nothing.
  ASSERT_TRUE(Set("p/x", Bytes("1")).ok());
  WatchReader resumed(stub_.get(), WatchFrom(w.progress().back(), "p/"));
  ASSERT_TRUE(resumed.WaitForEvents(1));
  EXPECT_EQ(resumed.events()[0].entry().key(), "p/x");
}

TEST_F(KvServiceTest, WatchRefusesATooShortProgressIntervalAndAnUnknownFilter) {
  for (int bad = 0; bad < 2; ++bad) {
    v1::WatchRequest req = WatchFrom(0);
    if (bad == 0) req.set_progress_notify_ms(50);
    if (bad == 1) req.set_filter(static_cast<v1::WatchRequest::Filter>(7));
    grpc::ClientContext ctx;
    auto reader = stub_->Watch(&ctx, req);
    v1::WatchResponse r;
    EXPECT_FALSE(reader->Read(&r));
    grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr(bad == 0 ? "progress_notify_ms" : "filter"));
  }
}

TEST_F(KvServiceTest, WatchReplaysFromAStartRevision) {
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(Set("k", Bytes(absl::StrCat(i))).ok());
  WatchReader w(stub_.get(), WatchFrom(kR0 + 2));
  ASSERT_TRUE(w.created());
  EXPECT_EQ(w.start_revision(), kR0 + 2);
  ASSERT_TRUE(w.WaitForEvents(3));
  std::vector<v1::Event> events = w.events();
  EXPECT_EQ(events[0].entry().value().bytes(), "3");
  EXPECT_EQ(events[2].entry().value().bytes(), "5");
}

TEST_F(KvServiceTest, WatchFromBeforeTheHistoryIsOutOfRange) {
  ServerConfig c = Config();
  c.watch_history = 10;
  Start(c);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Set("k", Bytes(absl::StrCat(i))).ok());
  grpc::ClientContext ctx;
  auto reader = stub_->Watch(&ctx, WatchFrom(kR0 + 5));
  v1::WatchResponse r;
  EXPECT_FALSE(reader->Read(&r));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("list again"));
}

TEST_F(KvServiceTest, WatchSeesEveryChangeOnceInOrderUnderConcurrentWriters) {
  WatchReader w(stub_.get(), WatchFrom(0));
  ASSERT_TRUE(w.created());
  constexpr int kWriters = 4, kEach = 300;
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        EXPECT_TRUE(Set(absl::StrCat("w", t, "/", i % 17), Bytes(absl::StrCat(i))).ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_TRUE(w.WaitForEvents(kWriters * kEach)) << w.size();
  std::vector<v1::Event> events = w.events();
  ASSERT_EQ(events.size(), static_cast<size_t>(kWriters * kEach));
  for (size_t i = 0; i < events.size(); ++i) {
    // Revisions kR0 + 1..N, each exactly once, in order.
    ASSERT_EQ(events[i].entry().meta().revision(), kR0 + i + 1);
  }
}

TEST_F(KvServiceTest, ListThenWatchLosesNothing) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      Set(absl::StrCat("k", i % 50), Bytes(absl::StrCat(i)));
      if (i % 7 == 0) {
        grpc::ClientContext ctx;
        v1::DeleteRequest del;
        del.set_key(absl::StrCat("k", (i * 3) % 50));
        v1::DeleteResponse dr;
        stub_->Delete(&ctx, del, &dr);
      }
    }
  });
  ASSERT_TRUE(WaitFor([&] { return Get("k1").revision() > 200; }));
  // The client's view: a listing, then the changes after its revision.
  auto pages = List(v1::ListRequest());
  std::map<std::string, std::string> view;
  for (const auto& p : pages) {
    for (const auto& e : p.entries()) view[e.key()] = e.value().bytes();
  }
  WatchReader w(stub_.get(), WatchFrom(pages[0].revision()));
  ASSERT_TRUE(WaitFor([&] { return Get("k1").revision() > pages[0].revision() + 300; }));
  stop = true;
  writer.join();
  const uint64_t last = Get("k1").revision();
  ASSERT_TRUE(w.WaitForEvents(last - pages[0].revision()));
  for (const v1::Event& e : w.events()) {
    if (e.type() == v1::Event::DELETE) {
      view.erase(e.entry().key());
    } else {
      view[e.entry().key()] = e.entry().value().bytes();
    }
  }
  std::map<std::string, std::string> truth;
  for (const auto& p : List(v1::ListRequest())) {
    for (const auto& e : p.entries()) truth[e.key()] = e.value().bytes();
  }
  EXPECT_EQ(view, truth);
}

// A node that never changed still reports a revision Watch can start from:
// 0 would mean "from now" and lose a write landing between the two calls.
TEST_F(KvServiceTest, ListOfAnEmptyNodeThenWatchLosesNothing) {
  std::vector<v1::ListResponse> pages = List(v1::ListRequest());
  ASSERT_FALSE(pages.empty());
  const uint64_t listed = pages.back().revision();
  EXPECT_NE(listed, 0u);
  ASSERT_TRUE(Set("first", Bytes("1")).ok());  // lands between List and Watch
  WatchReader w(stub_.get(), WatchFrom(listed));
  ASSERT_TRUE(w.WaitForEvents(1));
  EXPECT_EQ(w.events()[0].entry().key(), "first");
}

// Tombstones of keys this node never had are in the history but no watcher
// sees them; more of them than one batch (512) must not hold back what
// follows until some later write wakes the stream.
TEST_F(KvServiceTest, WatchReplayReadsPastChangesNobodyCanSee) {
  ASSERT_TRUE(Set("first", Bytes("1")).ok());  // revision kR0 + 1: replay after it
  StoreOptions o;
  o.node_id = "node-b";
  testing::CommitRecorder out;
  Store other(o, Clock::Real(), {&out});
  for (int i = 0; i < 600; ++i) {
    const std::string key = absl::StrCat("never-here/", i);
    ASSERT_TRUE(other.Set(key, ValueView::Bytes("x")).ok());
    ASSERT_TRUE(other.Delete(key).ok());
    ASSERT_TRUE(server_->node().Apply(out.last()[0], peer::ApplySource::kWrite).ok());
  }
  RemoteSet("visible", "v");
  WatchReader w(stub_.get(), WatchFrom(kR0 + 1));
  ASSERT_TRUE(w.created());
  ASSERT_TRUE(w.WaitForEvents(1));
  EXPECT_EQ(w.events()[0].entry().key(), "visible");
}

// The server runs the store's maintenance by itself: lapsed leases are
// counted, expired tombstones collected.
TEST_F(KvServiceTest, MaintenanceCountsLapsedLeasesAndCollectsTombstones) {
  ServerConfig c = Config();
  c.lease_duration = absl::Seconds(1);
  c.tombstone_retention = absl::Milliseconds(1);
  c.maintain_every = absl::Milliseconds(1);  // a pass over all buckets: ~0.3 s
  Start(c);
  ASSERT_TRUE(Set("leased", Bytes("v")).ok());
  ASSERT_TRUE(Set("deleted", Bytes("v")).ok());
  grpc::ClientContext ctx;
  v1::DeleteRequest req;
  req.set_key("deleted");
  v1::DeleteResponse resp;
  ASSERT_TRUE(stub_->Delete(&ctx, req, &resp).ok());
  const Store& store = server_->node().store();
  constexpr int kSelf = static_cast<int>(LeaseOwner::kSelf);
  EXPECT_TRUE(WaitFor(
      [&] {
        StoreStats s = store.Stats();
        return s.tombstones == 0 && s.leases_expired[kSelf] == 1 && s.leases_active[kSelf] == 0;
      },
      absl::Seconds(10)));
  EXPECT_EQ(store.Stats().keys, 1u);
  EXPECT_EQ(Get("leased").entry().value().bytes(), "v");  // the value stays, unleased
}

TEST_F(KvServiceTest, SlowWatcherIsCutOffWhileWritesAndOtherWatchersGoOn) {
  ServerConfig c = Config();
  c.watch_max_lag = 200;
  Start(c);
  // The slow watcher registers, then never reads while the writes go on.
  grpc::ClientContext slow_ctx;
  auto slow = stub_->Watch(&slow_ctx, WatchFrom(0));
  v1::WatchResponse created;
  ASSERT_TRUE(slow->Read(&created));
  WatchReader fast(stub_.get(), WatchFrom(0));
  ASSERT_TRUE(fast.created());

  const std::string value(4096, 'v');
  int written = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 100; ++i, ++written) {
          EXPECT_TRUE(Set(absl::StrCat("k", written % 100), Bytes(value)).ok());
        }
        return Metric("meshkv_watch_cut_off_total") >= 1;
      },
      absl::Seconds(60), absl::Milliseconds(0)));
  // Writes go on after the cut, and the fast watcher sees every one of them.
  for (int i = 0; i < 100; ++i, ++written) ASSERT_TRUE(Set("after", Bytes("x")).ok());
  ASSERT_TRUE(fast.WaitForEvents(written));
  std::vector<v1::Event> events = fast.events();
  for (size_t i = 0; i < events.size(); ++i)
    ASSERT_EQ(events[i].entry().meta().revision(), kR0 + i + 1);

  // The slow client, reading at last, gets what was buffered, then the cut.
  v1::WatchResponse r;
  while (slow->Read(&r)) {
  }
  grpc::Status s = slow->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("behind"));
  EXPECT_TRUE(WaitFor([&] { return Metric("meshkv_watch_streams") == 1; }));
}

// --- Health, reflection, metrics, shutdown ---------------------------------------------------

TEST_F(KvServiceTest, HealthReportsServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const char* service : {"", "meshkv.v1.KeyValue"}) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_F(KvServiceTest, ReflectionListsTheServices) {
  // ServerReflectionRequest{list_services: ""} is field 7, empty string.
  const char kListServices[] = {0x3a, 0x00};
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  auto call = generic.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice slice(kListServices, sizeof(kListServices));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(bytes, HasSubstr("meshkv.v1.KeyValue"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  ctx.TryCancel();
  call->Finish(nullptr, reinterpret_cast<void*>(4));
  grpc::Status ignored;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(KvServiceTest, RequestsAreCountedUnderTheGrpcEcosystemNames) {
  ASSERT_TRUE(Set("k", Bytes("v")).ok());
  Get("k");
  grpc::ClientContext ctx;
  v1::DeleteRequest del;
  del.set_key("absent");
  v1::DeleteResponse dr;
  stub_->Delete(&ctx, del, &dr);
  grpc::ClientContext list_ctx;
  auto reader = stub_->List(&list_ctx, {});
  v1::ListResponse page;
  int pages = 0;
  while (reader->Read(&page)) ++pages;
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_GE(pages, 1);
  const std::map<std::string, std::string> set = {
      {"grpc_service", "meshkv.v1.KeyValue"}, {"grpc_method", "Set"}, {"grpc_type", "unary"}};
  EXPECT_EQ(Metric("grpc_server_started_total", set), 1);
  auto with_code = [](std::map<std::string, std::string> labels, const char* code) {
    labels["grpc_code"] = code;
    return labels;
  };
  EXPECT_EQ(Metric("grpc_server_handled_total", with_code(set, "OK")), 1);
  EXPECT_EQ(Metric("grpc_server_msg_received_total", set), 1);
  EXPECT_EQ(Metric("grpc_server_msg_sent_total", set), 1);
  // Codes as grpc-go spells them, which existing dashboards match.
  EXPECT_EQ(
      Metric("grpc_server_handled_total", {{"grpc_method", "Delete"}, {"grpc_code", "NotFound"}}),
      1);
  EXPECT_EQ(Metric("grpc_server_handling_seconds", {{"grpc_method", "Get"}}), 1);
  const std::map<std::string, std::string> list = {{"grpc_method", "List"},
                                                   {"grpc_type", "server_stream"}};
  EXPECT_EQ(Metric("grpc_server_handled_total", with_code(list, "OK")), 1);
  EXPECT_EQ(Metric("grpc_server_msg_received_total", list), 1);
  EXPECT_EQ(Metric("grpc_server_msg_sent_total", list), pages);
  // The old names are gone, not duplicated.
  EXPECT_EQ(Metric("meshkv_grpc_requests_total"), -1);
  EXPECT_EQ(Metric("meshkv_store_keys"), 1);
  EXPECT_EQ(Metric("meshkv_leases_active", {{"owner", "self"}}), 1);
}

TEST_F(KvServiceTest, ProcessMetricsDescribeThisProcess) {
  // The server runs in this test's process: its /proc/self is ours.
  EXPECT_GT(Metric("process_cpu_seconds_total"), 0);
  EXPECT_GT(Metric("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(Metric("process_virtual_memory_bytes"), Metric("process_resident_memory_bytes"));
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(Metric("process_max_fds"), static_cast<double>(limit.rlim_cur));
  // Opening a file shows in the count.
  const double fds = Metric("process_open_fds");
  EXPECT_GT(fds, 2);
  const int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Metric("process_open_fds"), fds + 1);
  close(fd);
  // Started in the past, not long ago (a test binary's life).
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  const double start = Metric("process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);
}

TEST_F(KvServiceTest, ShutdownEndsWatchesCleanlyAndStopsServing) {
  WatchReader w(stub_.get(), WatchFrom(0));
  ASSERT_TRUE(w.created());
  ASSERT_TRUE(Set("k", Bytes("v")).ok());
  ASSERT_TRUE(w.WaitForEvents(1));
  server_->Shutdown();
  grpc::Status s;
  ASSERT_TRUE(w.WaitForEnd(&s));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("shutting down"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::GetRequest req;
  req.set_key("k");
  v1::GetResponse resp;
  EXPECT_FALSE(stub_->Get(&ctx, req, &resp).ok());
}

}  // namespace
}  // namespace meshkv
