// The lock on a process pool's scheduler state (pool_link::scheduler): its queue, its workers'
// slots and the master's ends of their rings. The pool's thread holds it while it handles an
// event; a thread waiting for a task may hold it to read replies itself (pool_helper).
//
// Done callbacks of the tasks finished under the lock run after it is released, on the same
// thread, so a callback may submit, wait or cancel without re-entering the scheduler.
#pragma once

#include <mutex>
#include <vector>

#include "forkpool/detail/task_state.hpp"
#include "forkpool/detail/unique_function.hpp"
#include "pool_link.hpp"

namespace forkpool::detail {

class scheduler_lock {
 public:
  /// Waits for the lock. Takes nothing if this thread holds it already.
  explicit scheduler_lock(pool_link& link);
  /// Takes the lock only if it is free and this thread does not hold it already.
  scheduler_lock(pool_link& link, std::try_to_lock_t);
  ~scheduler_lock();
  scheduler_lock(const scheduler_lock&) = delete;
  scheduler_lock& operator=(const scheduler_lock&) = delete;

  /// This object took the lock (false for a nested or failed one).
  bool owns_lock() const noexcept { return lock_.owns_lock(); }
  /// Whether this thread holds some pool's scheduler lock.
  static bool held_by_this_thread() noexcept;
  /// Called as a task finishes: keeps its callbacks for the release of the lock this thread
  /// holds. False, and leaves them, when this thread holds no scheduler lock.
  static bool defer(std::vector<unique_function>& callbacks);

 private:
  static bool held_here(const pool_link& link) noexcept;
  void enter();
  std::unique_lock<std::mutex> lock_;
  scheduler_lock* outer_ = nullptr;  ///< the lock this thread held before this one
  std::vector<unique_function> deferred_;
};

}  // namespace forkpool::detail
