#include "server/health_service.h"

#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace meshkv {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch: the status now, then each change. Writes go one at a time; a
// change that arrives during a write is sent after it, and only the latest
// such change, so a flapping status cannot queue memory behind a slow reader.
class HealthService::WatchStream final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  WatchStream(HealthService* owner, std::string service, StreamSlots::Slot slot)
      : owner_(owner), service_(std::move(service)), slot_(std::move(slot)) {}

  const std::string& service() const { return service_; }

  // Sends `status` unless it is what the client last received; `last`: end
  // the stream once it is sent. Called with the owner's lock held, so no
  // change is sent after the owner forgot this stream.
  void Send(ServingStatus status, bool last) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    last_ = last_ || last;
    if (writing_) {
      queued_ = status;
      return;
    }
    if (sent_ != status) {
      WriteLocked(status);
    } else if (last_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "health watch broken"));
      return;
    }
    std::optional<ServingStatus> next = std::exchange(queued_, std::nullopt);
    if (next.has_value() && *next != sent_) {
      WriteLocked(*next);
    } else if (last_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "health watch cancelled"));
  }

  void OnDone() override {
    owner_->Forget(this);
    delete this;
  }

 private:
  void WriteLocked(ServingStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    response_.set_status(status);
    sent_ = status;
    writing_ = true;
    StartWrite(&response_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  HealthService* const owner_;
  const std::string service_;
  const StreamSlots::Slot slot_;  // held for the stream's life
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  // No status is ever sent as UNKNOWN, so it stands for "nothing yet".
  ServingStatus sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> queued_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool last_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService(size_t max_watches) : slots_(max_watches) {}

void HealthService::SetServing(const std::string& service, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  const ServingStatus status =
      serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  status_[service] = status;
  for (WatchStream* s : streams_) {
    if (s->service() == service) s->Send(status, /*last=*/false);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [service, status] : status_) status = HealthCheckResponse::NOT_SERVING;
  for (WatchStream* s : streams_) s->Send(StatusLocked(s->service()), /*last=*/true);
}

HealthService::ServingStatus HealthService::StatusLocked(const std::string& service) const {
  auto it = status_.find(service);
  return it == status_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::Forget(WatchStream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const HealthCheckRequest* req,
                                               HealthCheckResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::ReaderMutexLock lock(&mu_);
  const ServingStatus status = StatusLocked(req->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    // Anyone may ask: the name is not echoed beyond a short, escaped prefix.
    constexpr size_t kShown = 128;
    const std::string shown = absl::CHexEscape(absl::string_view(req->service()).substr(0, kShown));
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                 absl::StrCat("unknown service \"", shown,
                                              req->service().size() > kShown ? "...\"" : "\"")));
    return reactor;
  }
  resp->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(grpc::CallbackServerContext*,
                                                                    const HealthCheckRequest* req) {
  std::optional<StreamSlots::Slot> slot = slots_.TryAcquire();
  if (!slot.has_value()) {
    // The reactor must still be a live object: one that finishes at once.
    class Refused final : public grpc::ServerWriteReactor<HealthCheckResponse> {
     public:
      explicit Refused(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    return new Refused(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("this node has ", slots_.limit(),
                                  " health watches open, its limit (--max-health-watches)")));
  }
  auto* stream = new WatchStream(this, req->service(), *std::move(slot));
  absl::MutexLock lock(&mu_);
  streams_.insert(stream);
  stream->Send(StatusLocked(req->service()), /*last=*/shut_down_);
  return stream;
}

}  // namespace meshkv
