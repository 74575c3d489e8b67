// thread_pool: the process_pool API on threads, accepting any callable.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "eventually.hpp"
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

// Two calls queued while one thread watches for work: the watcher takes one, and the other must
// wake a sleeping thread, or a call that waits for the other would wait for ever.
TEST_CASE("thread_pool: calls queued while a thread watches for work each get a thread" *
          doctest::timeout(120)) {
  thread_pool pool({.workers = 2});
  int stuck = 0;
  for (int round = 0; round < 300 && stuck == 0; ++round) {
    pool.submit([] {}).get();  // a thread now watches for the next call, where a CPU is free
    std::atomic<bool> second_started{false};
    auto first = pool.submit([&] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!second_started && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      return second_started.load();
    });
    auto second = pool.submit([&] { second_started = true; });
    if (!first.get()) ++stuck;
    second.get();
  }
  CHECK(stuck == 0);
}

TEST_CASE("thread_pool: calls submitted from several threads at once each run once" *
          doctest::timeout(120)) {
  thread_pool pool({.workers = 3});
  constexpr int kSubmitters = 4;
  constexpr int kEach = 5000;
  std::vector<std::atomic<int>> runs(kSubmitters * kEach);
  std::vector<std::thread> submitters;
  std::atomic<long long> sum{0};
  for (int s = 0; s < kSubmitters; ++s)
    submitters.emplace_back([&, s] {
      std::vector<future<int>> futures;
      for (int i = 0; i < kEach; ++i) {
        const int n = s * kEach + i;
        futures.push_back(pool.submit([&runs, n] {
          runs[n].fetch_add(1);
          return n;
        }));
      }
      for (auto& f : futures) sum += f.get();
    });
  for (auto& t : submitters) t.join();
  int wrong = 0;
  for (auto& r : runs) wrong += r.load() != 1;
  CHECK(wrong == 0);
  const long long n = kSubmitters * kEach;
  CHECK(sum.load() == n * (n - 1) / 2);
  CHECK(pool.stats().completed == static_cast<std::uint64_t>(n));
}

TEST_CASE("thread_pool: a shutdown racing submissions runs or refuses each one" *
          doctest::timeout(120)) {
  for (int round = 0; round < 20; ++round) {
    thread_pool pool({.workers = 2});
    std::atomic<int> ran{0};
    std::atomic<int> accepted{0};
    std::atomic<bool> other_error{false};
    std::vector<std::thread> submitters;
    std::vector<std::vector<future<void>>> futures(2);
    for (int s = 0; s < 2; ++s)
      submitters.emplace_back([&, s] {
        for (;;) {
          try {
            futures[s].push_back(pool.submit([&] { ++ran; }));
            ++accepted;
          } catch (const pool_shut_down&) {
            return;
          } catch (...) {
            other_error = true;
            return;
          }
        }
      });
    CHECK(eventually([&] { return accepted.load() > 100; }));
    pool.shutdown({.wait = true});
    for (auto& t : submitters) t.join();
    CHECK_FALSE(other_error.load());
    for (auto& list : futures)
      for (auto& f : list) f.get();  // every accepted call has run: none is left in the queue
    CHECK(ran.load() == accepted.load());
  }
}

TEST_CASE("thread_pool: what a call captured is let go once it has run" * doctest::timeout(30)) {
  thread_pool pool({.workers = 1});
  auto held = std::make_shared<int>(7);
  auto f = pool.submit([held] { return *held; });
  CHECK(f.get() == 7);
  // The future is still alive; the closure with its copy of `held` must not be.
  CHECK(eventually([&] { return held.use_count() == 1; }));
  auto cancelled_capture = std::make_shared<int>(8);
  std::atomic<bool> release{false};
  auto blocker = pool.submit([&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  test_tasks::wait_until_running(blocker);
  auto queued = pool.submit([cancelled_capture] { return *cancelled_capture; });
  CHECK(queued.cancel());
  release = true;
  blocker.get();
  pool.shutdown({.wait = true});
  CHECK(cancelled_capture.use_count() == 1);
}
