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

namespace detail {
template <class T>
struct completion_signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct completion_signature<void> {
  using type = void(std::exception_ptr);
};
}  // namespace detail

template <class T>
class future {
 public:
  using value_type = T;

  future() = default;
  explicit future(std::shared_ptr<detail::future_state<T>> state) : state_(std::move(state)) {
    retain();
  }
  future(const future& other) : state_(other.state_) { retain(); }
  future(future&& other) noexcept = default;
  future& operator=(const future& other) {
    if (this != &other) {
      release();
      state_ = other.state_;
      retain();
    }
    return *this;
  }
  future& operator=(future&& other) noexcept {
    if (this != &other) {
      release();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~future() { release(); }

  /// False for a default-constructed future.
  bool valid() const noexcept { return state_ != nullptr; }

  /// Waits, then returns the result or throws the task's error (remote_error, worker_died, ...,
  /// cancelled_error if it was cancelled).
  T get() const& { return result(false); }
  /// As above; moves the result out when no other future shares it (a large result is then
  /// handed over, not copied).
  T get() && { return result(state_->future_handles.load(std::memory_order_acquire) == 1); }
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

  /// Waits until `deadline` at most. True if the task is done.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const {
    return state_->wait_until(deadline);
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
  /// the thread that reads its result (the pool's thread, or, for a process pool, a thread
  /// waiting on another of its futures), so keep it short and non-blocking.
  template <class F>
  void add_done_callback(F callback) const {
    if constexpr (std::is_invocable_v<F&, const future&>) {
      state_->add_done_callback(
          [callback = std::move(callback), self = *this]() mutable { callback(self); });
    } else {
      state_->add_done_callback(std::move(callback));
    }
  }

  /// Asynchronous get() for any Boost.Asio completion token (use_awaitable, a callback,
  /// use_future). Completion signature: void(std::exception_ptr, T), or void(std::exception_ptr)
  /// for future<void>. The completion runs on the handler's associated executor (for a callback:
  /// boost::asio::bind_executor(io, callback)), never on the pool's own thread, whether or not the
  /// task is already done. Defined in <forkpool/event_loop.hpp>, which brings Boost.Asio: include
  /// it (or <forkpool/forkpool.hpp>) where you call this.
  template <class CompletionToken>
  auto async_get(CompletionToken&& token) const;

  /// Copies of one future (which share its state) compare equal.
  friend bool operator==(const future& a, const future& b) noexcept { return a.state_ == b.state_; }

 private:
  T result(bool take) const {
    state_->rethrow_if_failed();
    return state_->value(take);
  }

  // Futures sharing the state are counted apart from the pool's own references, which come and
  // go on the pool's thread, so that get() && can tell whether it holds the last one.
  void retain() const noexcept {
    if (state_) state_->future_handles.fetch_add(1, std::memory_order_relaxed);
  }
  void release() const noexcept {
    if (state_) state_->future_handles.fetch_sub(1, std::memory_order_acq_rel);
  }

  std::shared_ptr<detail::future_state<T>> state_;
};

}  // namespace forkpool
