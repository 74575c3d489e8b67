// any_executor: one handle that submits to a thread_pool or a process_pool, and can be pointed
// at another one while calls are in flight, as a server framework's set_executor does for its
// handlers.
//
//   forkpool::any_executor ex(threads);
//   auto f = ex.submit(checksum, blob);   // on threads
//   ex.set_executor(processes);          // f finishes on threads; later calls go to processes
#pragma once

#include <mutex>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "forkpool/future.hpp"
#include "forkpool/options.hpp"
#include "forkpool/process_pool.hpp"
#include "forkpool/thread_pool.hpp"

namespace forkpool {

/// Holds a pool by reference (the pool must outlive the calls made through it). Every member
/// may be called from any thread.
class any_executor {
 public:
  explicit any_executor(thread_pool& pool) noexcept { target_.threads = &pool; }
  explicit any_executor(process_pool& pool) noexcept { target_.processes = &pool; }
  any_executor(const any_executor&) = delete;
  any_executor& operator=(const any_executor&) = delete;

  /// From now on, calls go to `pool`; calls already submitted finish where they started.
  void set_executor(thread_pool& pool) noexcept { set({&pool, nullptr}); }
  void set_executor(process_pool& pool) noexcept { set({nullptr, &pool}); }

  /// Whether calls go to a process_pool now.
  bool holds_process_pool() const noexcept { return current().processes != nullptr; }

  /// As the held pool's submit. A closure (a lambda with captures, a function object) can only
  /// run on a thread_pool: on a process_pool, throws std::invalid_argument.
  template <class F, class... A>
    requires std::invocable<std::decay_t<F>&, std::decay_t<A>&...>
  auto submit(F&& fn, A&&... args)
      -> future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>> {
    const target now = current();
    if constexpr (detail::task_function<std::decay_t<F>>) {
      if (now.processes != nullptr) return now.processes->submit(+fn, std::forward<A>(args)...);
    } else {
      if (now.processes != nullptr) throw std::invalid_argument(kClosureOnProcesses);
    }
    return now.threads->submit(std::forward<F>(fn), std::forward<A>(args)...);
  }

  /// The registered task `name`, on the held pool.
  template <class R, class... A>
  future<R> submit(std::string_view name, A&&... args) {
    const target now = current();
    if (now.processes != nullptr) return now.processes->submit<R>(name, std::forward<A>(args)...);
    return now.threads->submit<R>(name, std::forward<A>(args)...);
  }

  /// As the held pool's map; a closure as for submit.
  template <class F, class Range>
  auto map(F fn, const Range& inputs, map_options options = {}) {
    const target now = current();
    if constexpr (detail::task_function<F>) {
      if (now.processes != nullptr) return now.processes->map(+fn, inputs, options);
    } else {
      if (now.processes != nullptr) throw std::invalid_argument(kClosureOnProcesses);
    }
    return now.threads->map(std::move(fn), inputs, options);
  }

  /// The held pool's statistics.
  pool_stats stats() const {
    const target now = current();
    return now.processes != nullptr ? now.processes->stats() : now.threads->stats();
  }

  /// Shuts the held pool down (see process_pool::shutdown).
  void shutdown(shutdown_options options = {}) {
    const target now = current();
    if (now.processes != nullptr) {
      now.processes->shutdown(options);
    } else {
      now.threads->shutdown(options);
    }
  }

 private:
  struct target {
    thread_pool* threads = nullptr;
    process_pool* processes = nullptr;
  };
  static constexpr const char* kClosureOnProcesses =
      "any_executor: a closure (a lambda with captures, or a function object) cannot cross into "
      "another process; the executor holds a process_pool: register a plain function with "
      "FORKPOOL_TASK, or point the executor at a thread_pool";

  target current() const {
    std::lock_guard lock(mutex_);
    return target_;
  }
  void set(target next) noexcept {
    std::lock_guard lock(mutex_);
    target_ = next;
  }

  mutable std::mutex mutex_;
  target target_;
};

}  // namespace forkpool
