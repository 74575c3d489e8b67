// Bounded busy-waiting that learns whether it pays. A wake-up through the kernel costs about
// 10 µs here, so a short spin saves it when the other side answers quickly; but a spinner that
// shares a CPU with the side it waits for steals that side's time (NOTES.md: 118 µs round trips
// on one CPU with 50 µs spins, 18 µs without). So spinning is off where fewer than two CPUs are
// usable or while more threads are runnable than CPUs can take, and elsewhere each waiting place
// stops spinning while its spins go unanswered and starts again once a probe is answered.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace forkpool::detail {

/// The CPUs this process may run on: its affinity mask, bounded by its cgroup's CPU quota
/// (cpu.max, or cpu.cfs_quota_us under cgroup v1), rounded up. At least 1.
unsigned usable_cpus() noexcept;

/// How long to busy-wait before sleeping: FORKPOOL_SPIN_US microseconds when that environment
/// variable is set (0: never spin; any value is obeyed as given); otherwise `usual`, or 0 when
/// fewer than two CPUs are usable. Reads the environment: call it when a pool starts.
std::chrono::nanoseconds spin_time(std::chrono::nanoseconds usual) noexcept;

/// Whether a spinner would find a CPU of its own: the kernel's count of runnable threads
/// (/proc/loadavg, this thread included) is at most the online CPUs plus one. The one is
/// slack for a thread passing through: with both sides of a hand-off running, two on two CPUs,
/// spinning pays; a burst (master, pool thread and workers all running) or other processes'
/// load takes it past. Read at most once a millisecond per process; true when unreadable.
bool cpu_to_spare() noexcept;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// The spin budget of one waiting place, learned from how its recent spins ended. It starts at
/// its ceiling and stays there while spins are answered. After kMissesToStop spins in a row used
/// their whole budget in vain (the other side is descheduled, asleep or slow), it is 0: waits
/// sleep at once. At 0, one wait in kProbeEvery still spins the ceiling, and one answered spin
/// restores it, so a machine that has become free is noticed within a few dozen waits.
///
/// A single miss changes nothing: when one side sleeps, the other's waits include a wake-up, and
/// a budget that shrank on every long wait would drive both sides to sleep for good.
/// Thread-safe (relaxed atomics: a lost update costs one wait its best budget, no more).
class alignas(64) adaptive_spin {  // its own cache line: read on every wait
 public:
  static constexpr std::uint32_t kMissesToStop = 4;
  static constexpr std::uint32_t kProbeEvery = 32;

  /// A budget that never learns: always the ceiling.
  static constexpr struct fixed_t {
  } fixed{};

  explicit adaptive_spin(std::chrono::nanoseconds ceiling = {}) noexcept { reset(ceiling); }
  adaptive_spin(std::chrono::nanoseconds ceiling, fixed_t) noexcept : learns_(false) {
    reset(ceiling);
  }
  adaptive_spin(const adaptive_spin&) = delete;
  adaptive_spin& operator=(const adaptive_spin&) = delete;

  /// Sets the ceiling and starts learning again from it.
  void reset(std::chrono::nanoseconds ceiling) noexcept {
    ceiling_.store(ceiling.count(), std::memory_order_relaxed);
    misses_.store(0, std::memory_order_relaxed);
  }
  std::chrono::nanoseconds ceiling() const noexcept {
    return std::chrono::nanoseconds(ceiling_.load(std::memory_order_relaxed));
  }
  /// The budget learned so far: the ceiling, or 0 while spinning does not pay.
  std::chrono::nanoseconds learned() const noexcept {
    return misses_.load(std::memory_order_relaxed) >= kMissesToStop ? std::chrono::nanoseconds(0)
                                                                    : ceiling();
  }

  /// The budget for the wait about to begin.
  std::chrono::nanoseconds next_budget() noexcept {
    if (misses_.load(std::memory_order_relaxed) < kMissesToStop) return ceiling();
    if (waits_.fetch_add(1, std::memory_order_relaxed) % kProbeEvery != kProbeEvery - 1) return {};
    return ceiling();  // a probe
  }
  void answered() noexcept {
    // Written only when it changes: the waiting threads of one pool share this line.
    if (misses_.load(std::memory_order_relaxed) != 0) misses_.store(0, std::memory_order_relaxed);
  }
  void in_vain() noexcept {
    if (!learns_) return;
    const std::uint32_t misses = misses_.load(std::memory_order_relaxed);
    if (misses < kMissesToStop) misses_.store(misses + 1, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> ceiling_{0};
  std::atomic<std::uint32_t> misses_{0};
  std::atomic<std::uint32_t> waits_{0};
  bool learns_ = true;
};

/// Spins for a time budget. Built from an adaptive_spin, it reports back how the spin ended:
/// in vain when the budget runs out (once), answered when the caller says so.
class spinner {
 public:
  explicit spinner(std::chrono::nanoseconds budget) noexcept { start(budget); }
  /// Spins for what `learner` has learned, at most `cap`, and only if `cpu_spare()` says so
  /// (asked only when there is a budget to spin): where every CPU is taken, a spinner takes one
  /// from a thread with work (the other side, or another worker or the master in a burst), and
  /// sleeping costs less. Not spinning for that reason is not a miss: it says nothing about the
  /// other side.
  explicit spinner(adaptive_spin& learner,
                   std::chrono::nanoseconds cap = std::chrono::nanoseconds::max(),
                   bool (*cpu_spare)() noexcept = cpu_to_spare) noexcept
      : learner_(&learner) {
    std::chrono::nanoseconds budget = learner.next_budget();
    if (budget.count() > 0 && !cpu_spare()) budget = {};
    // Cut short by the caller's deadline: it says nothing about whether spinning pays.
    if (budget > cap) learner_ = nullptr;
    start(std::min(budget, cap));
  }

  /// Pauses briefly and returns true while the budget lasts.
  bool keep_spinning() noexcept {
    if (deadline_ == std::chrono::steady_clock::time_point{}) return false;
    cpu_relax();
    // Reading the clock costs ~20 ns; check it every few pauses only.
    if (++count_ % 16 != 0) return true;
    if (std::chrono::steady_clock::now() < deadline_) return true;
    deadline_ = {};
    if (learner_ != nullptr) learner_->in_vain();
    learner_ = nullptr;
    return false;
  }

  /// What was waited for came while spinning (not after a sleep).
  void answered() noexcept {
    if (learner_ != nullptr && deadline_ != std::chrono::steady_clock::time_point{})
      learner_->answered();
    learner_ = nullptr;
  }

 private:
  void start(std::chrono::nanoseconds budget) noexcept {
    if (budget.count() > 0)
      deadline_ = std::chrono::steady_clock::now() + budget;
    else
      learner_ = nullptr;
  }

  adaptive_spin* learner_ = nullptr;
  std::chrono::steady_clock::time_point deadline_{};
  unsigned count_ = 0;
};

}  // namespace forkpool::detail
