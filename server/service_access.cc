#include "server/service_access.h"

#include "absl/strings/match.h"
#include "google/protobuf/message.h"

namespace meshkv {
namespace {

class ServiceAccessInterceptor final : public grpc::experimental::Interceptor {
 public:
  ServiceAccessInterceptor(grpc::experimental::ServerRpcInfo* info, const ClientAuthorizer* auth,
                           Access access)
      : info_(info), auth_(auth), access_(access) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      denied_ = auth_->Check(*info_->server_context(), access_);
      if (!denied_.ok()) info_->server_context()->TryCancel();
    }
    // Should a request still reach the handler after the cancel (the
    // cancel is best effort), it reads an empty request, which asks
    // nothing: reflection's own services are protobuf ones.
    if (!denied_.ok() &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      static_cast<google::protobuf::Message*>(methods->GetRecvMessage())->Clear();
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  const ClientAuthorizer* const auth_;
  const Access access_;
  absl::Status denied_;  // set once the call's metadata arrived
};

class ServiceAccessInterceptorFactoryImpl final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ServiceAccessInterceptorFactoryImpl(const ClientAuthorizer* auth) : auth_(auth) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const Access access = ServiceMethodAccess(info->method());
    // nullptr: no interceptor for this call, nothing on the hot path.
    if (access == Access::kHealth) return nullptr;
    return new ServiceAccessInterceptor(info, auth_, access);
  }

 private:
  const ClientAuthorizer* const auth_;
};

}  // namespace

Access ServiceMethodAccess(absl::string_view full_method) {
  if (absl::StartsWith(full_method, "/grpc.reflection.")) return Access::kRead;
  return Access::kHealth;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServiceAccessInterceptorFactory(const ClientAuthorizer* auth) {
  return std::make_unique<ServiceAccessInterceptorFactoryImpl>(auth);
}

}  // namespace meshkv
