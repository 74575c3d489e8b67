// Boost.Asio integration: async_get with every kind of completion token, run_in_executor,
// force_async, and an io_context that keeps running while CPU-heavy work runs elsewhere.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include <forkpool/event_loop.hpp>

#include "test_tasks.hpp"

using namespace forkpool;

TEST_SUITE_BEGIN("pool");
namespace asio = boost::asio;

namespace {

long busy_work(long iterations) {  // CPU-heavy, no sleeping
  volatile long acc = 0;
  for (long i = 0; i < iterations; ++i) acc = acc + (i % 7) * (i % 11);
  return acc;
}

// Runs `coroutine` on a fresh io_context to completion and returns what it stored.
template <class Coroutine>
void run_coroutine(Coroutine coroutine) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(coroutine), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

FORKPOOL_TASK(busy_work);

TEST_CASE("asio: a coroutine awaits results from both pools" * doctest::timeout(30)) {
  process_pool processes(test_tasks::options(2));
  thread_pool threads({.workers = 2});
  int from_processes = 0, from_threads = 0, by_async_get = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    from_processes = co_await run_in_executor(processes, test_tasks::square, 7);
    from_threads = co_await run_in_executor(
        threads, [](int x) { return x + 1; }, 7);
    by_async_get =
        co_await processes.submit(test_tasks::add, 20, 22).async_get(asio::use_awaitable);
    co_await run_in_executor(processes, test_tasks::touch, 1);  // void
  });
  CHECK(from_processes == 49);
  CHECK(from_threads == 8);
  CHECK(by_async_get == 42);
}

TEST_CASE("asio: many concurrent awaits from one io_context" * doctest::timeout(60)) {
  process_pool pool(test_tasks::options(2));
  asio::io_context io;
  constexpr int kCoroutines = 300;
  std::atomic<int> correct{0};
  for (int i = 0; i < kCoroutines; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          const int a = co_await run_in_executor(pool, test_tasks::square, i);
          const int b = co_await run_in_executor(pool, test_tasks::add, a, 1);
          if (b == i * i + 1) ++correct;
        },
        asio::detached);
  }
  io.run();
  CHECK(correct == kCoroutines);
}

TEST_CASE("asio: run_in_executor submits at once so awaits overlap" * doctest::timeout(30)) {
  process_pool pool(test_tasks::options(2));
  std::uint64_t first_pid = 0, second_pid = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    auto first = run_in_executor(pool, test_tasks::sleep_ms, 200);
    auto second = run_in_executor(pool, test_tasks::sleep_ms, 200);
    first_pid = co_await std::move(first);
    second_pid = co_await std::move(second);
  });
  CHECK(first_pid != second_pid);  // both ran at the same time, on different workers
}

TEST_CASE("asio: a callback bound to an io_context runs on its thread and not the pool's" *
          doctest::timeout(30)) {
  process_pool pool(test_tasks::options(1));
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  std::promise<std::thread::id> ran_on;
  std::promise<int> value;
  pool.submit(test_tasks::square, 5)
      .async_get(asio::bind_executor(io, [&](std::exception_ptr e, int v) {
        ran_on.set_value(std::this_thread::get_id());
        value.set_value(e ? -1 : v);
      }));
  CHECK(value.get_future().get() == 25);
  CHECK(ran_on.get_future().get() == io_thread.get_id());

  // Already done: still delivered through the executor, not inline in async_get.
  auto done = pool.submit(test_tasks::square, 6);
  done.wait();
  std::atomic<bool> delivered{false};
  std::promise<std::thread::id> second;
  done.async_get(asio::bind_executor(io, [&](std::exception_ptr, int) {
    delivered = true;
    second.set_value(std::this_thread::get_id());
  }));
  CHECK(second.get_future().get() == io_thread.get_id());
  guard.reset();
  io_thread.join();
  CHECK(delivered);
}

TEST_CASE("asio: use_future gives a std::future" * doctest::timeout(30)) {
  process_pool pool(test_tasks::options(1));
  std::future<int> f = pool.submit(test_tasks::square, 11).async_get(asio::use_future);
  CHECK(f.get() == 121);
  std::future<int> g = pool.submit(test_tasks::throws_int, 0).async_get(asio::use_future);
  CHECK_THROWS_AS(g.get(), remote_error);
}

TEST_CASE("asio: task errors are thrown at the co_await" * doctest::timeout(30)) {
  process_pool processes(test_tasks::options(1));
  thread_pool threads({.workers = 1});
  bool remote = false, original = false;
  run_coroutine([&]() -> asio::awaitable<void> {
    try {
      co_await run_in_executor(processes, test_tasks::throws_runtime_error, "boom");
    } catch (const remote_error& e) {
      remote = e.message() == "boom";
    }
    try {
      co_await run_in_executor(threads, [] { throw std::domain_error("thread boom"); });
    } catch (const std::domain_error&) {
      original = true;
    }
  });
  CHECK(remote);
  CHECK(original);
}

TEST_CASE("asio: cancelling a task that has not started is seen by its awaiter as cancelled_error" *
          doctest::timeout(30)) {
  process_pool pool(test_tasks::options(1));
  auto blocker = pool.submit(test_tasks::sleep_ms, 1000);
  test_tasks::wait_until_running(blocker);
  future<int> queued = pool.submit(test_tasks::square, 3);
  bool saw_cancelled = false;
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await queued.async_get(asio::use_awaitable);
        } catch (const cancelled_error&) {
          saw_cancelled = true;
        }
      },
      asio::detached);
  io.poll();  // the coroutine is now suspended on the future
  CHECK(queued.cancel());
  io.run();
  CHECK(saw_cancelled);
}

TEST_CASE("asio: force_async and the default executor" * doctest::timeout(30)) {
  process_pool pool(test_tasks::options(2));
  auto async_square = force_async(pool, test_tasks::square);
  auto async_upper = force_async([](std::string s) {  // on the default thread pool
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  });
  int a = 0, b = 0;
  std::string c, d;
  run_coroutine([&]() -> asio::awaitable<void> {
    auto fa = async_square(8);
    auto fb = async_square(9);
    a = co_await std::move(fa);
    b = co_await std::move(fb);
    c = co_await async_upper(std::string("quiet"));
    d = co_await run_in_executor(
        [](int n) { return std::string(static_cast<std::size_t>(n), 'z'); }, 3);
  });
  CHECK(a == 64);
  CHECK(b == 81);
  CHECK(c == "QUIET");
  CHECK(d == "zzz");
  CHECK(default_executor().stats().completed >= 2);
}

TEST_CASE("asio: the io_context keeps ticking while CPU-heavy work runs in the pool" *
          doctest::timeout(120)) {
  // Calibrate one task to roughly 100 ms on this machine.
  long iterations = 1'000'000;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    busy_work(iterations);
    if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(100)) break;
    iterations *= 2;
  }
  process_pool pool(test_tasks::options(2));
  pool.submit(busy_work, 1L).get();  // workers up

  // Counts the ticks of a 10 ms timer while `work` runs on the same io_context.
  auto ticks_during = [&](auto work) {
    asio::io_context io;
    std::atomic<bool> done{false};
    int ticks = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer timer(co_await asio::this_coro::executor);
          while (!done) {
            timer.expires_after(std::chrono::milliseconds(10));
            co_await timer.async_wait(asio::use_awaitable);
            ++ticks;
          }
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await work();
          done = true;
        },
        asio::detached);
    io.run();
    return ticks;
  };

  const int inline_ticks = ticks_during([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 4; ++i) busy_work(iterations);  // blocks the loop
    co_return;
  });
  const int pooled_ticks = ticks_during([&]() -> asio::awaitable<void> {
    std::vector<asio::awaitable<long>> runs;
    auto a = run_in_executor(pool, busy_work, iterations);
    auto b = run_in_executor(pool, busy_work, iterations);
    auto c = run_in_executor(pool, busy_work, iterations);
    auto d = run_in_executor(pool, busy_work, iterations);
    co_await std::move(a);
    co_await std::move(b);
    co_await std::move(c);
    co_await std::move(d);
  });
  MESSAGE("ticks while inline: " << inline_ticks << ", while pooled: " << pooled_ticks);
  // Inline, the timer cannot fire until the work is over; pooled, it fires throughout (~20 times
  // on an idle machine, fewer when other processes take the cores, but never as few as inline).
  CHECK(inline_ticks <= 2);
  CHECK(pooled_ticks >= 4);
}

TEST_SUITE_END();
