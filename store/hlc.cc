#include "store/hlc.h"

#include <algorithm>

namespace meshkv {

uint64_t HybridClock::Now() {
  last_ = std::max(FromWallMs(clock_->NowMs()), last_ + 1);
  return last_;
}

void HybridClock::Observe(uint64_t hlc) { last_ = std::max(last_, hlc); }

}  // namespace meshkv
