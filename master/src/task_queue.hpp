// The calls waiting for a worker, oldest first: a ring of task pointers that keeps its memory.
//
// Why not std::deque: it allocates a 512-byte block every 32 calls and frees it once the front
// has passed. In a burst the submitting thread allocates those blocks and the pool's thread frees
// them, so each free takes the submitter's malloc arena lock while the submitter is inside
// malloc: perf over a 300k no-op burst showed 2.3% of the master's samples waiting on that lock
// in the kernel, and as many context switches. A ring reuses its slots; it grows by doubling and
// goes back to a small size once it empties after a burst.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <boost/circular_buffer.hpp>

#include "forkpool/detail/task_state.hpp"

namespace forkpool::detail {

class task_queue {
 public:
  using task_ptr = std::shared_ptr<task_state>;

  bool empty() const noexcept { return calls_.empty(); }
  std::size_t size() const noexcept { return calls_.size(); }
  std::size_t capacity() const noexcept { return calls_.capacity(); }
  task_ptr& front() noexcept { return calls_.front(); }

  void push_back(task_ptr task) {
    make_room(1);
    calls_.push_back(std::move(task));
  }
  /// Back to the front of the line (a call that found its worker's ring full).
  void push_front(task_ptr task) {
    make_room(1);
    calls_.push_front(std::move(task));
  }
  /// `tasks` first in line, in their order, ahead of every call already waiting.
  void push_front(std::vector<task_ptr> tasks) {
    make_room(tasks.size());
    for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) calls_.push_front(std::move(*it));
  }
  task_ptr take_front() {
    task_ptr task = std::move(calls_.front());
    calls_.pop_front();
    if (calls_.empty() && calls_.capacity() > kKept) calls_.set_capacity(kKept);
    return task;
  }
  void clear() {
    calls_.clear();
    if (calls_.capacity() > kKept) calls_.set_capacity(kKept);
  }

  auto begin() noexcept { return calls_.begin(); }
  auto end() noexcept { return calls_.end(); }

 private:
  /// Slots kept while the line is empty: 64 KiB, a few rings' worth of calls.
  static constexpr std::size_t kKept = 4096;

  void make_room(std::size_t more) {
    const std::size_t needed = calls_.size() + more;
    if (needed <= calls_.capacity()) return;
    calls_.set_capacity(std::max({needed, 2 * calls_.capacity(), std::size_t{64}}));
  }

  // circular_buffer, not a hand-made ring: a full push would overwrite the oldest call, which
  // make_room() rules out by growing first.
  boost::circular_buffer<task_ptr> calls_;
};

}  // namespace forkpool::detail
