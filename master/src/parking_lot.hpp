// Where threads sleep until a task is done: a fixed table of mutex and condition-variable pairs
// shared by all tasks, picked by the task's address. A task then carries no condition variable
// of its own (48 bytes each in a burst of 100,000); a pair shared by two tasks only costs a
// waiter a spurious wake-up, which its predicate loop absorbs.
#pragma once

#include <condition_variable>
#include <mutex>

namespace forkpool::detail {

struct parking_spot {
  std::mutex mutex;
  std::condition_variable woken;
};

/// The spot for the object at `address` (any thread; the table lives as long as the process).
parking_spot& parking_spot_for(const void* address) noexcept;

}  // namespace forkpool::detail
