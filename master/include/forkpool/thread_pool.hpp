// forkpool::thread_pool: the same API as process_pool, on threads of this process, like Python's
// ThreadPoolExecutor. Accepts any callable (lambdas with captures too). Switching a program
// between the two is a one-line change.
//
// Differences from process_pool, as in Python: a task's exception reaches get() as itself (not as
// remote_error); there are no worker processes to crash, restart or limit, so pool_options'
// process settings are ignored; `initializer` runs once in every thread.
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/make_call.hpp"
#include "forkpool/detail/thread_call.hpp"
#include "forkpool/detail/windowed_chunks.hpp"
#include "forkpool/future.hpp"
#include "forkpool/imap_range.hpp"
#include "forkpool/options.hpp"

namespace forkpool {

class thread_pool {
 public:
  /// Starts `options.workers` threads (default: one per core).
  explicit thread_pool(pool_options options = {});
  /// shutdown({.wait = true}).
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Runs `fn(args...)` on a pool thread; the arguments are copied (or moved) into the task, and
  /// the future holds a copy of what it returns (also of a reference).
  template <class F, class... A>
    requires std::invocable<std::decay_t<F>&, std::decay_t<A>&...>
  auto submit(F&& fn, A&&... args)
      -> future<std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>>>;

  /// Runs the registered task `name`, with the same type checks as process_pool.
  template <class R, class... A>
  future<R> submit(std::string_view name, A&&... args);

  /// fn applied to every input, results in input order; `chunksize` inputs per task. As for
  /// process_pool: an input that is a tuple is unpacked into fn's parameters when fn does not
  /// take the tuple itself; the same map_options (timeout, on_progress) and errors.
  template <class F, class Range>
  auto map(F fn, const Range& inputs, map_options options = {});
  /// As process_pool::imap: lazy, input order, a bounded window of chunks in flight.
  template <class F, std::ranges::input_range Range>
  auto imap(F fn, Range&& inputs, map_options options = {});
  /// As process_pool::imap_unordered: lazy, in the order the chunks finish.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F fn, Range&& inputs, map_options options = {});

  /// As process_pool::shutdown.
  void shutdown(shutdown_options options = {});
  pool_stats stats() const;

 private:
  struct impl;
  /// Queues `call` (whose `queued` keeps it alive) for the threads; throws pool_shut_down.
  void enqueue(detail::thread_call& call);
  void run_by_name(const std::shared_ptr<detail::task_state>& task);
  const std::shared_ptr<detail::pool_link>& link() const noexcept;
  std::size_t default_window() const noexcept;  ///< twice the threads
  template <class F, class Range>
  auto chunks_of(F fn, Range&& inputs, const map_options& options, std::size_t window,
                 detail::result_order order);
  /// imap and imap_unordered: the chunks, with options.window (or default_window()) in flight.
  template <class F, class Range>
  auto lazy(F fn, Range&& inputs, const map_options& options, detail::result_order order) {
    return detail::as_imap_range(chunks_of(fn, std::forward<Range>(inputs), options,
                                           options.window.value_or(default_window()), order));
  }

  std::unique_ptr<impl> impl_;
};

// ---- template definitions ----

template <class F, class... A>
  requires std::invocable<std::decay_t<F>&, std::decay_t<A>&...>
auto thread_pool::submit(F&& fn, A&&... args)
    -> future<std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>>> {
  using R = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>>;
  auto [state, call] = detail::new_thread_call<R>(
      link(),
      [fn = std::forward<F>(fn), arguments = std::make_tuple(std::forward<A>(args)...)]() mutable
      -> R { return std::apply(fn, arguments); });
  enqueue(*call);
  return future<R>(std::move(state));
}

template <class R, class... A>
future<R> thread_pool::submit(std::string_view name, A&&... args) {
  auto state = detail::new_named_call<R>(link(), name, std::forward<A>(args)...);
  // The call travels encoded, exactly as to a worker process, so the same checks apply.
  if (!state->done()) run_by_name(state);
  return future<R>(std::move(state));
}

namespace detail {
/// fn(input), or fn(elements of input...) for a tuple fn does not take whole: how both pools'
/// map unpacks the inputs of a task with several parameters.
template <class F, class Input>
decltype(auto) call_with_input(F& fn, Input&& input) {
  if constexpr (std::is_invocable_v<F&, Input&&>)
    return std::invoke(fn, std::forward<Input>(input));
  else
    return std::apply(fn, std::forward<Input>(input));
}
}  // namespace detail

template <class F, class Range>
auto thread_pool::chunks_of(F fn, Range&& inputs, const map_options& options, std::size_t window,
                            detail::result_order order) {
  using input = std::ranges::range_value_t<Range>;
  using R = std::decay_t<decltype(detail::call_with_input(fn, std::declval<const input&>()))>;
  static_assert(!std::is_void_v<R>, "map needs a function that returns a value");
  detail::check_map_options(options, "map");
  auto copy = [](auto&& x) { return input(std::forward<decltype(x)>(x)); };
  auto submit_chunk = [this, fn](std::vector<input>&& chunk) {
    return submit(
        [fn](const std::vector<input>& items) mutable {
          std::vector<R> results;
          results.reserve(items.size());
          for (const auto& item : items) results.push_back(detail::call_with_input(fn, item));
          return results;
        },
        std::move(chunk));
  };
  return detail::make_windowed_chunks<R>(std::forward<Range>(inputs), std::move(copy),
                                         std::move(submit_chunk), options, window, order);
}

template <class F, class Range>
auto thread_pool::map(F fn, const Range& inputs, map_options options) {
  return chunks_of(fn, inputs, options, detail::kUnboundedWindow, detail::result_order::input)
      ->collect();
}

template <class F, std::ranges::input_range Range>
auto thread_pool::imap(F fn, Range&& inputs, map_options options) {
  return lazy(fn, std::forward<Range>(inputs), options, detail::result_order::input);
}

template <class F, std::ranges::input_range Range>
auto thread_pool::imap_unordered(F fn, Range&& inputs, map_options options) {
  return lazy(fn, std::forward<Range>(inputs), options, detail::result_order::completion);
}

}  // namespace forkpool
