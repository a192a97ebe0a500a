// `keys`, `items` and `count`: one List stream. Simple lines are printed as
// pages arrive; json and table need the whole listing, so they gather it.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"
#include "clients/cli/requests.h"

namespace meshkv::cli {

int RunList(const Invocation& inv, Session& session) {
  const meshkv::v1::ListRequest req = BuildList(inv);
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  std::unique_ptr<grpc::ClientReader<meshkv::v1::ListResponse>> reader =
      session.kv().List(&ctx, req);
  const bool stream_lines = session.output() == OutputFormat::kSimple && !req.count_only();
  // json and table: every page in one response (entries appended, the rest
  // from the last page).
  meshkv::v1::ListResponse all;
  meshkv::v1::ListResponse page;
  std::string last_key;
  while (reader->Read(&page)) {
    for (const meshkv::v1::Entry& e : page.entries()) {
      if (stream_lines) {
        session.out() << (req.keys_only() ? Readable(e.key()) : FormatEntry(e)) << "\n";
      }
      last_key = e.key();
    }
    if (stream_lines) page.clear_entries();
    all.MergeFrom(page);  // repeated fields append, scalars take the last page's
  }
  if (grpc::Status s = reader->Finish(); !s.ok()) return session.Fail(s);

  if (req.count_only()) {
    PrintResult(
        session, all, [&] { return absl::StrCat(all.count(), "\n"); },
        [&] {
          return FormatTable({"PREFIX", "COUNT"},
                             {{Readable(req.prefix()), absl::StrCat(all.count())}});
        });
    return kExitOk;
  }
  if (!stream_lines) {
    PrintResult(
        session, all, [] { return std::string(); },
        [&] {
          std::vector<const meshkv::v1::Entry*> entries;
          for (const meshkv::v1::Entry& e : all.entries()) entries.push_back(&e);
          return EntryTable(entries, req.keys_only());
        });
  }
  if (all.more()) {
    // On stderr, so that stdout stays one line per key (or one document).
    session.err() << "meshkv: more keys follow; continue with --start-after " << Readable(last_key)
                  << "\n";
  }
  return kExitOk;
}

}  // namespace meshkv::cli
