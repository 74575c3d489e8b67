// A mutex in four bytes, for the state every submitted task carries (std::mutex takes 40).
// A burst of 100,000 calls holds 100,000 of them at once, and every byte of fresh memory costs
// a page fault the first time it is touched.
#pragma once

#include <atomic>
#include <cstdint>

namespace forkpool::detail {

/// Meets Lockable (std::lock_guard, std::unique_lock). Not recursive. Uncontended, lock and
/// unlock are one atomic instruction each; a thread that finds it held sleeps in
/// std::atomic::wait (a futex on Linux), not in a spin.
class word_lock {
 public:
  void lock() noexcept {
    std::uint32_t expected = kFree;
    if (!word_.compare_exchange_strong(expected, kHeld, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      lock_contended();
  }
  bool try_lock() noexcept {
    std::uint32_t expected = kFree;
    return word_.compare_exchange_strong(expected, kHeld, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() noexcept {
    // SYNC POINT: the release pairs with the acquire of the next lock().
    if (word_.exchange(kFree, std::memory_order_release) == kHeldWithSleepers) word_.notify_one();
  }

 private:
  static constexpr std::uint32_t kFree = 0, kHeld = 1, kHeldWithSleepers = 2;

  void lock_contended() noexcept {
    // Marked as having sleepers before sleeping, so that the unlock wakes one; a thread that
    // takes the lock this way leaves the mark on, which costs at most one needless wake.
    while (word_.exchange(kHeldWithSleepers, std::memory_order_acquire) != kFree)
      word_.wait(kHeldWithSleepers, std::memory_order_relaxed);
  }

  std::atomic<std::uint32_t> word_{kFree};
};

}  // namespace forkpool::detail
