// forkpool::process_pool: runs registered tasks in pre-forked worker processes, like Python's
// concurrent.futures.ProcessPoolExecutor.
#pragma once

#include <concepts>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "forkpool/detail/chunked_calls.hpp"
#include "forkpool/detail/make_call.hpp"
#include "forkpool/future.hpp"
#include "forkpool/imap_range.hpp"
#include "forkpool/options.hpp"
#include "forkpool/task.hpp"

namespace forkpool {

namespace detail {
class pool_core;
struct encoded_calls;
}  // namespace detail

class process_pool {
 public:
  /// Starts the fork server (for start_method::forkserver) and the workers. Throws
  /// std::invalid_argument for bad options, and broken_pool when the workers cannot be given
  /// what they need (descriptors, memory, a process).
  explicit process_pool(pool_options options = {});
  /// shutdown({.wait = true}). From one of the pool's own done callbacks, the wait happens on
  /// another thread, which frees the pool once it is done. In a child made by fork() from the
  /// pool's process, returns at once and touches nothing of the parent's pool.
  ~process_pool();
  process_pool(const process_pool&) = delete;
  process_pool& operator=(const process_pool&) = delete;

  /// Runs `fn(args...)` in a worker. `fn` is a registered task; the arguments are converted to
  /// its parameter types. Throws pool_shut_down after shutdown(), unknown_task for a function
  /// not registered, std::logic_error in a child made by fork() from the pool's process; every
  /// other error lands on the future (an argument whose serialization throws: bad_arguments).
  template <detail::task_function F, class... A>
  auto submit(F fn, A&&... args) -> future<detail::task_result_t<F>>;
  /// As above, with this call's own settings: `pool.submit({.timeout = 2s}, fn, args...)`.
  /// A negative timeout is std::invalid_argument.
  template <detail::task_function F, class... A>
  auto submit(const call_options& call, F fn, A&&... args) -> future<detail::task_result_t<F>>;

  /// A closure (a lambda with captures, a function object) cannot run in another process: this
  /// overload only says so, at compile time.
  template <class F, class... A>
    requires(!detail::task_function<std::decay_t<F>> && std::invocable<F&, A...>)
  future<std::invoke_result_t<F&, A...>> submit(F&&, A&&...) {
    static_assert(
        detail::always_false<F>,
        "process_pool::submit: a closure (a lambda with captures, or a function "
        "object) cannot cross into another process; register a plain function with "
        "FORKPOOL_TASK and pass what it needs as arguments, or use forkpool::thread_pool");
    return {};
  }

  /// Runs the task registered as `name`. The argument types must be exactly the task's parameter
  /// types (string literals count as std::string) and R its result type, else the future fails
  /// with bad_arguments.
  template <class R, class... A>
  future<R> submit(std::string_view name, A&&... args);
  /// As above, with this call's own settings.
  template <class R, class... A>
  future<R> submit(const call_options& call, std::string_view name, A&&... args);

  /// fn applied to every input, results in input order. `chunksize` inputs travel per frame
  /// (a chunk fails as a whole). For a task with several parameters, each input is a tuple of
  /// arguments. Throws the first error in input order, or timeout_error once options.timeout
  /// has passed (the remaining calls are cancelled). Bad options: std::invalid_argument.
  template <detail::task_function F, class Range>
  auto map(F fn, const Range& inputs, map_options options = {})
      -> std::vector<detail::task_result_t<F>>;

  /// map, lazily and in input order: reads `inputs` (any input range, a generator too) only as
  /// the loop moves, with at most options.window chunks in flight. See imap_range for errors
  /// and leaving early. An lvalue range must outlive the loop; an rvalue one is kept.
  template <detail::task_function F, std::ranges::input_range Range>
  auto imap(F fn, Range&& inputs, map_options options = {}) -> imap_range<detail::task_result_t<F>>;
  /// imap, results in the order the chunks finish.
  template <detail::task_function F, std::ranges::input_range Range>
  auto imap_unordered(F fn, Range&& inputs, map_options options = {})
      -> imap_range<detail::task_result_t<F>>;

  /// As for submit: a closure cannot run in another process.
  template <class F, class Range>
    requires(!detail::task_function<std::decay_t<F>> && !std::convertible_to<F, std::string_view>)
  std::vector<std::invoke_result_t<F&, decltype(*std::begin(std::declval<const Range&>()))>> map(
      F&&, const Range&, map_options = {}) {
    static_assert(detail::always_false<F>,
                  "process_pool::map: a closure (a lambda with captures, or a function object) "
                  "cannot cross into another process; register a plain function with "
                  "FORKPOOL_TASK, or use forkpool::thread_pool");
    return {};
  }

  /// Stops accepting tasks. With `wait`, returns once every task has finished and the workers
  /// have exited; a worker told to stop that has not exited after kStopGrace (2 s) is killed
  /// (SIGKILL). With `cancel_pending`, tasks not yet started are cancelled. Throws
  /// std::logic_error for `wait` on the pool's own thread (a done callback). In a child made by
  /// fork(), does nothing.
  void shutdown(shutdown_options options = {});

  /// Replaces every worker, rolling: each finishes the call it is running, its queued calls move
  /// to the new workers, and nothing is lost or run twice. Returns at once; calls submitted after
  /// it returns run on the new workers. Requests made while a restart is still in progress are
  /// done together once it is over.
  void restart_workers();

  pool_stats stats() const;
  const pool_options& options() const noexcept;

 private:
  friend struct detail::encoded_calls;  // forkpool-master's encoded calls

  void enqueue(std::shared_ptr<detail::task_state> task);
  const std::shared_ptr<detail::pool_link>& link() const noexcept;
  /// imap's chunks in flight when map_options::window is unset: twice the workers.
  std::size_t default_window() const noexcept;
  /// The chunks of map / imap: `inputs` read lazily, each chunk one call_chunk frame.
  template <class F, class Range>
  auto chunks_of(F fn, Range&& inputs, const map_options& options, std::size_t window,
                 detail::result_order order);
  /// imap and imap_unordered: the chunks, with options.window (or default_window()) in flight.
  template <class F, class Range>
  auto lazy(F fn, Range&& inputs, const map_options& options, detail::result_order order) {
    return detail::as_imap_range(chunks_of(fn, std::forward<Range>(inputs), options,
                                           options.window.value_or(default_window()), order));
  }

  std::unique_ptr<detail::pool_core> core_;
};

// ---- template definitions ----

template <detail::task_function F, class... A>
auto process_pool::submit(F fn, A&&... args) -> future<detail::task_result_t<F>> {
  return submit(call_options{}, fn, std::forward<A>(args)...);
}

template <detail::task_function F, class... A>
auto process_pool::submit(const call_options& call, F fn, A&&... args)
    -> future<detail::task_result_t<F>> {
  detail::check_call_options(call);
  auto state = detail::new_function_call(link(), fn, std::forward<A>(args)...);
  state->timeout = call.timeout;
  if (!state->done()) enqueue(state);
  return future<detail::task_result_t<F>>(std::move(state));
}

template <class R, class... A>
future<R> process_pool::submit(std::string_view name, A&&... args) {
  return submit<R>(call_options{}, name, std::forward<A>(args)...);
}

template <class R, class... A>
future<R> process_pool::submit(const call_options& call, std::string_view name, A&&... args) {
  detail::check_call_options(call);
  auto state = detail::new_named_call<R>(link(), name, std::forward<A>(args)...);
  state->timeout = call.timeout;
  if (!state->done()) enqueue(state);
  return future<R>(std::move(state));
}

template <class F, class Range>
auto process_pool::chunks_of(F fn, Range&& inputs, const map_options& options, std::size_t window,
                             detail::result_order order) {
  return detail::chunked_calls(
      link(), [this](std::shared_ptr<detail::task_state> call) { enqueue(std::move(call)); }, fn,
      std::forward<Range>(inputs), options, window, order);
}

template <detail::task_function F, class Range>
auto process_pool::map(F fn, const Range& inputs, map_options options)
    -> std::vector<detail::task_result_t<F>> {
  using traits = detail::function_traits<detail::task_pointer_t<F>>;
  if constexpr (!detail::require_sendable_task<traits>())
    return {};  // the error says why
  else
    return chunks_of(fn, inputs, options, detail::kUnboundedWindow, detail::result_order::input)
        ->collect();
}

template <detail::task_function F, std::ranges::input_range Range>
auto process_pool::imap(F fn, Range&& inputs, map_options options)
    -> imap_range<detail::task_result_t<F>> {
  return lazy(fn, std::forward<Range>(inputs), options, detail::result_order::input);
}

template <detail::task_function F, std::ranges::input_range Range>
auto process_pool::imap_unordered(F fn, Range&& inputs, map_options options)
    -> imap_range<detail::task_result_t<F>> {
  return lazy(fn, std::forward<Range>(inputs), options, detail::result_order::completion);
}

}  // namespace forkpool
