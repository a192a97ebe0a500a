// StreamSlots: a node-wide cap on streams of one kind (Watch), so that no
// number of clients can make a node hold more of them than it was sized for.
//
//   StreamSlots slots(10000);
//   std::optional<StreamSlots::Slot> slot = slots.TryAcquire();
//   if (!slot) return Refuse(RESOURCE_EXHAUSTED);
//   ... the stream keeps *slot; destroying it gives the place back.
//
// Thread-safe (one atomic); the StreamSlots must outlive its slots.
#ifndef MESHKV_SERVER_STREAM_SLOTS_H_
#define MESHKV_SERVER_STREAM_SLOTS_H_

#include <atomic>
#include <cstddef>
#include <optional>
#include <utility>

namespace meshkv {

class StreamSlots {
 public:
  explicit StreamSlots(size_t limit) : limit_(limit) {}
  StreamSlots(const StreamSlots&) = delete;
  StreamSlots& operator=(const StreamSlots&) = delete;

  // One place, held until destroyed; move-only.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Release();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    ~Slot() { Release(); }

   private:
    friend class StreamSlots;
    explicit Slot(StreamSlots* owner) : owner_(owner) {}
    void Release() {
      if (owner_ != nullptr) owner_->in_use_.fetch_sub(1, std::memory_order_relaxed);
      owner_ = nullptr;
    }
    StreamSlots* owner_;
  };

  // A place, or nothing when `limit` are taken.
  std::optional<Slot> TryAcquire() {
    size_t n = in_use_.load(std::memory_order_relaxed);
    do {
      if (n >= limit_) return std::nullopt;
    } while (!in_use_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return Slot(this);
  }

  size_t limit() const { return limit_; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> in_use_{0};
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_STREAM_SLOTS_H_
