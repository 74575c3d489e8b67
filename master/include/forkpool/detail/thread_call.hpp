// A thread_pool call: the state its future shares and the closure a pool thread runs, in one
// allocation from task memory. A submission then costs one allocation (not one for the state and
// one for a type-erased closure), and a burst neither faults in fresh heap pages nor contends for
// the heap's lock with the threads that free what it allocated.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "forkpool/detail/task_memory.hpp"
#include "forkpool/detail/task_state.hpp"

namespace forkpool::detail {

/// Where a queued call points to the one queued after it (master/src/call_queue.hpp).
struct queue_link {
  std::atomic<queue_link*> next{nullptr};
};

class thread_call : public queue_link {
 public:
  virtual ~thread_call() = default;
  /// Runs the closure and finishes the task with what it returned or threw (the task has been
  /// started on this thread), then destroys the closure.
  virtual void run() noexcept = 0;
  /// Destroys the closure unrun (a cancelled call, or one a failed initializer answers).
  virtual void drop() noexcept = 0;

  task_state& task() noexcept { return *task_; }
  /// Keeps the allocation alive while the call is queued; the pool lets go of it once taken.
  std::shared_ptr<void> queued;

 protected:
  explicit thread_call(task_state& task) noexcept : task_(&task) {}

 private:
  task_state* task_;
};

/// A call whose future holds an R and whose closure is `Closure` (invoked with no arguments).
template <class R, class Closure>
class closure_call final : public thread_call {
 public:
  closure_call(std::shared_ptr<pool_link> link, Closure closure)
      : thread_call(state), state(std::move(link)), closure_(std::move(closure)) {}

  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        std::invoke(*closure_);
        state.succeed_with();
      } else {
        state.succeed_with(std::invoke(*closure_));
      }
    } catch (...) {
      state.fail(std::current_exception());
    }
    closure_.reset();
  }
  void drop() noexcept override { closure_.reset(); }

  future_state<R> state;

 private:
  std::optional<Closure> closure_;
};

/// A new call of `closure` and the state its future shares (which keeps the call alive). The
/// call's `queued` holds it too, until the pool takes it.
template <class R, class Closure>
std::pair<std::shared_ptr<future_state<R>>, thread_call*> new_thread_call(
    const std::shared_ptr<pool_link>& link, Closure closure) {
  using call_type = closure_call<R, Closure>;
  std::shared_ptr<call_type> call;
  if constexpr (alignof(call_type) <= 64)
    call = std::allocate_shared<call_type>(task_allocator<call_type>(), link, std::move(closure));
  else  // over-aligned captures: task memory is 64-byte aligned
    call = std::make_shared<call_type>(link, std::move(closure));
  std::shared_ptr<future_state<R>> state(call, &call->state);
  thread_call* raw = call.get();
  raw->queued = std::move(call);
  return {std::move(state), raw};
}

}  // namespace forkpool::detail
