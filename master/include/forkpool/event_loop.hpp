// The asyncio equivalents: run blocking or CPU-heavy work from a Boost.Asio coroutine without
// stalling its io_context, and the way back.
//
//   int r = co_await forkpool::run_in_executor(pool, square, 7);  // loop.run_in_executor
//   auto async_square = forkpool::force_async(pool, square);      // a "force_async" decorator
//   int r2 = co_await async_square(8);
//   forkpool::set_default_executor(processes);                    // loop.set_default_executor
//   auto fetch = forkpool::force_sync(fetch_async);               // awaitable -> plain call
//   std::string page = fetch("/index.html");
#pragma once

#include <utility>  // first: Boost 1.74's Asio headers use std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <stdexcept>
#include <type_traits>

#include "forkpool/any_executor.hpp"
#include "forkpool/executor.hpp"
#include "forkpool/future.hpp"
#include "forkpool/process_pool.hpp"
#include "forkpool/thread_pool.hpp"

namespace forkpool {

// future::async_get, declared in future.hpp: defined here, with Boost.Asio.
template <class T>
template <class CompletionToken>
auto future<T>::async_get(CompletionToken&& token) const {
  using signature = typename detail::completion_signature<T>::type;
  return boost::asio::async_initiate<CompletionToken, signature>(
      [](auto handler, std::shared_ptr<detail::future_state<T>> state) {
        // Keeps the handler's executor (its io_context) alive while the task runs.
        auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
        state->add_done_callback(
            [state, handler = std::move(handler), work = std::move(work)]() mutable {
              auto executor = work.get_executor();
              boost::asio::post(executor, [state, handler = std::move(handler)]() mutable {
                std::exception_ptr error = state->exception();  // done: does not block
                if constexpr (std::is_void_v<T>) {
                  std::move(handler)(error);
                } else if (error) {
                  std::move(handler)(error, T{});
                } else {
                  std::move(handler)(error, state->value(false));
                }
              });
            });
      },
      token, state_);
}

/// The built-in default executor: a thread_pool created on first use, with one thread per core
/// (as asyncio's default executor).
thread_pool& default_executor();

/// Like asyncio's loop.set_default_executor: from now on run_in_executor(fn, ...) and the
/// wrappers of force_async(fn) made without a pool submit to `pool`, which must outlive those
/// calls. Calls already submitted finish on the executor they went to. Any thread may call it.
void set_default_executor(thread_pool& pool);
void set_default_executor(process_pool& pool);

namespace detail {
/// Where run_in_executor and force_async without a pool submit: default_executor() until
/// set_default_executor.
any_executor& default_executor_handle();

template <class Awaitable>
struct awaitable_value;
template <class T, class Executor>
struct awaitable_value<boost::asio::awaitable<T, Executor>> {
  using type = T;
};

/// Whether the calling thread is running `executor`'s io_context (waiting there for work that
/// needs that io_context would never end).
template <class Executor>
bool runs_in_this_thread(const Executor& executor) {
  if constexpr (requires { executor.running_in_this_thread(); }) {
    return executor.running_in_this_thread();
  } else if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>) {
    const auto* io = executor.template target<boost::asio::io_context::executor_type>();
    return io != nullptr && io->running_in_this_thread();
  } else {
    return false;
  }
}

template <class T>
boost::asio::awaitable<T> await_future(future<T> f) {
  co_return co_await f.async_get(boost::asio::use_awaitable);
}
}  // namespace detail

/// Submits `fn(args...)` to `pool` now, and returns an awaitable of its result. Awaiting suspends
/// the coroutine, never the io_context; the task's error is thrown at the co_await.
template <executor E, class F, class... A>
auto run_in_executor(E& pool, F&& fn, A&&... args) {
  return detail::await_future(pool.submit(std::forward<F>(fn), std::forward<A>(args)...));
}

/// run_in_executor on the default executor (see set_default_executor).
template <class F, class... A>
  requires(!executor<std::remove_cvref_t<F>>)
auto run_in_executor(F&& fn, A&&... args) {
  return run_in_executor(detail::default_executor_handle(), std::forward<F>(fn),
                         std::forward<A>(args)...);
}

/// Wraps `fn` so that each call submits it to `pool` and returns an awaitable of the result.
/// `pool` must outlive the wrapper.
template <executor E, class F>
auto force_async(E& pool, F fn) {
  return [&pool, fn](auto&&... args) {
    return run_in_executor(pool, fn, std::forward<decltype(args)>(args)...);
  };
}

/// force_async on the default executor: each call goes to the default of that moment.
template <class F>
  requires(!executor<std::remove_cvref_t<F>>)
auto force_async(F fn) {
  return force_async(detail::default_executor_handle(), std::move(fn));
}

/// The other half of force_async: wraps `fn`, whose calls return boost::asio::awaitable<T>, so
/// that a plain synchronous caller gets the T (or the exception) by calling it. Each call runs
/// the coroutine to completion on a private io_context in the calling thread.
template <class F>
auto force_sync(F fn) {
  return [fn](auto&&... args) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, fn(std::forward<decltype(args)>(args)...),
                                        boost::asio::use_future);
    io.run();
    return result.get();
  };
}

/// force_sync on `executor`: each call co_spawns the coroutine there and waits for it. Called
/// from a thread that is running that executor's io_context, it would wait for itself forever:
/// it throws std::logic_error instead.
template <class Executor, class F>
  requires(boost::asio::execution::is_executor<Executor>::value ||
           boost::asio::is_executor<Executor>::value)
auto force_sync(Executor executor, F fn) {
  return [executor, fn](auto&&... args) {
    if (detail::runs_in_this_thread(executor))
      throw std::logic_error(
          "force_sync: called on a thread that runs the executor's io_context, which would wait "
          "for itself forever; co_await the coroutine there instead");
    return boost::asio::co_spawn(executor, fn(std::forward<decltype(args)>(args)...),
                                 boost::asio::use_future)
        .get();
  };
}

}  // namespace forkpool
