// Waiting on many futures: forkpool::wait and forkpool::as_completed, as in Python's
// concurrent.futures.
#pragma once

#include <algorithm>
#include <chrono>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "forkpool/detail/completion_queue.hpp"
#include "forkpool/future.hpp"

namespace forkpool {

namespace detail {
/// `futures` with each future once (copies share one state), in the order first seen: as
/// Python's wait() and as_completed() take a set.
template <class T>
std::vector<future<T>> distinct_futures(std::vector<future<T>> futures) {
  std::vector<future<T>> distinct;
  for (auto& f : futures)
    if (std::find(distinct.begin(), distinct.end(), f) == distinct.end())
      distinct.push_back(std::move(f));
  return distinct;
}
}  // namespace detail

enum class return_when { first_completed, first_exception, all_completed };

template <class T>
struct wait_result {
  std::vector<future<T>> done;
  std::vector<future<T>> not_done;
};

/// Waits until the condition holds, or `timeout` passes, then splits the futures into done and
/// not done (in their original order; a future given twice appears once). Never throws the
/// tasks' errors.
template <class T>
wait_result<T> wait(const std::vector<future<T>>& given,
                    return_when when = return_when::all_completed,
                    std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
  const std::vector<future<T>> futures = detail::distinct_futures(given);
  auto queue = std::make_shared<detail::completion_queue>();
  for (std::size_t i = 0; i < futures.size(); ++i)
    futures[i].add_done_callback([queue, i] { queue->push(i); });
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;

  for (std::size_t finished = 0; finished < futures.size(); ++finished) {
    const std::optional<std::size_t> index = queue->pop(deadline);
    if (!index) break;
    if (when == return_when::first_completed) break;
    if (when == return_when::first_exception && !futures[*index].cancelled() &&
        futures[*index].exception())
      break;
  }
  wait_result<T> result;
  for (const auto& f : futures) (f.done() ? result.done : result.not_done).push_back(f);
  return result;
}

/// A range that yields the futures as they finish: `for (auto& f : as_completed(fs))`; a future
/// given twice is yielded once. With a timeout, advancing past the deadline throws timeout_error.
template <class T>
class as_completed_range {
 public:
  as_completed_range(std::vector<future<T>> futures,
                     std::optional<std::chrono::steady_clock::duration> timeout)
      : futures_(detail::distinct_futures(std::move(futures))),
        queue_(std::make_shared<detail::completion_queue>()) {
    if (timeout) deadline_ = std::chrono::steady_clock::now() + *timeout;
    for (std::size_t i = 0; i < futures_.size(); ++i)
      futures_[i].add_done_callback([queue = queue_, i] { queue->push(i); });
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = future<T>;
    using difference_type = std::ptrdiff_t;
    using pointer = const future<T>*;
    using reference = const future<T>&;

    iterator() = default;
    explicit iterator(as_completed_range* range) : range_(range) { advance(); }
    reference operator*() const { return range_->futures_[current_]; }
    pointer operator->() const { return &range_->futures_[current_]; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const iterator& a, const iterator& b) { return a.range_ == b.range_; }

   private:
    void advance() {
      if (range_->yielded_ == range_->futures_.size()) {
        range_ = nullptr;
        return;
      }
      const std::optional<std::size_t> index = range_->queue_->pop(range_->deadline_);
      if (!index) throw timeout_error();
      current_ = *index;
      ++range_->yielded_;
    }
    as_completed_range* range_ = nullptr;
    std::size_t current_ = 0;
  };

  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  std::vector<future<T>> futures_;
  std::shared_ptr<detail::completion_queue> queue_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::size_t yielded_ = 0;
};

template <class T>
as_completed_range<T> as_completed(
    std::vector<future<T>> futures,
    std::optional<std::chrono::steady_clock::duration> timeout = std::nullopt) {
  return as_completed_range<T>(std::move(futures), timeout);
}

}  // namespace forkpool
