// The request each command sends, built from its parsed invocation: pure
// functions, so that every flag's effect on the wire is unit-tested without a
// server (requests_test.cc). ParseArgs has validated the invocation.
//
//   Invocation inv = ParseArgs({"set", "--if-absent", "--ttl", "30s", "k", "v"}, kDefaultAddr);
//   meshkv::v1::SetRequest req = BuildSet(inv, std::cin);  // precondition.absent, ttl_ms 30000
#ifndef MESHKV_CLIENTS_CLI_REQUESTS_H_
#define MESHKV_CLIENTS_CLI_REQUESTS_H_

#include <istream>

#include "clients/cli/args.h"
#include "meshkv/v1/kv.pb.h"

namespace meshkv::cli {

// --if-absent or --if-version into `out`; false (out untouched) for neither.
bool BuildPrecondition(const Invocation& inv, meshkv::v1::Precondition* out);

// `set`; VALUE "-" reads `in` to its end.
meshkv::v1::SetRequest BuildSet(const Invocation& inv, std::istream& in);
// `del KEY`.
meshkv::v1::DeleteRequest BuildDelete(const Invocation& inv);
// `del --prefix PREFIX`.
meshkv::v1::DeletePrefixRequest BuildDeletePrefix(const Invocation& inv);
meshkv::v1::UpdateRequest BuildUpdate(const Invocation& inv);
meshkv::v1::ApplyDeltaRequest BuildApplyDelta(const Invocation& inv);
meshkv::v1::TouchRequest BuildTouch(const Invocation& inv);
meshkv::v1::PopRequest BuildPop(const Invocation& inv);
meshkv::v1::PopItemRequest BuildPopItem(const Invocation& inv);
// `keys`, `items` and `count`.
meshkv::v1::ListRequest BuildList(const Invocation& inv);
meshkv::v1::WatchRequest BuildWatch(const Invocation& inv);
// `publish`; PAYLOAD "-" reads `in` to its end.
meshkv::v1::PublishRequest BuildPublish(const Invocation& inv, std::istream& in);
meshkv::v1::SubscribeRequest BuildSubscribe(const Invocation& inv);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_REQUESTS_H_
