// The commands that are one unary KeyValue RPC each.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"
#include "clients/cli/requests.h"

namespace meshkv::cli {
namespace {

// A value as `get` and `pop` print it. A newline only at a terminal, so that
// `meshkv get k > file` stores exactly the value.
std::string Raw(const Session& session, const meshkv::v1::Value& value) {
  std::string raw = RawValue(value);
  if (session.out_is_terminal() && (raw.empty() || raw.back() != '\n')) raw += "\n";
  return raw;
}

std::string EntryRow(const meshkv::v1::Entry& entry) { return EntryTable({&entry}, false); }

}  // namespace

int RunGet(const Invocation& inv, Session& session) {
  meshkv::v1::GetRequest req;
  req.set_key(inv.args[0]);
  meshkv::v1::GetResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Get(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  if (!resp.found()) {
    return session.Fail(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("key ", Quote(inv.args[0]), " not found"));
  }
  PrintResult(
      session, resp,
      [&] {
        return inv.Has("meta") ? FormatEntryDetails(resp.entry())
                               : Raw(session, resp.entry().value());
      },
      [&] { return EntryRow(resp.entry()); });
  return kExitOk;
}

int RunSet(const Invocation& inv, Session& session) {
  const meshkv::v1::SetRequest req = BuildSet(inv, std::cin);
  meshkv::v1::SetResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Set(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintResult(
      session, resp, [] { return std::string("OK\n"); },
      [&] { return MetaTable({req.key()}, {&resp.meta()}); });
  return kExitOk;
}

int RunDel(const Invocation& inv, Session& session) {
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (inv.Has("prefix")) {
    const meshkv::v1::DeletePrefixRequest req = BuildDeletePrefix(inv);
    meshkv::v1::DeletePrefixResponse resp;
    if (grpc::Status s = session.kv().DeletePrefix(&ctx, req, &resp); !s.ok()) {
      return session.Fail(s);
    }
    PrintResult(
        session, resp, [&] { return absl::StrCat(resp.deleted_size(), "\n"); },
        [&] {
          std::vector<const meshkv::v1::Entry*> entries;
          for (const meshkv::v1::Entry& e : resp.deleted()) entries.push_back(&e);
          return EntryTable(entries, /*keys_only=*/false);
        });
    return kExitOk;
  }
  const meshkv::v1::DeleteRequest req = BuildDelete(inv);
  meshkv::v1::DeleteResponse resp;
  if (grpc::Status s = session.kv().Delete(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintResult(
      session, resp, [] { return std::string("OK\n"); }, [&] { return EntryRow(resp.prev()); });
  return kExitOk;
}

int RunUpdate(const Invocation& inv, Session& session) {
  const meshkv::v1::UpdateRequest req = BuildUpdate(inv);
  meshkv::v1::UpdateResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Update(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintResult(
      session, resp, [] { return std::string("OK\n"); },
      [&] {
        std::vector<std::string> keys;
        for (const meshkv::v1::SetRequest& item : req.items()) keys.push_back(item.key());
        std::vector<const meshkv::v1::Meta*> metas;
        for (const meshkv::v1::Meta& m : resp.metas()) metas.push_back(&m);
        return MetaTable(keys, metas);
      });
  return kExitOk;
}

int RunApplyDelta(const Invocation& inv, Session& session) {
  const meshkv::v1::ApplyDeltaRequest req = BuildApplyDelta(inv);
  meshkv::v1::ApplyDeltaResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().ApplyDelta(&ctx, req, &resp); !s.ok()) {
    return session.Fail(s);
  }
  PrintResult(
      session, resp, [&] { return FormatValue(resp.entry().value()) + "\n"; },
      [&] { return EntryRow(resp.entry()); });
  return kExitOk;
}

int RunPop(const Invocation& inv, Session& session) {
  const meshkv::v1::PopRequest req = BuildPop(inv);
  meshkv::v1::PopResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Pop(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintResult(
      session, resp, [&] { return Raw(session, resp.entry().value()); },
      [&] { return EntryRow(resp.entry()); });
  return kExitOk;
}

int RunPopItem(const Invocation& inv, Session& session) {
  const meshkv::v1::PopItemRequest req = BuildPopItem(inv);
  meshkv::v1::PopItemResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().PopItem(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintResult(
      session, resp, [&] { return FormatEntry(resp.entry()) + "\n"; },
      [&] { return EntryRow(resp.entry()); });
  return kExitOk;
}

int RunTouch(const Invocation& inv, Session& session) {
  const meshkv::v1::TouchRequest req = BuildTouch(inv);
  meshkv::v1::TouchResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Touch(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintResult(
      session, resp, [] { return std::string("OK\n"); },
      [&] { return MetaTable({req.key()}, {&resp.meta()}); });
  return kExitOk;
}

int RunPublish(const Invocation& inv, Session& session) {
  const meshkv::v1::PublishRequest req = BuildPublish(inv, std::cin);
  meshkv::v1::PublishResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Publish(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  // Nothing comes back but success: OK in simple and table alike.
  PrintResult(
      session, resp, [] { return std::string("OK\n"); }, [] { return std::string("OK\n"); });
  return kExitOk;
}

}  // namespace meshkv::cli
