// forkpool::future<T>: the result of a submitted task, modelled on Python's
// concurrent.futures.Future. Copyable; copies share one state. Every member is thread-safe.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "forkpool/detail/task_state.hpp"
#include "forkpool/errors.hpp"

namespace forkpool {

template <class T>
class future {
 public:
  using value_type = T;

  future() = default;
  explicit future(std::shared_ptr<detail::future_state<T>> state) : state_(std::move(state)) {}

  /// False for a default-constructed future.
  bool valid() const noexcept { return state_ != nullptr; }

  /// Waits, then returns the result or throws the task's error (remote_error, worker_died, ...,
  /// cancelled_error if it was cancelled).
  T get() const& { return result(false); }
  /// As above; moves the result out when this is the last future sharing it.
  T get() && { return result(state_.use_count() == 1); }
  /// Waits at most `timeout`; throws timeout_error if the task is not done by then (it keeps
  /// running).
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) const {
    if (!wait_for(timeout)) throw timeout_error();
    return result(false);
  }

  void wait() const { state_->wait(); }
  /// Waits at most `timeout`. True if the task is done.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return state_->wait_until(std::chrono::steady_clock::now() +
                              std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }

  /// Finished, failed or cancelled.
  bool done() const { return state_->done(); }
  /// A worker is executing the task right now.
  bool running() const { return state_->running(); }
  /// Cancels the task if it has not started (even if it already sits in a worker's queue).
  /// True if it is now cancelled; false if it is running or done.
  bool cancel() { return state_->cancel(); }
  bool cancelled() const { return state_->cancelled(); }
  /// Waits; the task's error, or null on success.
  std::exception_ptr exception() const { return state_->exception(); }

  /// Calls `callback(future)` (or `callback()`) once the task is done: at once if it is, else on
  /// the pool's thread, so keep it short and non-blocking.
  template <class F>
  void add_done_callback(F callback) const {
    if constexpr (std::is_invocable_v<F&, const future&>) {
      state_->add_done_callback([callback = std::move(callback), self = *this]() mutable {
        callback(self);
      });
    } else {
      state_->add_done_callback(std::move(callback));
    }
  }

  /// The shared state (for forkpool's own helpers).
  const std::shared_ptr<detail::future_state<T>>& state() const noexcept { return state_; }

 private:
  T result(bool take) const {
    state_->rethrow_if_failed();
    return state_->value(take);
  }

  std::shared_ptr<detail::future_state<T>> state_;
};

}  // namespace forkpool
