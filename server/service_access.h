// Client roles for the services meshkv registers but does not implement.
//
// KeyValue and Cluster check ClientAuthorizer in every handler. gRPC's
// reflection service (grpc.reflection.v1alpha and v1) is gRPC's own class,
// created by its builder plugin and not in gRPC's public headers, so it
// cannot be wrapped; a server interceptor checks it instead: with client
// certificates on, reflection needs the read-only role, as reading the
// schema is reading. Health stays open to probes (grpc_credentials.h).
//
// A server interceptor cannot answer a call with a status of its own, so a
// refused call is cancelled before the handler reads its first request: the
// client sees CANCELLED ("Cancelled on the server side"), not
// PERMISSION_DENIED. Nothing is logged: a stranger must not fill the logs.
//
//   interceptors.push_back(ServiceAccessInterceptorFactory(&client_auth));
#ifndef MESHKV_SERVER_SERVICE_ACCESS_H_
#define MESHKV_SERVER_SERVICE_ACCESS_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/grpc_credentials.h"

namespace meshkv {

// What a method outside meshkv.v1 needs, by full name
// ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
// kHealth (no check here) for the methods the handlers check themselves.
Access ServiceMethodAccess(absl::string_view full_method);

// `auth` outlives the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServiceAccessInterceptorFactory(const ClientAuthorizer* auth);

}  // namespace meshkv

#endif  // MESHKV_SERVER_SERVICE_ACCESS_H_
