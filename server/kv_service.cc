#include "server/kv_service.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/convert.h"

namespace meshkv {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// A server stream refused before it starts (its caller may not read).
template <typename Response>
class RefusedStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedStream(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// Finishes a write's reactor when the write is done (durable, or failed):
// `fill(result)` writes the response first. It runs on whichever thread
// completes the write, often the durability log's, so gRPC's callback
// threads never wait for the disk and many writes can be in flight.
template <typename Fill>
Node::WriteDone Reply(grpc::ServerUnaryReactor* reactor, Fill fill) {
  return [reactor, fill = std::move(fill)](absl::StatusOr<WriteResult> r) mutable {
    if (r.ok()) fill(*r);
    reactor->Finish(ToGrpcStatus(r.status()));
  };
}

// Streams a listing page by page. Every page carries the revision of the
// first, so a client can watch from it; the last page says whether the
// limit cut the listing short.
class ListStream final : public grpc::ServerWriteReactor<meshkv::v1::ListResponse> {
 public:
  ListStream(const Store* store, const meshkv::v1::ListRequest& req,
             const KeyValueServiceOptions& options)
      : store_(store),
        prefix_(req.prefix()),
        after_(req.start_after()),
        keys_only_(req.keys_only()),
        remaining_(req.limit() == 0 ? SIZE_MAX : req.limit()),
        page_entries_(options.list_page_entries),
        page_bytes_(options.list_page_bytes) {
    if (req.count_only()) {
      uint64_t revision = 0;
      response_.set_count(store_->Count(prefix_, &revision));
      response_.set_revision(revision);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    NextPage();
  }

  // Writes complete one at a time, so reactions never overlap.
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "list stream broken"));
      return;
    }
    NextPage();
  }
  void OnDone() override { delete this; }

 private:
  void NextPage() {
    ListPage page = store_->List(prefix_, after_, std::min(page_entries_, remaining_),
                                 keys_only_ ? SIZE_MAX : page_bytes_);
    if (revision_ == 0) revision_ = page.revision;
    response_.Clear();
    response_.set_revision(revision_);
    for (const Entry& e : page.entries) ToEntry(e, !keys_only_, response_.add_entries());
    remaining_ -= page.entries.size();
    if (!page.entries.empty()) after_ = std::string(page.entries.back().record->key());
    if (page.more && remaining_ > 0) {
      StartWrite(&response_);
      return;
    }
    response_.set_more(page.more);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  const Store* const store_;
  const std::string prefix_;
  std::string after_;
  const bool keys_only_;
  size_t remaining_;
  const size_t page_entries_;
  const size_t page_bytes_;
  uint64_t revision_ = 0;
  meshkv::v1::ListResponse response_;
};

// The write concern a request asks for: min_replicas, until the client's
// deadline, while the client is still there.
ConcernRequest ConcernOf(grpc::CallbackServerContext* ctx, uint32_t min_replicas) {
  ConcernRequest c;
  c.min_replicas = min_replicas;
  if (min_replicas == 0) return c;
  // No deadline reads as the end of time; absl::Time holds it as infinite.
  const auto deadline = ctx->deadline();
  if (deadline < std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    c.deadline = absl::FromChrono(deadline);
  }
  c.cancelled = [ctx] { return ctx->IsCancelled(); };
  return c;
}

// Items of an Update take the request's concern; their own field must stay
// unset, not be silently ignored.
absl::Status CheckItemConcern(const meshkv::v1::UpdateRequest& req) {
  for (const meshkv::v1::SetRequest& item : req.items()) {
    if (item.min_replicas() != 0) {
      return absl::InvalidArgumentError(
          "min_replicas is set on an Update item: set it on the UpdateRequest, it applies to "
          "every item");
    }
  }
  return absl::OkStatus();
}

}  // namespace

KeyValueService::KeyValueService(Node* node, KeyValueServiceOptions options,
                                 const WatchObserver* observer, const ClientAuthorizer* auth)
    : node_(node),
      options_(std::move(options)),
      observer_(observer),
      auth_(auth),
      watch_slots_(options_.max_watch_streams) {}

grpc::ServerUnaryReactor* KeyValueService::Get(grpc::CallbackServerContext* ctx,
                                               const meshkv::v1::GetRequest* req,
                                               meshkv::v1::GetResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Get")); !s.ok()) {
    return Done(ctx, s);
  }
  if (req->key().empty()) {
    return Done(ctx, absl::InvalidArgumentError("key must not be empty"));
  }
  // Writes refuse such a key, so it cannot exist: say so, as writes do,
  // rather than answer "not found".
  if (const size_t max = node_->store().options().max_key_bytes; req->key().size() > max) {
    return Done(ctx, absl::InvalidArgumentError(
                         absl::StrCat("key is ", req->key().size(), " bytes; the limit is ", max)));
  }
  uint64_t revision = 0;
  std::optional<Entry> e = node_->Get(req->key(), &revision);
  resp->set_revision(revision);
  resp->set_found(e.has_value());
  if (e) ToEntry(*e, /*with_value=*/true, resp->mutable_entry());
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* KeyValueService::Set(grpc::CallbackServerContext* ctx,
                                               const meshkv::v1::SetRequest* req,
                                               meshkv::v1::SetResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Set")); !s.ok()) {
    return Done(ctx, s);
  }
  absl::StatusOr<Precondition> pre = ToPrecondition(req->precondition());
  if (!pre.ok()) return Done(ctx, pre.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Set(
      req->key(), ToValueView(req->value()), *pre, absl::Milliseconds(req->ttl_ms()),
      Reply(reactor,
            [resp](const WriteResult& r) { ToMeta(r.changes[0].entry, resp->mutable_meta()); }),
      ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::Delete(grpc::CallbackServerContext* ctx,
                                                  const meshkv::v1::DeleteRequest* req,
                                                  meshkv::v1::DeleteResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Delete")); !s.ok()) {
    return Done(ctx, s);
  }
  absl::StatusOr<Precondition> pre = ToPrecondition(req->precondition());
  if (!pre.ok()) return Done(ctx, pre.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Delete(req->key(), *pre,
                Reply(reactor,
                      [resp](const WriteResult& r) {
                        ToEntry(r.changes[0].prev, /*with_value=*/true, resp->mutable_prev());
                        ToMeta(r.changes[0].entry, resp->mutable_meta());
                      }),
                ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::Update(grpc::CallbackServerContext* ctx,
                                                  const meshkv::v1::UpdateRequest* req,
                                                  meshkv::v1::UpdateResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Update")); !s.ok()) {
    return Done(ctx, s);
  }
  if (absl::Status s = CheckItemConcern(*req); !s.ok()) return Done(ctx, s);
  absl::StatusOr<std::vector<Precondition>> pres = ToPreconditions(req->items());
  if (!pres.ok()) return Done(ctx, pres.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Update(ToKeyValuesView(req->items()), *pres, ToTtls(req->items()),
                Reply(reactor,
                      [resp](const WriteResult& r) {
                        for (const WriteResult::Change& c : r.changes)
                          ToMeta(c.entry, resp->add_metas());
                      }),
                ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::ApplyDelta(grpc::CallbackServerContext* ctx,
                                                      const meshkv::v1::ApplyDeltaRequest* req,
                                                      meshkv::v1::ApplyDeltaResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("ApplyDelta")); !s.ok()) {
    return Done(ctx, s);
  }
  absl::StatusOr<Precondition> pre = ToPrecondition(req->precondition());
  if (!pre.ok()) return Done(ctx, pre.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const FieldNamesView remove(req->remove_fields().begin(), req->remove_fields().end());
  node_->ApplyDelta(req->key(), ToFieldsView(req->delta()), *pre, remove,
                    absl::Milliseconds(req->ttl_ms()),
                    Reply(reactor,
                          [resp](const WriteResult& r) {
                            ToEntry(r.changes[0].entry, /*with_value=*/true, resp->mutable_entry());
                          }),
                    ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::Pop(grpc::CallbackServerContext* ctx,
                                               const meshkv::v1::PopRequest* req,
                                               meshkv::v1::PopResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Pop")); !s.ok()) {
    return Done(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Pop(req->key(),
             Reply(reactor,
                   [resp](const WriteResult& r) {
                     ToEntry(r.changes[0].prev, /*with_value=*/true, resp->mutable_entry());
                   }),
             ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::PopItem(grpc::CallbackServerContext* ctx,
                                                   const meshkv::v1::PopItemRequest* req,
                                                   meshkv::v1::PopItemResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("PopItem")); !s.ok()) {
    return Done(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->PopItem(Reply(reactor,
                       [resp](const WriteResult& r) {
                         ToEntry(r.changes[0].prev, /*with_value=*/true, resp->mutable_entry());
                       }),
                 ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::DeletePrefix(grpc::CallbackServerContext* ctx,
                                                        const meshkv::v1::DeletePrefixRequest* req,
                                                        meshkv::v1::DeletePrefixResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("DeletePrefix")); !s.ok()) {
    return Done(ctx, s);
  }
  const size_t max = options_.max_delete_prefix_keys;
  const size_t limit = req->limit() == 0 ? max : std::min<size_t>(req->limit(), max);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The values are not sent back: up to `limit` of them could make a
  // response of gigabytes. Each entry is the key and the meta of its delete.
  node_->DeletePrefix(req->prefix(), limit,
                      Reply(reactor,
                            [resp](const WriteResult& r) {
                              for (const WriteResult::Change& c : r.changes) {
                                ToEntry(c.entry, /*with_value=*/false, resp->add_deleted());
                              }
                            }),
                      ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerUnaryReactor* KeyValueService::Touch(grpc::CallbackServerContext* ctx,
                                                 const meshkv::v1::TouchRequest* req,
                                                 meshkv::v1::TouchResponse* resp) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Touch")); !s.ok()) {
    return Done(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  node_->Touch(req->key(), absl::Milliseconds(req->ttl_ms()),
               Reply(reactor,
                     [resp](const WriteResult& r) {
                       ToMeta(r.changes[0].entry, resp->mutable_meta());
                     }),
               ConcernOf(ctx, req->min_replicas()));
  return reactor;
}

grpc::ServerWriteReactor<meshkv::v1::ListResponse>* KeyValueService::List(
    grpc::CallbackServerContext* ctx, const meshkv::v1::ListRequest* req) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("List")); !s.ok()) {
    return new RefusedStream<meshkv::v1::ListResponse>(s);
  }
  return new ListStream(&node_->store(), *req, options_);
}

grpc::ServerWriteReactor<meshkv::v1::WatchResponse>* KeyValueService::Watch(
    grpc::CallbackServerContext* ctx, const meshkv::v1::WatchRequest* req) {
  if (absl::Status s = auth_->Check(*ctx, KeyValueMethodAccess("Watch")); !s.ok()) {
    return new RefusedStream<meshkv::v1::WatchResponse>(s);
  }
  if (absl::Status s = ValidateWatchRequest(*req); !s.ok()) {
    return new RefusedStream<meshkv::v1::WatchResponse>(s);
  }
  std::optional<StreamSlots::Slot> slot = watch_slots_.TryAcquire();
  if (!slot.has_value()) {
    if (observer_ && observer_->on_refused) observer_->on_refused();
    return new RefusedStream<meshkv::v1::WatchResponse>(absl::ResourceExhaustedError(absl::StrCat(
        "this node has ", watch_slots_.limit(),
        " Watch streams open, its limit (--max-watch-streams): close some, or watch through "
        "another node")));
  }
  return WatchStream::Start(&node_->store(), &node_->watches(), options_.watch, observer_, *req,
                            *std::move(slot));
}

}  // namespace meshkv
