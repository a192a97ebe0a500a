// `watch` and `subscribe`: print a line per event or message as it arrives,
// until interrupted. -w json prints each response of the stream as one JSON
// line; -w table prints the simple lines (a live stream has no columns to
// align ahead of time, as in etcdctl).
#include <memory>

#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"
#include "clients/cli/interrupt.h"
#include "clients/cli/requests.h"

namespace meshkv::cli {

int RunWatch(const Invocation& inv, Session& session) {
  const meshkv::v1::WatchRequest req = BuildWatch(inv);

  // No deadline: a watch runs until interrupted. The handler comes before the
  // session connects, so gRPC's threads inherit its mask.
  grpc::ClientContext ctx;
  InterruptHandler interrupt([&ctx] { ctx.TryCancel(); });
  if (int rc = session.Connect(); rc != kExitOk) return rc;
  std::unique_ptr<grpc::ClientReader<meshkv::v1::WatchResponse>> reader =
      session.kv().Watch(&ctx, req);
  const bool json = session.output() == OutputFormat::kJson;
  meshkv::v1::WatchResponse resp;
  while (reader->Read(&resp)) {
    // Flushed line by line: a watch is read live, often through a pipe.
    if (json) {
      session.out() << ToJson(resp) << std::endl;
      continue;
    }
    if (resp.created()) {
      session.err() << "meshkv: watching "
                    << (req.prefix().empty() ? "every key"
                                             : "keys starting with " + Quote(req.prefix()))
                    << " from revision " << resp.revision() << std::endl;
    } else if (resp.events().empty()) {
      session.err() << "meshkv: progress: every change up to revision " << resp.revision()
                    << " delivered" << std::endl;
    }
    for (const meshkv::v1::Event& event : resp.events()) {
      session.out() << FormatEvent(event) << std::endl;
    }
  }
  const grpc::Status status = reader->Finish();
  if (interrupt.interrupted()) return kExitOk;
  if (!status.ok()) return session.Fail(status);
  return kExitOk;
}

int RunSubscribe(const Invocation& inv, Session& session) {
  const meshkv::v1::SubscribeRequest req = BuildSubscribe(inv);
  grpc::ClientContext ctx;
  InterruptHandler interrupt([&ctx] { ctx.TryCancel(); });
  if (int rc = session.Connect(); rc != kExitOk) return rc;
  std::unique_ptr<grpc::ClientReader<meshkv::v1::Message>> reader =
      session.kv().Subscribe(&ctx, req);
  const bool json = session.output() == OutputFormat::kJson;
  meshkv::v1::Message message;
  while (reader->Read(&message)) {
    session.out() << (json ? ToJson(message) : FormatMessage(message)) << std::endl;
  }
  const grpc::Status status = reader->Finish();
  if (interrupt.interrupted()) return kExitOk;
  if (!status.ok()) return session.Fail(status);
  return kExitOk;
}

}  // namespace meshkv::cli
