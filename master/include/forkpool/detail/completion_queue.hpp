// Collects the positions of futures in the order they finish (for wait and as_completed).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace forkpool::detail {

class completion_queue {
 public:
  /// Called by a future's done callback.
  void push(std::size_t index);
  /// The next finished position, or nullopt if none came before `deadline`.
  std::optional<std::size_t> pop(std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::size_t> finished_;
};

}  // namespace forkpool::detail
