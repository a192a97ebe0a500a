// TLS and client roles on a real gRPC server (port 0) with real TLS clients;
// certificates made by scripts/certs.sh.
#include "server/grpc_credentials.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "server/convert.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_certs.h"

namespace meshkv {
namespace {

using ::meshkv::testing::IsOkAndHolds;
using ::meshkv::testing::StatusIs;
using ::meshkv::testing::TestCerts;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A stand-in for the KeyValue service: each handler asks the authorizer
// first, as the real one will, then answers from a one-key store.
class GuardedKeyValue final : public meshkv::v1::KeyValue::CallbackService {
 public:
  explicit GuardedKeyValue(const ClientAuthorizer* auth) : auth_(auth) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest*,
                                v1::GetResponse* resp) override {
    return Answer(ctx, "Get", [&] { resp->set_found(true); });
  }
  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* ctx, const v1::SetRequest*,
                                v1::SetResponse*) override {
    return Answer(ctx, "Set", [] {});
  }
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx, const v1::DeleteRequest*,
                                   v1::DeleteResponse*) override {
    return Answer(ctx, "Delete", [] {});
  }

 private:
  template <typename Fn>
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx, absl::string_view method,
                                   Fn fn) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess(method));
    if (s.ok()) fn();
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const ClientAuthorizer* auth_;  // Not owned
};

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new TestCerts();
    const std::string ca_key = certs_->Path("ca/ca.key");
    auto run = [](const std::vector<std::string>& args) { ASSERT_OK(certs_->Run(args)); };
    run({"create-ca", "--certs-dir", certs_->Path("ca")});
    run({"create-node", "--certs-dir", certs_->Path("n1"), "--ca-key", ca_key, "--node-id", "n1",
         "--host", "localhost", "--host", "127.0.0.1"});
    for (const char* name : {"dash", "app", "stranger"}) {
      run({"create-client", "--certs-dir", certs_->Path("n1"), "--ca-key", ca_key, "--name",
           name});
    }
    run({"create-ca", "--certs-dir", certs_->Path("other")});
    run({"create-client", "--certs-dir", certs_->Path("other"), "--name", "app"});
    run({"create-node", "--certs-dir", certs_->Path("old"), "--ca-key", ca_key, "--node-id", "n9",
         "--days", "-1"});
  }
  static void TearDownTestSuite() { delete certs_; }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Starts a server with TLS from n1's certs dir.
  void Start(bool client_ca, ClientCertPolicy policy = ClientCertPolicy::kRequire) {
    GrpcTlsOptions options;
    options.tls = peer::TlsFilesFromCertsDir(certs_->Path("n1"));
    if (client_ca) options.client_ca_file = certs_->Path("n1/ca.crt");
    options.policy = policy;
    auto creds = MakeGrpcServerCredentials(options);
    ASSERT_OK(creds.status());
    auto roles = ClientRoleTable::Parse("dash=read-only, app=read-write");
    ASSERT_OK(roles.status());
    auth_ = std::make_unique<ClientAuthorizer>(client_ca ? ClientAuth::kOn : ClientAuth::kOff,
                                               *std::move(roles));
    service_ = std::make_unique<GuardedKeyValue>(auth_.get());
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  // A TLS channel that trusts the cluster CA and presents `client` (a name
  // in certs dir `dir`, "node" for node.crt, or "" for no certificate).
  std::shared_ptr<grpc::Channel> Channel(const std::string& client, const std::string& dir = "n1") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Slurp(certs_->Path("n1/ca.crt"));
    if (client == "node") {
      o.pem_cert_chain = Slurp(certs_->Path(dir + "/node.crt"));
      o.pem_private_key = Slurp(certs_->Path(dir + "/node.key"));
    } else if (!client.empty()) {
      o.pem_cert_chain = Slurp(certs_->Path(dir + "/client." + client + ".crt"));
      o.pem_private_key = Slurp(certs_->Path(dir + "/client." + client + ".key"));
    }
    return grpc::CreateChannel(absl::StrCat("localhost:", port_), grpc::SslCredentials(o));
  }

  static absl::Status FromGrpc(const grpc::Status& s) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }
  static absl::Status Health(const std::shared_ptr<grpc::Channel>& ch) {
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    auto ctx = Ctx();
    return FromGrpc(grpc::health::v1::Health::NewStub(ch)->Check(ctx.get(), req, &resp));
  }
  static absl::Status Get(const std::shared_ptr<grpc::Channel>& ch) {
    v1::GetRequest req;
    v1::GetResponse resp;
    auto ctx = Ctx();
    req.set_key("k");
    return FromGrpc(v1::KeyValue::NewStub(ch)->Get(ctx.get(), req, &resp));
  }
  static absl::Status Set(const std::shared_ptr<grpc::Channel>& ch) {
    v1::SetRequest req;
    v1::SetResponse resp;
    auto ctx = Ctx();
    req.set_key("k");
    return FromGrpc(v1::KeyValue::NewStub(ch)->Set(ctx.get(), req, &resp));
  }
  static absl::Status Delete(const std::shared_ptr<grpc::Channel>& ch) {
    v1::DeleteRequest req;
    v1::DeleteResponse resp;
    auto ctx = Ctx();
    req.set_key("k");
    return FromGrpc(v1::KeyValue::NewStub(ch)->Delete(ctx.get(), req, &resp));
  }

  static TestCerts* certs_;
  int port_ = 0;
  std::unique_ptr<ClientAuthorizer> auth_;
  std::unique_ptr<GuardedKeyValue> service_;
  std::unique_ptr<grpc::Server> server_;
};
TestCerts* GrpcTlsTest::certs_ = nullptr;

TEST_F(GrpcTlsTest, ClientWithoutCertificateFailsTheHandshakeWhenOneIsRequired) {
  Start(/*client_ca=*/true);
  EXPECT_THAT(Health(Channel("")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Get(Channel("")), StatusIs(absl::StatusCode::kUnavailable));
  // Not vacuous: the same server answers a client with a certificate, and
  // a probe using the node's own certificate reaches Health (CN "node" has
  // no role, and Health needs none).
  EXPECT_OK(Health(Channel("dash")));
  EXPECT_OK(Health(Channel("node")));
  EXPECT_THAT(Get(Channel("node")),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no role")));
}

TEST_F(GrpcTlsTest, ReadOnlyClientMayReadButNotWrite) {
  Start(/*client_ca=*/true);
  auto dash = Channel("dash");
  EXPECT_OK(Get(dash));
  EXPECT_THAT(Set(dash), StatusIs(absl::StatusCode::kPermissionDenied,
                                  AllOf(HasSubstr("client dash"), HasSubstr("read-only"))));
  EXPECT_THAT(Delete(dash), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(GrpcTlsTest, ReadWriteClientMayWrite) {
  Start(/*client_ca=*/true);
  auto app = Channel("app");
  EXPECT_OK(Get(app));
  EXPECT_OK(Set(app));
  EXPECT_OK(Delete(app));
}

TEST_F(GrpcTlsTest, CertificateWithoutARoleMayDoNothingButHealth) {
  Start(/*client_ca=*/true);
  auto stranger = Channel("stranger");
  EXPECT_OK(Health(stranger));
  EXPECT_THAT(Get(stranger), StatusIs(absl::StatusCode::kPermissionDenied,
                                      HasSubstr("client stranger has no role")));
  EXPECT_THAT(Set(stranger), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(GrpcTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  Start(/*client_ca=*/true);
  // Named "app" like the read-write client: the name alone proves nothing.
  EXPECT_THAT(Set(Channel("app", "other")), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(GrpcTlsTest, RequestPolicyLetsProbesReachHealthWithoutACertificate) {
  Start(/*client_ca=*/true, ClientCertPolicy::kRequest);
  auto anonymous = Channel("");
  EXPECT_OK(Health(anonymous));
  EXPECT_THAT(Get(anonymous), StatusIs(absl::StatusCode::kUnauthenticated,
                                       HasSubstr("requires a client certificate")));
  EXPECT_THAT(Set(anonymous), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_OK(Get(Channel("dash")));
  EXPECT_THAT(Set(Channel("dash")), StatusIs(absl::StatusCode::kPermissionDenied));
  // A certificate that is sent is still verified.
  EXPECT_THAT(Get(Channel("app", "other")), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(GrpcTlsTest, WithoutClientCaEveryTlsClientMayWriteButPlaintextIsRefused) {
  Start(/*client_ca=*/false);
  EXPECT_OK(Set(Channel("")));
  auto plain = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
  EXPECT_THAT(Get(plain), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(GrpcTlsTest, UnusableFilesAreRefusedWithTheReason) {
  GrpcTlsOptions o;
  o.tls = peer::TlsFilesFromCertsDir(certs_->Path("n1"));
  o.tls.key_file = certs_->Path("n1/missing.key");
  EXPECT_THAT(MakeGrpcServerCredentials(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing.key")));
  o.tls = peer::TlsFilesFromCertsDir(certs_->Path("old"));
  EXPECT_THAT(MakeGrpcServerCredentials(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expired at")));
  o.tls = peer::TlsFilesFromCertsDir(certs_->Path("n1"));
  o.client_ca_file = certs_->Path("n1/node.key");
  EXPECT_THAT(MakeGrpcServerCredentials(o).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PEM certificate")));
}

TEST(ClientRoleTable, ParsesTheFlag) {
  auto t = ClientRoleTable::Parse("dash=read-only,app = read-write, ops=admin");
  ASSERT_OK(t.status());
  EXPECT_EQ(t->size(), 3u);
  EXPECT_EQ(t->Lookup("dash"), ClientRole::kReadOnly);
  EXPECT_EQ(t->Lookup("app"), ClientRole::kReadWrite);
  EXPECT_EQ(t->Lookup("ops"), ClientRole::kAdmin);
  EXPECT_EQ(t->Lookup("nobody"), ClientRole::kNone);
  EXPECT_THAT(ClientRoleTable::Parse(""), IsOkAndHolds(::testing::Property(&ClientRoleTable::size, 0u)));
  EXPECT_THAT(ClientRoleTable::Parse("a=writer"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown client role")));
  EXPECT_THAT(ClientRoleTable::Parse("a"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ClientRoleTable::Parse("=admin"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ClientRoleTable::Parse("a=admin,a=read-only"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST(Authorize, EachRoleMayDoWhatTheOnesBelowMay) {
  EXPECT_OK(Authorize(ClientRole::kNone, Access::kHealth, false));
  EXPECT_THAT(Authorize(ClientRole::kNone, Access::kRead, false),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Authorize(ClientRole::kNone, Access::kRead, true),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(Authorize(ClientRole::kReadOnly, Access::kRead));
  EXPECT_THAT(Authorize(ClientRole::kReadOnly, Access::kWrite),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("needs read-write")));
  EXPECT_OK(Authorize(ClientRole::kReadWrite, Access::kWrite));
  EXPECT_THAT(Authorize(ClientRole::kReadWrite, Access::kAdmin),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(Authorize(ClientRole::kAdmin, Access::kAdmin));
}

TEST(KeyValueMethodAccess, EveryMethodIsListedAndNewOnesAreClosed) {
  EXPECT_EQ(KeyValueMethodAccess("/meshkv.v1.KeyValue/Get"), Access::kRead);
  for (const char* m : {"Get", "List", "Watch", "Subscribe"}) {
    EXPECT_EQ(KeyValueMethodAccess(m), Access::kRead) << m;
  }
  for (const char* m : {"Set", "Delete", "Update", "ApplyDelta", "Pop", "PopItem", "Touch",
                        "DeletePrefix", "Publish"}) {
    EXPECT_EQ(KeyValueMethodAccess(m), Access::kWrite) << m;
  }
  EXPECT_EQ(KeyValueMethodAccess("Compact"), Access::kAdmin);
  // Every method the service has today is classified on purpose.
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("meshkv.v1.KeyValue");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    EXPECT_NE(KeyValueMethodAccess(service->method(i)->name()), Access::kAdmin)
        << service->method(i)->name();
  }
}

}  // namespace
}  // namespace meshkv
