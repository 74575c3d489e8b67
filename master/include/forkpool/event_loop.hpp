// The asyncio equivalents: run blocking or CPU-heavy work from a Boost.Asio coroutine without
// stalling its io_context.
//
//   int r = co_await forkpool::run_in_executor(pool, square, 7);  // loop.run_in_executor
//   auto async_square = forkpool::force_async(pool, square);      // a "force_async" decorator
//   int r2 = co_await async_square(8);
#pragma once

#include <utility>  // first: Boost 1.74's Asio headers use std::exchange without including it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

#include "forkpool/executor.hpp"
#include "forkpool/future.hpp"
#include "forkpool/thread_pool.hpp"

namespace forkpool {

/// The executor run_in_executor uses when none is given: a thread_pool created on first use, with
/// one thread per core (as asyncio's default executor).
thread_pool& default_executor();

namespace detail {
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

/// run_in_executor on the default executor.
template <class F, class... A>
  requires(!executor<std::remove_cvref_t<F>>)
auto run_in_executor(F&& fn, A&&... args) {
  return run_in_executor(default_executor(), std::forward<F>(fn), std::forward<A>(args)...);
}

/// Wraps `fn` so that each call submits it to `pool` and returns an awaitable of the result.
/// `pool` must outlive the wrapper.
template <executor E, class F>
auto force_async(E& pool, F fn) {
  return [&pool, fn](auto&&... args) {
    return run_in_executor(pool, fn, std::forward<decltype(args)>(args)...);
  };
}

/// force_async on the default executor.
template <class F>
  requires(!executor<std::remove_cvref_t<F>>)
auto force_async(F fn) {
  return force_async(default_executor(), std::move(fn));
}

}  // namespace forkpool
