// What a pool shares with its tasks, which may outlive it: the counts stats() reports and, for a
// process pool, the scheduler's lock and the work a waiting thread may do itself (pool_helper).
// Engine only: task_state.hpp names pool_link without defining it.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "forkpool/detail/spin.hpp"

namespace forkpool::detail {

/// The pool work a thread waiting for a task can do itself, instead of sleeping until the pool's
/// thread does it and wakes it (two wake-ups, each costing microseconds).
class pool_helper {
 public:
  /// Reads the replies that have arrived and sends the calls that wait. With the scheduler lock.
  virtual void help() = 0;
  /// The waiting thread stops helping: the pool's thread is to be woken for replies again.
  virtual void stop_helping() = 0;

 protected:
  ~pool_helper() = default;
};

struct pool_link {
  // Submitters write the first line, the threads finishing tasks the second: apart, a burst of
  // submissions does not take the line back from a finishing thread once per task.
  alignas(64) std::atomic<std::uint64_t> submitted{0};
  alignas(64) std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> cancelled{0};
  /// A process pool's scheduler state is under this lock; see scheduler_lock.hpp. On a line of
  /// its own too: a waiting thread takes it per reply it helps read.
  alignas(64) std::mutex scheduler;
  /// The process pool, while it exists; null for other pools. Used under `scheduler` only.
  std::atomic<pool_helper*> helper{nullptr};
  /// How long a waiting thread helps before it sleeps (set before the pool's first task).
  adaptive_spin help_spin;
};

}  // namespace forkpool::detail
