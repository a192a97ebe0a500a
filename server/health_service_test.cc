// HealthService over a real gRPC server on a loopback port: the answers of
// gRPC's built-in health service, and the cap on Watch streams that the
// built-in one lacks.
#include "server/health_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::meshkv::testing::WaitFor;

class HealthServiceTest : public ::testing::Test {
 protected:
  static constexpr size_t kMaxWatches = 2;

  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = Health::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    health_.Shutdown();
    server_->Shutdown();
  }

  struct Watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader;
    // The next status, or UNKNOWN when the stream ended.
    HealthCheckResponse::ServingStatus Next() {
      HealthCheckResponse resp;
      return reader->Read(&resp) ? resp.status() : HealthCheckResponse::UNKNOWN;
    }
  };

  std::unique_ptr<Watch> StartWatch(const std::string& service) {
    auto w = std::make_unique<Watch>();
    HealthCheckRequest req;
    req.set_service(service);
    w->reader = stub_->Watch(&w->ctx, req);
    return w;
  }

  grpc::Status Check(const std::string& service, HealthCheckResponse* resp) {
    grpc::ClientContext ctx;
    HealthCheckRequest req;
    req.set_service(service);
    return stub_->Check(&ctx, req, resp);
  }

  HealthService health_{kMaxWatches};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, CheckAnswersTheStatusAndNotFoundForAnUnknownService) {
  HealthCheckResponse resp;
  EXPECT_EQ(Check("", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  health_.SetServing("", false);
  ASSERT_TRUE(Check("", &resp).ok());
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServing("", true);
  ASSERT_TRUE(Check("", &resp).ok());
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  EXPECT_EQ(Check("meshkv.v1.KeyValue", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, WatchSendsTheStatusNowAndEachChange) {
  std::unique_ptr<Watch> w = StartWatch("svc");
  EXPECT_EQ(w->Next(), HealthCheckResponse::SERVICE_UNKNOWN);
  health_.SetServing("svc", true);
  EXPECT_EQ(w->Next(), HealthCheckResponse::SERVING);
  health_.SetServing("other", false);  // not this watch's service
  health_.SetServing("svc", true);     // no change: nothing sent
  health_.SetServing("svc", false);
  EXPECT_EQ(w->Next(), HealthCheckResponse::NOT_SERVING);
  // Shutdown ends the stream, OK, after NOT_SERVING (already sent here).
  health_.Shutdown();
  EXPECT_EQ(w->Next(), HealthCheckResponse::UNKNOWN);
  EXPECT_TRUE(w->reader->Finish().ok());
}

TEST_F(HealthServiceTest, ShutdownTellsEveryWatcherNotServingAndEndsTheStreams) {
  health_.SetServing("", true);
  std::unique_ptr<Watch> w = StartWatch("");
  EXPECT_EQ(w->Next(), HealthCheckResponse::SERVING);
  health_.Shutdown();
  EXPECT_EQ(w->Next(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(w->Next(), HealthCheckResponse::UNKNOWN);
  EXPECT_TRUE(w->reader->Finish().ok());
  health_.SetServing("", true);  // ignored after Shutdown
  HealthCheckResponse resp;
  ASSERT_TRUE(Check("", &resp).ok());
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, WatchesBeyondTheCapAreRefusedAndClosedOnesGiveTheirPlaceBack) {
  health_.SetServing("", true);
  std::vector<std::unique_ptr<Watch>> open;
  for (size_t i = 0; i < kMaxWatches; ++i) {
    open.push_back(StartWatch(""));
    EXPECT_EQ(open.back()->Next(), HealthCheckResponse::SERVING);
  }
  EXPECT_EQ(health_.open_watches(), kMaxWatches);
  std::unique_ptr<Watch> refused = StartWatch("");
  EXPECT_EQ(refused->Next(), HealthCheckResponse::UNKNOWN);
  grpc::Status status = refused->reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("--max-health-watches"));

  // A client that goes away gives its place back.
  open.back()->ctx.TryCancel();
  EXPECT_EQ(open.back()->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  open.pop_back();
  ASSERT_TRUE(WaitFor([&] { return health_.open_watches() < kMaxWatches; }));
  std::unique_ptr<Watch> again = StartWatch("");
  EXPECT_EQ(again->Next(), HealthCheckResponse::SERVING);
  for (auto& w : open) w->ctx.TryCancel();
  again->ctx.TryCancel();
}

}  // namespace
}  // namespace meshkv
