#include "clients/cli/requests.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <utility>

namespace meshkv::cli {
namespace {

// Splits NAME=VALUE at the first '=' (ParseArgs checked there is one).
std::pair<std::string, std::string> SplitPair(const std::string& arg) {
  const size_t eq = arg.find('=');
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// Byte for byte: no newline stripping, no text-mode translation.
std::string ReadAll(std::istream& in) {
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

uint32_t Replicas(const Invocation& inv) { return static_cast<uint32_t>(inv.Number("replicas")); }

}  // namespace

bool BuildPrecondition(const Invocation& inv, meshkv::v1::Precondition* out) {
  if (inv.Has("if-absent")) {
    out->set_absent(true);
    return true;
  }
  if (inv.Has("if-version")) {
    uint64_t hlc = 0;
    std::string origin;
    ParseVersion(inv.Flag("if-version"), &hlc, &origin);  // ParseArgs checked it
    out->mutable_version()->set_hlc(hlc);
    out->mutable_version()->set_origin(std::move(origin));
    return true;
  }
  return false;
}

meshkv::v1::SetRequest BuildSet(const Invocation& inv, std::istream& in) {
  meshkv::v1::SetRequest req;
  req.set_key(inv.args[0]);
  if (inv.Has("mapping")) {
    auto* fields = req.mutable_value()->mutable_mapping()->mutable_fields();
    for (size_t i = 1; i < inv.args.size(); ++i) {
      auto [field, value] = SplitPair(inv.args[i]);
      (*fields)[field] = value;
    }
  } else if (inv.args[1] == "-") {
    req.mutable_value()->set_bytes(ReadAll(in));
  } else {
    req.mutable_value()->set_bytes(inv.args[1]);
  }
  if (!BuildPrecondition(inv, req.mutable_precondition())) req.clear_precondition();
  req.set_ttl_ms(inv.Millis("ttl"));
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::DeleteRequest BuildDelete(const Invocation& inv) {
  meshkv::v1::DeleteRequest req;
  req.set_key(inv.args[0]);
  if (!BuildPrecondition(inv, req.mutable_precondition())) req.clear_precondition();
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::DeletePrefixRequest BuildDeletePrefix(const Invocation& inv) {
  meshkv::v1::DeletePrefixRequest req;
  req.set_prefix(inv.args[0]);
  req.set_limit(static_cast<uint32_t>(inv.Number("limit")));
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::UpdateRequest BuildUpdate(const Invocation& inv) {
  meshkv::v1::UpdateRequest req;
  for (const std::string& arg : inv.args) {
    auto [key, value] = SplitPair(arg);
    meshkv::v1::SetRequest* item = req.add_items();
    item->set_key(key);
    item->mutable_value()->set_bytes(value);
  }
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::ApplyDeltaRequest BuildApplyDelta(const Invocation& inv) {
  meshkv::v1::ApplyDeltaRequest req;
  req.set_key(inv.args[0]);
  auto* fields = req.mutable_delta()->mutable_fields();
  for (size_t i = 1; i < inv.args.size(); ++i) {
    auto [field, value] = SplitPair(inv.args[i]);
    (*fields)[field] = value;
  }
  for (const std::string& field : inv.Values("remove")) req.add_remove_fields(field);
  if (!BuildPrecondition(inv, req.mutable_precondition())) req.clear_precondition();
  req.set_ttl_ms(inv.Millis("ttl"));
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::TouchRequest BuildTouch(const Invocation& inv) {
  meshkv::v1::TouchRequest req;
  req.set_key(inv.args[0]);
  int64_t ttl_ms = 0;
  ParseMillis(inv.args[1], /*allow_zero=*/true, &ttl_ms);  // ParseArgs checked it
  req.set_ttl_ms(ttl_ms);
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::PopRequest BuildPop(const Invocation& inv) {
  meshkv::v1::PopRequest req;
  req.set_key(inv.args[0]);
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::PopItemRequest BuildPopItem(const Invocation& inv) {
  meshkv::v1::PopItemRequest req;
  req.set_min_replicas(Replicas(inv));
  return req;
}

meshkv::v1::ListRequest BuildList(const Invocation& inv) {
  meshkv::v1::ListRequest req;
  if (inv.command->name == "count") {
    if (!inv.args.empty()) req.set_prefix(inv.args[0]);
    req.set_count_only(true);
    return req;
  }
  req.set_prefix(inv.Flag("prefix"));
  req.set_keys_only(inv.command->name == "keys");
  req.set_limit(static_cast<uint32_t>(inv.Number("limit")));
  req.set_start_after(inv.Flag("start-after"));
  return req;
}

meshkv::v1::WatchRequest BuildWatch(const Invocation& inv) {
  meshkv::v1::WatchRequest req;
  req.set_prefix(inv.Flag("prefix"));
  req.set_start_revision(inv.Number("from-revision"));
  req.set_prev_value(inv.Has("prev"));
  req.set_progress_notify_ms(static_cast<uint32_t>(
      std::min<int64_t>(inv.Millis("progress"), std::numeric_limits<uint32_t>::max())));
  const std::string filter = inv.Flag("filter");
  req.set_filter(filter == "updates"   ? meshkv::v1::WatchRequest::UPDATES
                 : filter == "deletes" ? meshkv::v1::WatchRequest::DELETES
                                       : meshkv::v1::WatchRequest::ALL);
  req.set_keys_only(inv.Has("keys-only"));
  return req;
}

meshkv::v1::PublishRequest BuildPublish(const Invocation& inv, std::istream& in) {
  meshkv::v1::PublishRequest req;
  req.set_topic(inv.args[0]);
  req.set_payload(inv.args[1] == "-" ? ReadAll(in) : inv.args[1]);
  return req;
}

meshkv::v1::SubscribeRequest BuildSubscribe(const Invocation& inv) {
  meshkv::v1::SubscribeRequest req;
  if (!inv.args.empty()) req.set_topic_prefix(inv.args[0]);
  return req;
}

}  // namespace meshkv::cli
