// thread_pool: the process_pool API on threads, accepting any callable.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "test_tasks.hpp"

using namespace forkpool;

TEST_CASE("thread_pool: lambdas with captures and plain functions" * doctest::timeout(30)) {
  thread_pool pool({.workers = 2});
  int base = 100;
  CHECK(pool.submit([base](int x) { return base + x; }, 5).get() == 105);
  CHECK(pool.submit(test_tasks::square, 9).get() == 81);
  std::string text = "move me";
  CHECK(pool.submit([](std::string s) { return s.size(); }, std::move(text)).get() == 7);
  future<void> v = pool.submit([] {});
  v.get();
  CHECK(v.done());
}

TEST_CASE("thread_pool: tasks run on the pool's threads in this process" * doctest::timeout(30)) {
  thread_pool pool({.workers = 3});
  std::vector<future<std::thread::id>> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back(pool.submit([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return std::this_thread::get_id();
    }));
  std::set<std::thread::id> seen;
  for (auto& f : ids) seen.insert(f.get());
  CHECK(seen.size() == 3);
  CHECK(seen.count(std::this_thread::get_id()) == 0);
  CHECK(pool.submit(test_tasks::pid_of_worker).get() == ::getpid());
}

TEST_CASE("thread_pool: the task's own exception reaches get()" * doctest::timeout(30)) {
  thread_pool pool({.workers = 1});
  CHECK_THROWS_AS(pool.submit([] { throw std::out_of_range("x"); }).get(), std::out_of_range);
  CHECK(pool.submit(test_tasks::square, 2).get() == 4);
  CHECK(pool.stats().failed == 1);
}

TEST_CASE("thread_pool: submit by name with the same type checks as process_pool" *
          doctest::timeout(30)) {
  thread_pool pool({.workers = 1});
  CHECK(pool.submit<int>("square", 6).get() == 36);
  CHECK_THROWS_AS(pool.submit<int>("square", std::string("six")).get(), bad_arguments);
  CHECK_THROWS_AS(pool.submit<int>("no.such.task").get(), unknown_task);
  CHECK_THROWS_AS(pool.submit<int>("throws_runtime_error", std::string("e")).get(), remote_error);
}

TEST_CASE("thread_pool: map keeps input order for any chunk size" * doctest::timeout(30)) {
  thread_pool pool({.workers = 2});
  std::vector<int> inputs(500);
  for (int i = 0; i < 500; ++i) inputs[i] = i;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{13}, std::size_t{1000}}) {
    auto out = pool.map([](int x) { return x * 3; }, inputs, {.chunksize = chunk});
    REQUIRE(out.size() == 500);
    bool ordered = true;
    for (int i = 0; i < 500; ++i) ordered = ordered && out[i] == i * 3;
    CHECK(ordered);
  }
}

TEST_CASE("thread_pool: cancel and running and shutdown behave as in process_pool" *
          doctest::timeout(30)) {
  thread_pool pool({.workers = 1});
  std::atomic<bool> release{false};
  auto blocker = pool.submit([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 1;
  });
  test_tasks::wait_until_running(blocker);
  auto queued = pool.submit([] { return 2; });
  auto also_queued = pool.submit([] { return 3; });
  CHECK_FALSE(queued.running());
  CHECK_FALSE(blocker.cancel());
  CHECK(queued.cancel());
  CHECK_THROWS_AS(queued.get(), cancelled_error);
  release = true;
  pool.shutdown({.wait = true, .cancel_pending = false});
  CHECK(blocker.get() == 1);
  CHECK(also_queued.get() == 3);
  CHECK_THROWS_AS(pool.submit([] { return 0; }), pool_shut_down);
  const pool_stats s = pool.stats();
  CHECK(s.completed == 2);
  CHECK(s.cancelled == 1);
  CHECK(s.workers_alive == 0);
}

TEST_CASE("thread_pool: shutdown with kill_running is refused and the pool keeps serving" *
          doctest::timeout(30)) {
  thread_pool pool({.workers = 1});
  CHECK_THROWS_AS(pool.shutdown({.kill_running = true}), std::invalid_argument);
  CHECK(pool.submit([] { return 4; }).get() == 4);
}

TEST_CASE("thread_pool: the initializer runs once in every thread" * doctest::timeout(30)) {
  std::atomic<int> runs{0};
  {
    pool_options o;
    o.workers = 3;
    o.initializer = [&] { ++runs; };
    thread_pool pool(o);
    pool.submit([] {}).get();
  }
  CHECK(runs == 3);
}
