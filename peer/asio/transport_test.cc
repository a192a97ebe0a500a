// Real TLS handshakes over loopback between two transports, with
// certificates made by scripts/certs.sh: who is let in, who is refused, and
// the reason each side gives.
#include "peer/asio/transport.h"

#include <openssl/ssl.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/ssl/context.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "peer/asio/tls_context.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_certs.h"

namespace meshkv::peer {
namespace {

using ::meshkv::testing::IsOk;
using ::meshkv::testing::IsOkAndHolds;
using ::meshkv::testing::StatusIs;
using ::meshkv::testing::TestCerts;
using ::testing::AllOf;
using ::testing::HasSubstr;
using asio::ip::tcp;

// One cluster CA with nodes n1, n2, "node 3/é" (an ID that needs escaping), an
// expired node, a client; and a second CA with its own "n1".
class CertsFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new TestCerts();
    const std::string ca_key = certs_->Path("ca/ca.key");
    auto run = [](const std::vector<std::string>& args) { ASSERT_OK(certs_->Run(args)); };
    run({"create-ca", "--certs-dir", certs_->Path("ca")});
    for (const char* id : {"n1", "n2"}) {
      run({"create-node", "--certs-dir", certs_->Path(id), "--ca-key", ca_key, "--node-id", id,
           "--host", "127.0.0.1", "--host", "localhost"});
    }
    run({"create-node", "--certs-dir", certs_->Path("odd"), "--ca-key", ca_key, "--node-id",
         "node 3/\xc3\xa9"});
    run({"create-node", "--certs-dir", certs_->Path("expired"), "--ca-key", ca_key, "--node-id",
         "n4", "--days", "-1"});
    run({"create-client", "--certs-dir", certs_->Path("clients"), "--ca-key", ca_key, "--name",
         "dash"});
    run({"create-ca", "--certs-dir", certs_->Path("other-ca")});
    run({"create-node", "--certs-dir", certs_->Path("other-n1"), "--ca-key",
         certs_->Path("other-ca/ca.key"), "--node-id", "n1"});
    // Two node IDs in one certificate: certs.sh never makes one; openssl can.
    ASSERT_OK(TestCerts::Shell(absl::StrCat(
        "cd ", TestCerts::Quote(certs_->dir()), " && mkdir two && ",
        "openssl req -new -key n1/node.key -subj /CN=two -out two/csr && ",
        "printf 'subjectAltName=URI:urn:meshkv:node:a,URI:urn:meshkv:node:b\\n' > two/ext && ",
        "openssl x509 -req -in two/csr -CA ca/ca.crt -CAkey ca/ca.key -CAcreateserial ",
        "-days 1 -extfile two/ext -out two/node.crt && cp n1/node.key two/node.key && ",
        "cp ca/ca.crt two/ca.crt")));
  }
  static void TearDownTestSuite() { delete certs_; }

  static std::string Dir(const std::string& name) { return certs_->Path(name); }
  static TransportFactory Tls(const std::string& name) {
    auto ctx = MakeMeshTlsContext(TlsFilesFromCertsDir(Dir(name)));
    EXPECT_OK(ctx.status());
    return TransportFactory::Tls(*ctx);
  }
  // A context as MakeMeshTlsContext would make it, but skipping its checks of
  // our own files: an attacker's (or a stale node's) side.
  static TransportFactory RawTls(const std::string& ca, const std::string& cert,
                                 const std::string& key) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_3_VERSION);
    asio::error_code ec;
    ctx->load_verify_file(ca, ec);
    EXPECT_FALSE(ec) << ec.message();
    if (!cert.empty()) {
      ctx->use_certificate_chain_file(cert, ec);
      EXPECT_FALSE(ec) << ec.message();
      ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
      EXPECT_FALSE(ec) << ec.message();
    }
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    return TransportFactory::Tls(ctx);
  }

  static TestCerts* certs_;
};
TestCerts* CertsFixture::certs_ = nullptr;

// What each side saw: the handshake's status, the peer's node ID, and the
// status of the exchange after it (the client sends a line, the server
// answers one; both through the same AsyncReadSome/AsyncWrite).
struct Outcome {
  std::optional<absl::Status> server, client;
  std::string server_saw_id, client_saw_id;
  absl::Status server_io, client_io;
  std::string server_got, client_got;
};

Outcome Connect(const TransportFactory& server_side, const TransportFactory& client_side) {
  Outcome out;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::shared_ptr<Transport> s = server_side.New(io);
  std::shared_ptr<Transport> c = client_side.New(io);
  char server_buf[64], client_buf[64];
  const std::string hello = "hello, peer\n", answer = "welcome\n";

  acceptor.async_accept(s->socket(), [&](const asio::error_code& ec) {
    ASSERT_FALSE(ec) << ec.message();
    s->AsyncHandshake(Transport::Side::kServer, [&](absl::Status st) {
      out.server = st;
      if (!st.ok()) return s->Close();
      out.server_saw_id = s->peer_node_id();
      s->AsyncReadSome(asio::buffer(server_buf), [&](const asio::error_code& ec, size_t n) {
        if (ec) {
          out.server_io = s->ErrorStatus(ec);
          return s->Close();
        }
        out.server_got.assign(server_buf, n);
        s->AsyncWrite(asio::buffer(answer), [&](const asio::error_code& ec, size_t) {
          if (ec) out.server_io = s->ErrorStatus(ec);
        });
      });
    });
  });
  c->socket().async_connect(acceptor.local_endpoint(), [&](const asio::error_code& ec) {
    ASSERT_FALSE(ec) << ec.message();
    c->AsyncHandshake(Transport::Side::kClient, [&](absl::Status st) {
      out.client = st;
      if (!st.ok()) return c->Close();
      out.client_saw_id = c->peer_node_id();
      c->AsyncWrite(asio::buffer(hello), [&](const asio::error_code& ec, size_t) {
        if (ec) out.client_io = c->ErrorStatus(ec);
      });
      c->AsyncReadSome(asio::buffer(client_buf), [&](const asio::error_code& ec, size_t n) {
        if (ec) {
          out.client_io = c->ErrorStatus(ec);
        } else {
          out.client_got.assign(client_buf, n);
        }
        c->Close();
      });
    });
  });
  io.run_for(std::chrono::seconds(20));
  return out;
}

TEST_F(CertsFixture, PlainTcpRunsTheSameReadWriteCode) {
  Outcome o = Connect(TransportFactory::Plain(), TransportFactory::Plain());
  ASSERT_TRUE(o.server.has_value() && o.client.has_value());
  EXPECT_OK(*o.server);
  EXPECT_OK(*o.client);
  EXPECT_EQ(o.server_got, "hello, peer\n");
  EXPECT_EQ(o.client_got, "welcome\n");
  EXPECT_EQ(o.server_saw_id, "");  // plain TCP proves nothing
  EXPECT_FALSE(TransportFactory::Plain().secure());
}

TEST_F(CertsFixture, MembersHandshakeAndLearnEachOthersNodeId) {
  Outcome o = Connect(Tls("n1"), Tls("n2"));
  ASSERT_TRUE(o.server.has_value() && o.client.has_value());
  EXPECT_OK(*o.server);
  EXPECT_OK(*o.client);
  EXPECT_EQ(o.server_saw_id, "n2");
  EXPECT_EQ(o.client_saw_id, "n1");
  EXPECT_EQ(o.server_got, "hello, peer\n");
  EXPECT_EQ(o.client_got, "welcome\n");
  EXPECT_OK(o.server_io);
  EXPECT_OK(o.client_io);
}

TEST_F(CertsFixture, NodeIdIsPercentDecodedFromTheCertificate) {
  Outcome o = Connect(Tls("n1"), Tls("odd"));
  ASSERT_TRUE(o.server.has_value());
  EXPECT_OK(*o.server);
  EXPECT_EQ(o.server_saw_id, "node 3/\xc3\xa9");
}

TEST_F(CertsFixture, ClientWithoutCertificateIsRefused) {
  Outcome o = Connect(Tls("n1"), RawTls(Dir("n1/ca.crt"), "", ""));
  ASSERT_TRUE(o.server.has_value());
  EXPECT_THAT(*o.server,
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no certificate")));
  EXPECT_EQ(o.server_got, "");
  // TLS 1.3: the client learns it on its first read at the latest.
  const absl::Status client = o.client->ok() ? o.client_io : *o.client;
  EXPECT_THAT(client, StatusIs(absl::StatusCode::kUnauthenticated,
                               HasSubstr("requires a certificate")));
  EXPECT_EQ(o.client_got, "");
}

TEST_F(CertsFixture, CertificateFromAnotherCaIsRefused) {
  Outcome o = Connect(Tls("n1"), RawTls(Dir("n1/ca.crt"), Dir("other-n1/node.crt"),
                                        Dir("other-n1/node.key")));
  ASSERT_TRUE(o.server.has_value());
  EXPECT_THAT(*o.server, StatusIs(absl::StatusCode::kUnauthenticated,
                                  HasSubstr("not signed by the cluster CA")));
  const absl::Status client = o.client->ok() ? o.client_io : *o.client;
  EXPECT_THAT(client, StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown CA")));
  EXPECT_EQ(o.server_got, "");
}

TEST_F(CertsFixture, ServerFromAnotherCaIsRefusedByTheDialer) {
  Outcome o = Connect(RawTls(Dir("other-n1/ca.crt"), Dir("other-n1/node.crt"),
                             Dir("other-n1/node.key")),
                      Tls("n2"));
  ASSERT_TRUE(o.client.has_value());
  EXPECT_THAT(*o.client, StatusIs(absl::StatusCode::kUnauthenticated,
                                  HasSubstr("not signed by the cluster CA")));
  EXPECT_EQ(o.client_got, "");
}

TEST_F(CertsFixture, ExpiredCertificateIsRefusedNamingTheExpiry) {
  auto cert = LoadCertificate(Dir("expired/node.crt"));
  ASSERT_OK(cert.status());
  const std::string expiry = FormatAsn1Time(X509_get0_notAfter(cert->get()));
  Outcome o = Connect(Tls("n1"), RawTls(Dir("expired/ca.crt"), Dir("expired/node.crt"),
                                        Dir("expired/node.key")));
  ASSERT_TRUE(o.server.has_value());
  EXPECT_THAT(*o.server, StatusIs(absl::StatusCode::kUnauthenticated,
                                  AllOf(HasSubstr("expired at"), HasSubstr(expiry))));
  const absl::Status client = o.client->ok() ? o.client_io : *o.client;
  EXPECT_THAT(client, StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
  // And a node is not started on an expired certificate of its own.
  EXPECT_THAT(MakeMeshTlsContext(TlsFilesFromCertsDir(Dir("expired"))).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("node.crt expired at"), HasSubstr(expiry))));
}

TEST_F(CertsFixture, ClientCertificateOfTheSameCaDoesNotMakeAMember) {
  Outcome o = Connect(Tls("n1"), RawTls(Dir("clients/ca.crt"), Dir("clients/client.dash.crt"),
                                        Dir("clients/client.dash.key")));
  ASSERT_TRUE(o.server.has_value());
  EXPECT_THAT(*o.server, StatusIs(absl::StatusCode::kUnauthenticated,
                                  HasSubstr("not a node certificate")));
  const absl::Status client = o.client->ok() ? o.client_io : *o.client;
  EXPECT_THAT(client, StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("refused")));
  EXPECT_EQ(o.server_got, "");
}

TEST_F(CertsFixture, PlaintextPeerOfATlsNodeIsTold) {
  Outcome o = Connect(Tls("n1"), TransportFactory::Plain());
  ASSERT_TRUE(o.server.has_value());
  EXPECT_THAT(*o.server, StatusIs(absl::StatusCode::kUnauthenticated,
                                  HasSubstr("does not speak TLS")));
  EXPECT_EQ(o.server_got, "");
}

TEST_F(CertsFixture, HelloClaimingAnotherIdThanTheCertificateIsRefused) {
  auto cert = LoadCertificate(Dir("n2/node.crt"));
  ASSERT_OK(cert.status());
  EXPECT_OK(CheckPeerNodeId(cert->get(), "n2"));
  EXPECT_THAT(CheckPeerNodeId(cert->get(), "n1"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("\"n1\""), HasSubstr("names \"n2\""))));
  EXPECT_THAT(CheckPeerNodeId(cert->get(), std::string("n1\0x", 4)),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("(unprintable)")));
  EXPECT_THAT(CheckPeerNodeId(nullptr, "n2"), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(CertsFixture, CertificatesNamingNoneOrSeveralNodeIdsAreRefused) {
  auto client = LoadCertificate(Dir("clients/client.dash.crt"));
  ASSERT_OK(client.status());
  EXPECT_THAT(NodeIdFromCertificate(client->get()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("names no node ID")));
  auto two = LoadCertificate(Dir("two/node.crt"));
  ASSERT_OK(two.status());
  EXPECT_THAT(NodeIdFromCertificate(two->get()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("several node IDs")));
  // And such a certificate does not get through a handshake either.
  Outcome o = Connect(Tls("n1"), Tls("two"));
  ASSERT_TRUE(o.server.has_value());
  EXPECT_THAT(*o.server, StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("several")));
}

TEST_F(CertsFixture, AdvertisedHostMustBeOneOfTheCertificatesHosts) {
  auto cert = LoadCertificate(Dir("n1/node.crt"));
  ASSERT_OK(cert.status());
  EXPECT_OK(CheckCertificateHost(cert->get(), "127.0.0.1"));
  EXPECT_OK(CheckCertificateHost(cert->get(), "localhost"));
  EXPECT_THAT(CheckCertificateHost(cert->get(), "10.0.0.9"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("10.0.0.9")));
  EXPECT_THAT(CheckCertificateHost(cert->get(), "evil.example"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(CertsFixture, FilesAreCheckedBeforeAnythingRuns) {
  EXPECT_OK(CheckTlsFiles(TlsFilesFromCertsDir(Dir("n1"))));
  TlsFiles missing = TlsFilesFromCertsDir(Dir("n1"));
  missing.key_file = Dir("n1/nope.key");
  EXPECT_THAT(CheckTlsFiles(missing),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nope.key")));
  TlsFiles wrong_key = TlsFilesFromCertsDir(Dir("n1"));
  wrong_key.key_file = Dir("n2/node.key");
  EXPECT_THAT(CheckTlsFiles(wrong_key),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not the key of")));
  TlsFiles wrong_ca = TlsFilesFromCertsDir(Dir("n1"));
  wrong_ca.ca_file = Dir("other-ca/ca.crt");
  EXPECT_THAT(MakeMeshTlsContext(wrong_ca).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not chain to")));
}

TEST(ResolveTlsFiles, CertsDirOrAllThreeFiles) {
  EXPECT_THAT(ResolveTlsFiles("/c", "", "", ""),
              IsOkAndHolds(::testing::Field(&TlsFiles::key_file, "/c/node.key")));
  EXPECT_THAT(ResolveTlsFiles("", "a", "b", "c"),
              IsOkAndHolds(::testing::Field(&TlsFiles::cert_file, "b")));
  EXPECT_THAT(ResolveTlsFiles("/c", "", "/x.crt", ""),
              IsOkAndHolds(::testing::Field(&TlsFiles::cert_file, "/x.crt")));
  EXPECT_THAT(ResolveTlsFiles("", "a", "", ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--tls-cert --tls-key"), HasSubstr("--insecure"))));
}

TEST(DecodeNodeIdFromUri, StrictAndBounded) {
  EXPECT_THAT(DecodeNodeIdFromUri("n1"), IsOkAndHolds("n1"));
  EXPECT_THAT(DecodeNodeIdFromUri("a%20b%2Fc"), IsOkAndHolds("a b/c"));
  EXPECT_THAT(DecodeNodeIdFromUri(""), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(DecodeNodeIdFromUri("a%2"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(DecodeNodeIdFromUri("a%zz"), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(DecodeNodeIdFromUri("a%00"), StatusIs(absl::StatusCode::kUnauthenticated,
                                                    HasSubstr("control characters")));
  EXPECT_THAT(DecodeNodeIdFromUri(std::string(kMaxNodeIdBytes, 'x')), IsOk());
  EXPECT_THAT(DecodeNodeIdFromUri(std::string(kMaxNodeIdBytes + 1, 'x')),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("longer than")));
}

}  // namespace
}  // namespace meshkv::peer
