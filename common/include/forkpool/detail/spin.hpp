// Bounded busy-waiting: spin for a time budget before going to sleep. A wake-up through the
// kernel costs about 10 µs here; a short spin avoids it when the other side answers quickly.
#pragma once

#include <chrono>

namespace forkpool::detail {

/// How long to busy-wait before sleeping: `usual`, or FORKPOOL_SPIN_US microseconds when that
/// environment variable is set (0: never spin; for one-core machines, or to count instructions
/// without the spinning in them). Reads the environment: call it when a pool starts, not per wait.
std::chrono::nanoseconds spin_time(std::chrono::nanoseconds usual) noexcept;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class spinner {
 public:
  explicit spinner(std::chrono::nanoseconds budget) noexcept
      : deadline_(budget.count() > 0 ? std::chrono::steady_clock::now() + budget
                                     : std::chrono::steady_clock::time_point{}) {}

  /// Pauses briefly and returns true while the budget lasts.
  bool keep_spinning() noexcept {
    if (deadline_ == std::chrono::steady_clock::time_point{}) return false;
    cpu_relax();
    // Reading the clock costs ~20 ns; check it every few pauses only.
    if (++count_ % 16 != 0) return true;
    return std::chrono::steady_clock::now() < deadline_;
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
  unsigned count_ = 0;
};

}  // namespace forkpool::detail
