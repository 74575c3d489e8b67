#include "forkpool/detail/completion_queue.hpp"

namespace forkpool::detail {

void completion_queue::push(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    finished_.push_back(index);
  }
  ready_.notify_one();
}

std::optional<std::size_t> completion_queue::pop(
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::unique_lock lock(mutex_);
  auto has_one = [&] { return !finished_.empty(); };
  if (deadline) {
    if (!ready_.wait_until(lock, *deadline, has_one)) return std::nullopt;
  } else {
    ready_.wait(lock, has_one);
  }
  const std::size_t index = finished_.front();
  finished_.pop_front();
  return index;
}

}  // namespace forkpool::detail
