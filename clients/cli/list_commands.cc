// `keys` and `items`: one List stream, printed a line per entry as pages
// arrive.
#include <memory>
#include <string>

#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"

namespace meshkv::cli {

int RunList(const Invocation& inv, Session& session) {
  const bool keys_only = inv.command->name == "keys";
  meshkv::v1::ListRequest req;
  req.set_prefix(inv.Flag("prefix"));
  req.set_keys_only(keys_only);
  req.set_limit(static_cast<uint32_t>(inv.Number("limit")));
  req.set_start_after(inv.Flag("start-after"));

  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  std::unique_ptr<grpc::ClientReader<meshkv::v1::ListResponse>> reader =
      session.kv().List(&ctx, req);
  meshkv::v1::ListResponse page;
  bool more = false;
  std::string last_key;
  while (reader->Read(&page)) {
    for (const meshkv::v1::Entry& e : page.entries()) {
      session.out() << (keys_only ? Readable(e.key()) : FormatEntry(e)) << "\n";
      last_key = e.key();
    }
    more = page.more();
  }
  if (grpc::Status s = reader->Finish(); !s.ok()) return session.Fail(s);
  if (more) {
    // On stderr, so that stdout stays one line per key.
    session.err() << "meshkv: more keys follow; continue with --start-after " << Readable(last_key)
                  << "\n";
  }
  return kExitOk;
}

}  // namespace meshkv::cli
