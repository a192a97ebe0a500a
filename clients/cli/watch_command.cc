// `watch`: prints a line per event as it arrives, until interrupted.
#include <memory>

#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"
#include "clients/cli/interrupt.h"

namespace meshkv::cli {

int RunWatch(const Invocation& inv, Session& session) {
  meshkv::v1::WatchRequest req;
  req.set_prefix(inv.Flag("prefix"));
  req.set_start_revision(inv.Number("from-revision"));
  req.set_prev_value(inv.Has("prev"));

  // No deadline: a watch runs until interrupted. The handler comes before the
  // first use of the session's channel, so gRPC's threads inherit its mask.
  grpc::ClientContext ctx;
  InterruptHandler interrupt([&ctx] { ctx.TryCancel(); });
  std::unique_ptr<grpc::ClientReader<meshkv::v1::WatchResponse>> reader =
      session.kv().Watch(&ctx, req);
  meshkv::v1::WatchResponse resp;
  while (reader->Read(&resp)) {
    if (resp.created()) {
      session.err() << "meshkv: watching "
                    << (req.prefix().empty() ? "every key"
                                             : "keys starting with " + Quote(req.prefix()))
                    << " from revision " << resp.revision() << std::endl;
    }
    for (const meshkv::v1::Event& event : resp.events()) {
      // Flushed line by line: a watch is read live, often through a pipe.
      session.out() << FormatEvent(event) << std::endl;
    }
  }
  const grpc::Status status = reader->Finish();
  if (interrupt.interrupted()) return kExitOk;
  if (!status.ok()) return session.Fail(status);
  return kExitOk;
}

}  // namespace meshkv::cli
