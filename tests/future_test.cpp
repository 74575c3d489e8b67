// forkpool::future: waiting, timeouts, cancellation, running(), callbacks.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

TEST_CASE("future: get(timeout) throws timeout_error and the task keeps running" * doctest::timeout(30)) {
  process_pool pool(options(1));
  auto f = pool.submit(sleep_ms, 300);
  CHECK_THROWS_AS(f.get(std::chrono::milliseconds(10)), timeout_error);
  CHECK_FALSE(f.done());
  CHECK_FALSE(f.wait_for(std::chrono::milliseconds(1)));
  CHECK(f.get(std::chrono::seconds(20)) > 0);
  CHECK(f.done());
  CHECK(f.wait_for(std::chrono::milliseconds(0)));
}

TEST_CASE("future: running() is true only while a worker executes the task" * doctest::timeout(30)) {
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
  for (int i = 0; i < 100 && calls == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(calls == 1);
  CHECK(seen == 36);
  f.add_done_callback([&] { ++calls; });  // already done: runs at once, on this thread
  CHECK(calls == 2);
}

TEST_CASE("future: copies share one result and get() on a temporary moves it out" * doctest::timeout(30)) {
  process_pool pool(options(1));
  future<std::string> a = pool.submit(greet, "copy");
  future<std::string> b = a;
  CHECK(a.get() == "hello, copy");
  CHECK(b.get() == "hello, copy");
  CHECK(pool.submit(greet, "temp").get() == "hello, temp");
  CHECK_FALSE(future<int>().valid());
  CHECK(a.valid());
}

TEST_SUITE_END();
