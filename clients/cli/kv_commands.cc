// The commands that are one unary KeyValue RPC each.
#include <iostream>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/cli/commands.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"

namespace meshkv::cli {
namespace {

// Splits NAME=VALUE at the first '=' (ParseArgs checked there is one).
std::pair<std::string, std::string> SplitPair(const std::string& arg) {
  const size_t eq = arg.find('=');
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// Writes a value as `get` and `pop` print it. A newline only at a terminal,
// so that `meshkv get k > file` stores exactly the value.
void PrintRaw(Session& session, const meshkv::v1::Value& value) {
  const std::string raw = RawValue(value);
  session.out() << raw;
  if (session.out_is_terminal() && (raw.empty() || raw.back() != '\n')) session.out() << "\n";
}

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
  if (inv.Has("meta")) {
    session.out() << FormatEntryDetails(resp.entry());
  } else {
    PrintRaw(session, resp.entry().value());
  }
  return kExitOk;
}

int RunSet(const Invocation& inv, Session& session) {
  meshkv::v1::SetRequest req;
  req.set_key(inv.args[0]);
  if (inv.Has("mapping")) {
    auto* fields = req.mutable_value()->mutable_mapping()->mutable_fields();
    for (size_t i = 1; i < inv.args.size(); ++i) {
      auto [field, value] = SplitPair(inv.args[i]);
      (*fields)[field] = value;
    }
  } else if (inv.args[1] == "-") {
    // Byte for byte: no newline stripping, no text-mode translation.
    std::string value((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    req.mutable_value()->set_bytes(std::move(value));
  } else {
    req.mutable_value()->set_bytes(inv.args[1]);
  }
  meshkv::v1::SetResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Set(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  session.out() << "OK\n";
  return kExitOk;
}

int RunDel(const Invocation& inv, Session& session) {
  meshkv::v1::DeleteRequest req;
  req.set_key(inv.args[0]);
  meshkv::v1::DeleteResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Delete(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  session.out() << "OK\n";
  return kExitOk;
}

int RunUpdate(const Invocation& inv, Session& session) {
  meshkv::v1::UpdateRequest req;
  for (const std::string& arg : inv.args) {
    auto [key, value] = SplitPair(arg);
    meshkv::v1::SetRequest* item = req.add_items();
    item->set_key(key);
    item->mutable_value()->set_bytes(value);
  }
  meshkv::v1::UpdateResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Update(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  session.out() << "OK\n";
  return kExitOk;
}

int RunApplyDelta(const Invocation& inv, Session& session) {
  meshkv::v1::ApplyDeltaRequest req;
  req.set_key(inv.args[0]);
  auto* fields = req.mutable_delta()->mutable_fields();
  for (size_t i = 1; i < inv.args.size(); ++i) {
    auto [field, value] = SplitPair(inv.args[i]);
    (*fields)[field] = value;
  }
  meshkv::v1::ApplyDeltaResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().ApplyDelta(&ctx, req, &resp); !s.ok()) {
    return session.Fail(s);
  }
  session.out() << FormatValue(resp.entry().value()) << "\n";
  return kExitOk;
}

int RunPop(const Invocation& inv, Session& session) {
  meshkv::v1::PopRequest req;
  req.set_key(inv.args[0]);
  meshkv::v1::PopResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().Pop(&ctx, req, &resp); !s.ok()) return session.Fail(s);
  PrintRaw(session, resp.entry().value());
  return kExitOk;
}

int RunPopItem(const Invocation&, Session& session) {
  meshkv::v1::PopItemResponse resp;
  grpc::ClientContext ctx;
  session.SetDeadline(&ctx);
  if (grpc::Status s = session.kv().PopItem(&ctx, meshkv::v1::PopItemRequest(), &resp); !s.ok()) {
    return session.Fail(s);
  }
  session.out() << FormatEntry(resp.entry()) << "\n";
  return kExitOk;
}

}  // namespace meshkv::cli
