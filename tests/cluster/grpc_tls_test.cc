// Real meshkv-server processes with TLS on the gRPC port and real TLS
// clients: a client without a certificate where one is required, a
// read-only client's writes, a certificate without a role, one from another
// CA. After each refusal the node still serves a client that may.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/host_port.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/server_process.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_certs.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::StatusIs;
using ::meshkv::testing::TestCerts;
using ::testing::HasSubstr;
namespace v1 = ::meshkv::v1;

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// Every RPC of the API once, on one channel, by what it needs.
class Caller {
 public:
  explicit Caller(std::shared_ptr<grpc::Channel> ch)
      : kv_(v1::KeyValue::NewStub(ch)),
        cluster_(v1::Cluster::NewStub(ch)),
        health_(grpc::health::v1::Health::NewStub(ch)),
        channel_(std::move(ch)) {}

  absl::Status Health() {
    grpc::health::v1::HealthCheckResponse resp;
    auto ctx = Ctx();
    return FromGrpc(health_->Check(ctx.get(), {}, &resp));
  }
  absl::Status Status() {
    v1::StatusResponse resp;
    auto ctx = Ctx();
    return FromGrpc(cluster_->Status(ctx.get(), {}, &resp));
  }
  absl::Status Get(const std::string& key, std::string* value = nullptr) {
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    auto ctx = Ctx();
    absl::Status s = FromGrpc(kv_->Get(ctx.get(), req, &resp));
    if (value != nullptr) *value = resp.found() ? resp.entry().value().bytes() : "";
    return s;
  }
  absl::Status List() {
    auto ctx = Ctx();
    auto reader = kv_->List(ctx.get(), {});
    v1::ListResponse resp;
    while (reader->Read(&resp)) {
    }
    return FromGrpc(reader->Finish());
  }
  absl::Status Set(const std::string& key, const std::string& value) {
    v1::SetRequest req;
    req.set_key(key);
    req.mutable_value()->set_bytes(value);
    v1::SetResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->Set(ctx.get(), req, &resp));
  }
  absl::Status Delete(const std::string& key) {
    v1::DeleteRequest req;
    req.set_key(key);
    v1::DeleteResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->Delete(ctx.get(), req, &resp));
  }
  absl::Status Update(const std::string& key, const std::string& value) {
    v1::UpdateRequest req;
    auto* item = req.add_items();
    item->set_key(key);
    item->mutable_value()->set_bytes(value);
    v1::UpdateResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->Update(ctx.get(), req, &resp));
  }
  absl::Status ApplyDelta(const std::string& key) {
    v1::ApplyDeltaRequest req;
    req.set_key(key);
    (*req.mutable_delta()->mutable_fields())["f"] = "x";
    v1::ApplyDeltaResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->ApplyDelta(ctx.get(), req, &resp));
  }
  absl::Status Pop(const std::string& key) {
    v1::PopRequest req;
    req.set_key(key);
    v1::PopResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->Pop(ctx.get(), req, &resp));
  }
  absl::Status PopItem() {
    v1::PopItemResponse resp;
    auto ctx = Ctx();
    return FromGrpc(kv_->PopItem(ctx.get(), {}, &resp));
  }
  // Asks gRPC reflection for the list of services; the raw response bytes
  // (which name the services), or the status that ended the call.
  absl::StatusOr<std::string> ReflectionListServices() {
    // ServerReflectionRequest{list_services: ""}: field 7, empty string.
    const char kListServices[] = {0x3a, 0x00};
    grpc::GenericStub generic(channel_);
    grpc::CompletionQueue cq;
    auto ctx = Ctx();
    auto call = generic.PrepareCall(
        ctx.get(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    void* tag;
    bool ok = false;
    auto step = [&] { return cq.Next(&tag, &ok) && ok; };
    grpc::Slice slice(kListServices, sizeof(kListServices));
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    call->StartCall(&tag);
    bool answered = step();
    if (answered) {
      call->Write(request, &tag);
      answered = step();
    }
    if (answered) {
      call->Read(&response, &tag);
      answered = step();
    }
    std::string bytes;
    if (answered) {
      std::vector<grpc::Slice> slices;
      if (!response.Dump(&slices).ok()) return absl::InternalError("cannot read the response");
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      ctx->TryCancel();
    }
    grpc::Status status;
    call->Finish(&status, &tag);
    cq.Next(&tag, &ok);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    if (answered) return bytes;
    return FromGrpc(status);
  }
  // Opens a watch on `prefix` and waits for its `created` response; a
  // refused watch gives its status.
  absl::Status StartWatch(const std::string& prefix) {
    watch_ctx_ = Ctx();
    v1::WatchRequest req;
    req.set_prefix(prefix);
    watch_ = kv_->Watch(watch_ctx_.get(), req);
    v1::WatchResponse resp;
    if (!watch_->Read(&resp)) return FromGrpc(watch_->Finish());
    return resp.created() ? absl::OkStatus() : absl::InternalError("no created response");
  }
  // The key of the next event the watch delivers; "" when it ends.
  std::string NextWatchedKey() {
    v1::WatchResponse resp;
    while (watch_->Read(&resp)) {
      if (resp.events_size() > 0) return resp.events(0).entry().key();
    }
    return "";
  }

 private:
  std::unique_ptr<v1::KeyValue::Stub> kv_;
  std::unique_ptr<v1::Cluster::Stub> cluster_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::ClientContext> watch_ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> watch_;
};

class GrpcTlsProcessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new TestCerts();
    const std::string ca_key = certs_->Path("ca/ca.key");
    auto run = [](const std::vector<std::string>& args) { ASSERT_OK(certs_->Run(args)); };
    run({"create-ca", "--certs-dir", certs_->Path("ca")});
    run({"create-node", "--certs-dir", certs_->Path("n1"), "--ca-key", ca_key, "--node-id", "n1",
         "--host", "127.0.0.1"});
    for (const char* name : {"dash", "app", "stranger"}) {
      run({"create-client", "--certs-dir", certs_->Path("n1"), "--ca-key", ca_key, "--name", name});
    }
    run({"create-ca", "--certs-dir", certs_->Path("other")});
    run({"create-client", "--certs-dir", certs_->Path("other"), "--name", "app"});
  }
  static void TearDownTestSuite() { delete certs_; }

  static std::string N1(const std::string& file) { return certs_->Path("n1/" + file); }

  // n1 with TLS from its certs dir, client certificates from the cluster CA
  // and the role table dash=read-only, app=read-write; `more` flags.
  ServerProcess& StartNode(std::vector<std::string> more = {}) {
    std::vector<std::string> flags = {"--node-id=n1", "--certs-dir=" + certs_->Path("n1"),
                                      "--client-ca=" + N1("ca.crt"),
                                      "--client-roles=dash=read-only,app=read-write"};
    for (auto& f : more) flags.push_back(std::move(f));
    node_ = std::make_unique<ServerProcess>(std::move(flags));
    EXPECT_OK(node_->Start());
    EXPECT_OK(node_->WaitServing()) << node_->Logs();
    return *node_;
  }
  std::shared_ptr<grpc::Channel> As(const std::string& client) const {
    if (client.empty()) return node_->ChannelAs("", "");
    if (client == "node") return node_->ChannelAs(N1("node.crt"), N1("node.key"));
    return node_->ChannelAs(N1("client." + client + ".crt"), N1("client." + client + ".key"));
  }
  // The node still serves: the read-write client writes and reads back.
  void ExpectServes() {
    Caller app(As("app"));
    const std::string value = absl::StrCat("v", ++probes_);
    ASSERT_OK(app.Set("probe", value));
    std::string got;
    ASSERT_OK(app.Get("probe", &got));
    EXPECT_EQ(got, value);
  }

  static TestCerts* certs_;
  std::unique_ptr<ServerProcess> node_;
  int probes_ = 0;
};
TestCerts* GrpcTlsProcessTest::certs_ = nullptr;

TEST_F(GrpcTlsProcessTest, ClientWithoutCertificateReachesHealthAndNothingElse) {
  ServerProcess& n1 = StartNode();
  Caller anonymous(As(""));
  EXPECT_OK(anonymous.Health());
  const auto unauthenticated =
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("requires a client certificate"));
  EXPECT_THAT(anonymous.Get("k"), unauthenticated);
  EXPECT_THAT(anonymous.List(), unauthenticated);
  EXPECT_THAT(anonymous.StartWatch(""), unauthenticated);
  EXPECT_THAT(anonymous.Status(), unauthenticated);
  EXPECT_THAT(anonymous.Set("k", "v"), unauthenticated);
  EXPECT_THAT(anonymous.Delete("k"), unauthenticated);
  EXPECT_THAT(anonymous.PopItem(), unauthenticated);
  // Reflection describes the API: reading it needs a role too. gRPC owns
  // that service, so the refusal is a cancel (server/service_access.h).
  EXPECT_THAT(anonymous.ReflectionListServices().status(), StatusIs(absl::StatusCode::kCancelled));
  // Plaintext does not reach a TLS port at all.
  Caller plain(grpc::CreateChannel(n1.grpc_addr(), grpc::InsecureChannelCredentials()));
  EXPECT_THAT(plain.Health(), StatusIs(absl::StatusCode::kUnavailable));
  ExpectServes();
  EXPECT_THAT(anonymous.Get("probe"), unauthenticated);
}

// A stranger who connects and never finishes the TLS handshake holds the
// socket only --grpc-handshake-timeout, not gRPC's two minutes.
TEST_F(GrpcTlsProcessTest, ConnectionThatNeverFinishesItsHandshakeIsClosed) {
  ServerProcess& n1 = StartNode({"--grpc-handshake-timeout=1s"});
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(n1.grpc_addr());
  ASSERT_OK(hp.status());
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(hp->second));
  ASSERT_EQ(inet_pton(AF_INET, hp->first.c_str(), &addr.sin_addr), 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const absl::Time start = absl::Now();
  // Silence from us; the server's close shows as end of stream (or a reset).
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, /*timeout_ms=*/30000), 1) << "still open after 30 s";
  char byte;
  EXPECT_LE(read(fd, &byte, 1), 0);
  const absl::Duration held = absl::Now() - start;
  close(fd);
  EXPECT_GE(held, absl::Milliseconds(500));
  EXPECT_LT(held, absl::Seconds(20)) << "closed after " << held;
  ExpectServes();
}

TEST_F(GrpcTlsProcessTest, RequiredCertificateIsAskedInTheHandshakeHealthIncluded) {
  // The probe in WaitServing presents the node's own certificate.
  node_ = std::make_unique<ServerProcess>(std::vector<std::string>{
      "--node-id=n1", "--certs-dir=" + certs_->Path("n1"), "--client-ca=" + N1("ca.crt"),
      "--client-roles=dash=read-only,app=read-write", "--require-client-cert"});
  node_->UseClientCertificate(N1("node.crt"), N1("node.key"));
  ASSERT_OK(node_->Start());
  ASSERT_OK(node_->WaitServing()) << node_->Logs();
  Caller anonymous(As(""));
  EXPECT_THAT(anonymous.Health(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(anonymous.Set("k", "v"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(Caller(As("node")).Health());
  ExpectServes();
}

TEST_F(GrpcTlsProcessTest, ReadOnlyClientReadsAndWatchesButCannotChangeAnything) {
  StartNode();
  Caller app(As("app"));
  ASSERT_OK(app.Set("k", "original"));
  Caller dash(As("dash"));
  const auto denied =
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("client dash: role read-only"));
  EXPECT_THAT(dash.Set("k", "changed"), denied);
  EXPECT_THAT(dash.Delete("k"), denied);
  EXPECT_THAT(dash.Update("k", "changed"), denied);
  EXPECT_THAT(dash.ApplyDelta("k"), denied);
  EXPECT_THAT(dash.Pop("k"), denied);
  EXPECT_THAT(dash.PopItem(), denied);
  // Nothing changed, and reading works.
  std::string value;
  ASSERT_OK(dash.Get("k", &value));
  EXPECT_EQ(value, "original");
  EXPECT_OK(dash.List());
  EXPECT_OK(dash.Status());
  absl::StatusOr<std::string> services = dash.ReflectionListServices();
  ASSERT_OK(services.status());
  EXPECT_THAT(*services, HasSubstr("meshkv.v1.KeyValue"));
  // A watch sees the read-write client's writes.
  ASSERT_OK(dash.StartWatch("w/"));
  ASSERT_OK(app.Set("w/1", "x"));
  EXPECT_EQ(dash.NextWatchedKey(), "w/1");
  ExpectServes();
}

TEST_F(GrpcTlsProcessTest, CertificateWithoutARoleGetsNothingButHealth) {
  StartNode();
  Caller stranger(As("stranger"));
  EXPECT_OK(stranger.Health());
  const auto denied =
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("client stranger has no role"));
  EXPECT_THAT(stranger.Get("k"), denied);
  EXPECT_THAT(stranger.List(), denied);
  EXPECT_THAT(stranger.StartWatch(""), denied);
  EXPECT_THAT(stranger.Status(), denied);
  EXPECT_THAT(stranger.ReflectionListServices().status(), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(stranger.Set("k", "v"), denied);
  EXPECT_THAT(stranger.Delete("k"), denied);
  // The node's own certificate (CN "node") is no client either.
  EXPECT_THAT(Caller(As("node")).Get("k"), StatusIs(absl::StatusCode::kPermissionDenied));
  ExpectServes();
}

TEST_F(GrpcTlsProcessTest, ClientCertificateFromAnotherCaIsRefusedWhateverItsName) {
  StartNode();
  Caller impostor(
      node_->ChannelAs(certs_->Path("other/client.app.crt"), certs_->Path("other/client.app.key")));
  EXPECT_THAT(impostor.Set("k", "v"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(impostor.Health(), StatusIs(absl::StatusCode::kUnavailable));
  ExpectServes();
}

TEST_F(GrpcTlsProcessTest, WithoutClientCaEveryTlsClientMayWriteAndTheLogSaysSo) {
  node_ = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--node-id=n1", "--certs-dir=" + certs_->Path("n1")});
  ASSERT_OK(node_->Start());
  ASSERT_OK(node_->WaitServing()) << node_->Logs();
  Caller anonymous(As(""));
  ASSERT_OK(anonymous.Set("k", "v"));
  EXPECT_OK(anonymous.Delete("k"));
  EXPECT_THAT(node_->Logs(), HasSubstr("gRPC runs TLS without client certificates"));
}

TEST_F(GrpcTlsProcessTest, SecurityFlagsThatCannotWorkStopTheNodeWithTheReason) {
  const struct {
    std::vector<std::string> flags;
    std::string message;
  } cases[] = {
      {{"--insecure", "--client-ca=" + N1("ca.crt")}, "--client-ca needs TLS"},
      {{"--certs-dir=" + certs_->Path("n1"), "--client-roles=dash=read-only"},
       "--client-roles needs --client-ca"},
      {{"--certs-dir=" + certs_->Path("n1"), "--client-ca=" + N1("ca.crt"),
        "--client-roles=dash=writer"},
       "unknown client role"},
      {{"--certs-dir=" + certs_->Path("n1"), "--client-ca=" + N1("missing.crt")}, "missing.crt"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> flags = c.flags;
    flags.push_back("--node-id=n1");
    ServerProcess n(flags);
    EXPECT_FALSE(n.Start().ok());
    EXPECT_EQ(n.Wait(absl::Seconds(10)), 1) << n.Logs();
    EXPECT_THAT(n.Logs(), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace meshkv
