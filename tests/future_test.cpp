// forkpool::future: waiting, timeouts, cancellation, running(), callbacks.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

TEST_CASE("future: get(timeout) throws timeout_error and the task keeps running" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  auto f = pool.submit(sleep_ms, 300);
  CHECK_THROWS_AS(f.get(std::chrono::milliseconds(10)), timeout_error);
  CHECK_FALSE(f.done());
  CHECK_FALSE(f.wait_for(std::chrono::milliseconds(1)));
  CHECK(f.get(std::chrono::seconds(20)) > 0);
  CHECK(f.done());
  CHECK(f.wait_for(std::chrono::milliseconds(0)));
}

TEST_CASE("future: copies compare equal and wait_until returns at its deadline or when done" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  auto slow = pool.submit(sleep_ms, 60'000);
  const auto copy = slow;
  auto quick = pool.submit(sleep_ms, 1);  // queued behind the slow one
  CHECK(copy == slow);
  CHECK_FALSE(quick == slow);
  CHECK(future<int>() == future<int>());
  CHECK_FALSE(slow.wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  CHECK(quick.cancel());
  CHECK(quick.wait_until(std::chrono::steady_clock::now()));  // done: no wait
  pool.shutdown({.kill_running = true});
  CHECK(slow.wait_until(std::chrono::steady_clock::now()));
}

TEST_CASE("future: running() is true only while a worker executes the task" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  auto first = pool.submit(sleep_ms, 200);
  auto second = pool.submit(sleep_ms, 1);
  wait_until_running(first);
  CHECK(first.running());
  CHECK_FALSE(second.running());  // queued behind the first
  first.wait();
  CHECK_FALSE(first.running());
  second.wait();
  CHECK_FALSE(second.running());
}

TEST_CASE("future: cancel succeeds for a task queued in a worker's ring but not for a running one" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  auto running = pool.submit(sleep_ms, 300);
  wait_until_running(running);
  std::vector<future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(pool.submit(square, i));
  CHECK_FALSE(running.cancel());
  CHECK(queued[2].cancel());
  CHECK(queued[2].cancel());  // cancelling twice is still true
  CHECK(queued[2].cancelled());
  CHECK(queued[2].done());
  CHECK_THROWS_AS(queued[2].get(), cancelled_error);
  CHECK(running.get() > 0);
  for (int i : {0, 1, 3, 4}) CHECK(queued[i].get() == i * i);
  CHECK_FALSE(queued[0].cancel());  // done
  CHECK_FALSE(queued[0].cancelled());
  const pool_stats s = pool.stats();
  CHECK(s.cancelled == 1);
  CHECK(s.completed == 5);
}

TEST_CASE("future: a cancelled task never runs" * doctest::timeout(30)) {
  process_pool pool(options(1));
  auto blocker = pool.submit(sleep_ms, 200);
  wait_until_running(blocker);
  // If it ran, the worker would die and the blocker's neighbour would see a restart.
  auto doomed = pool.submit(exits_with, 9);
  REQUIRE(doomed.cancel());
  blocker.get();
  CHECK(pool.submit(square, 2).get() == 4);
  CHECK(pool.stats().restarts_crash == 0);
}

TEST_CASE("future: done callbacks run once with the future and also when added late" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  std::atomic<int> calls{0};
  std::atomic<int> seen{0};
  auto f = pool.submit(square, 6);
  f.add_done_callback([&](const future<int>& done) {
    seen = done.get();
    ++calls;
  });
  f.wait();
  for (int i = 0; i < 100 && calls == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(calls == 1);
  CHECK(seen == 36);
  f.add_done_callback([&] { ++calls; });  // already done: runs at once, on this thread
  CHECK(calls == 2);
}

TEST_CASE("future: copies share one result and get() on a temporary moves it out" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  future<std::string> a = pool.submit(greet, "copy");
  future<std::string> b = a;
  CHECK(a.get() == "hello, copy");
  CHECK(b.get() == "hello, copy");
  CHECK(pool.submit(greet, "temp").get() == "hello, temp");
  CHECK_FALSE(future<int>().valid());
  CHECK(a.valid());
}

// A thread waiting for a process-pool task reads replies itself and tells the workers not to ring
// the pool's thread meanwhile. Once it stops, replies must reach the pool's thread again.
TEST_CASE("future: after waiting threads stop reading replies the pool thread gets them again" *
          doctest::timeout(30)) {
  process_pool pool(options(2));
  for (int i = 0; i < 200; ++i) REQUIRE(pool.submit(square, i).get() == i * i);
  // Nobody waits on these futures: only the pool's thread can complete them.
  std::vector<std::promise<std::uint64_t>> delivered(4);
  std::vector<future<std::uint64_t>> unwatched;
  for (auto& promise : delivered) {
    unwatched.push_back(pool.submit(sleep_ms, 20));
    unwatched.back().add_done_callback(
        [&promise](const future<std::uint64_t>& done) { promise.set_value(done.get()); });
  }
  for (auto& promise : delivered) {
    auto result = promise.get_future();
    REQUIRE(result.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(result.get() > 0);
  }
}

TEST_CASE("future: threads submitting and waiting at once each get their own results" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  constexpr int kThreads = 4;
  constexpr int kRoundTrips = 1500;
  constexpr int kBatch = 300;
  std::atomic<int> wrong{0};
  std::atomic<int> callbacks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRoundTrips; ++i) {
        const int x = t * 100000 + i;
        if (pool.submit(add, x, 1).get() != x + 1) ++wrong;
      }
      std::vector<future<int>> batch;
      for (int i = 0; i < kBatch; ++i) {
        batch.push_back(pool.submit(add, t, i));
        batch.back().add_done_callback([&] { ++callbacks; });
      }
      for (int i = 0; i < kBatch; ++i)
        if (batch[static_cast<std::size_t>(i)].get() != t + i) ++wrong;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong == 0);
  // Every callback ran once: get() returned for each task, so each has finished.
  for (int i = 0; i < 200 && callbacks < kThreads * kBatch; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(callbacks == kThreads * kBatch);
  CHECK(pool.stats().completed == static_cast<std::uint64_t>(kThreads * (kRoundTrips + kBatch)));
}

TEST_CASE("future: with FORKPOOL_SPIN_US=0 nothing busy-waits and every call still completes" *
          doctest::timeout(60)) {
  ::setenv("FORKPOOL_SPIN_US", "0", 1);  // read when the pool starts
  process_pool pool(options(2));
  ::unsetenv("FORKPOOL_SPIN_US");
  for (int i = 0; i < 300; ++i) REQUIRE(pool.submit(square, i).get() == i * i);
  std::vector<future<int>> batch;
  for (int i = 0; i < 2000; ++i) batch.push_back(pool.submit(add, i, 1));
  int wrong = 0;
  for (int i = 0; i < 2000; ++i)
    if (batch[static_cast<std::size_t>(i)].get() != i + 1) ++wrong;
  CHECK(wrong == 0);
  CHECK(pool.submit(sleep_ms, 30).get(std::chrono::seconds(10)) >
        0);  // a reply after every wait slept
}

TEST_CASE("future: threads asleep on more futures than there are parking spots wake for their own" *
          doctest::timeout(60)) {
  // Sleepers share a table of 64 spots by address: 320 futures put several on each spot.
  thread_pool pool({.workers = 2});
  std::promise<void> open;
  std::shared_future<void> gate = open.get_future().share();
  constexpr int kWaiters = 8, kEach = 40;
  std::vector<future<int>> futures;
  for (int i = 0; i < kWaiters * kEach; ++i)
    futures.push_back(pool.submit([gate, i] {
      gate.wait();
      return i;
    }));
  std::atomic<int> ready{0}, wrong{0}, timed_out_early{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < kWaiters; ++w)
    waiters.emplace_back([&, w] {
      auto& first = futures[static_cast<std::size_t>(w * kEach)];
      if (!first.wait_for(std::chrono::milliseconds(2))) ++timed_out_early;  // gate still shut
      ++ready;
      for (int i = w * kEach; i < (w + 1) * kEach; ++i)
        if (futures[static_cast<std::size_t>(i)].get() != i) ++wrong;
    });
  for (int i = 0; i < 2000 && ready < kWaiters; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(ready == kWaiters);
  open.set_value();
  for (auto& waiter : waiters) waiter.join();
  CHECK(timed_out_early == kWaiters);
  CHECK(wrong == 0);
}

TEST_SUITE_END();
