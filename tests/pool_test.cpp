// process_pool through its public API: submitting by function and by name, argument and result
// types, map, stats, many submitting threads, both start methods.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "eventually.hpp"
#include "proc_status.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

TEST_CASE("pool: submit by function and by name" * doctest::timeout(60)) {
  process_pool pool(options(2));
  CHECK(pool.submit(square, 7).get() == 49);
  CHECK(pool.submit<int>("square", 9).get() == 81);
  CHECK(pool.submit(cube, 3).get() == 27);
  CHECK(pool.submit(add, 2, 40).get() == 42);
}

TEST_CASE("pool: the task runs in another process" * doctest::timeout(30)) {
  process_pool pool(options(2));
  const int pid = pool.submit(pid_of_worker).get();
  CHECK(pid != ::getpid());
  CHECK(pid > 0);
}

namespace {
std::string comm_of(int pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}
}  // namespace

TEST_CASE("pool: workers show as forkpool-worker in ps and the fork server as forkpool-forker" *
          doctest::timeout(30)) {
  process_pool pool(options(2));
  const int pid = pool.submit(pid_of_worker).get();
  CHECK(comm_of(pid) == "forkpool-worker");
  // A worker's pid may be known a moment before the new process has named itself.
  for (const auto& w : wait_for_workers(pool, 2).per_worker)
    CHECK(eventually([&] { return comm_of(w.pid) == "forkpool-worker"; }));
  // The fork server is this process's child (a worker's parent): only under forkserver.
  const long long parent = status_field(pid, "PPid:");
  if (start_method_under_test() == start_method::forkserver) {
    CHECK(parent != ::getpid());
    CHECK(status_field(static_cast<int>(parent), "PPid:") == ::getpid());
    CHECK(comm_of(static_cast<int>(parent)) == "forkpool-forker");
  } else {
    CHECK(parent == ::getpid());
  }
}

TEST_CASE("pool: arguments are converted to the parameter types" * doctest::timeout(30)) {
  process_pool pool(options(2));
  const short s = 5;
  CHECK(pool.submit(square, s).get() == 25);                   // short -> int
  CHECK(pool.submit(greet, "world").get() == "hello, world");  // const char* -> std::string
  CHECK(pool.submit<std::string>("demo.greet", "by name").get() == "hello, by name");
}

TEST_CASE("pool: strings and vectors and maps and user structs and no arguments and void" *
          doctest::timeout(30)) {
  process_pool pool(options(2));
  CHECK(pool.submit(reversed, std::vector<int>{1, 2, 3}).get() == std::vector<int>{3, 2, 1});
  const std::map<std::string, int> expected{{"a", 1}, {"abc", 3}};
  CHECK(pool.submit(word_lengths, std::vector<std::string>{"abc", "a"}).get() == expected);
  CHECK(pool.submit(moved, point{1, 2, "p"}, 10, 20).get() == point{11, 22, "p'"});
  CHECK(pool.submit(answer).get() == 42);
  future<void> done = pool.submit(touch, 1);
  done.get();
  CHECK(done.done());
  CHECK_FALSE(done.exception());
  CHECK_THROWS_AS(pool.submit(touch, -1).get(), remote_error);
  // Larger payloads, still within the ring.
  CHECK(pool.submit(big_string, std::size_t{200000}).get().size() == 200000);
}

TEST_CASE("pool: map returns results in input order with any chunk size" * doctest::timeout(60)) {
  process_pool pool(options(2));
  std::vector<int> inputs(1000);
  for (int i = 0; i < 1000; ++i) inputs[i] = i - 500;
  std::vector<int> expected;
  for (int x : inputs) expected.push_back(x * x);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{5000}}) {
    CAPTURE(chunk);
    CHECK(pool.map(square, inputs, {.chunksize = chunk}) == expected);
  }
  CHECK(pool.map(square, std::vector<int>{}).empty());
  // A task with several parameters maps over tuples.
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  CHECK(pool.map(add, pairs, {.chunksize = 2}) == std::vector<int>{3, 7, 11});
  CHECK_THROWS_AS(pool.map(square, inputs, {.chunksize = 0}), std::invalid_argument);
}

TEST_CASE("pool: map chunks travel as one frame each" * doctest::timeout(30)) {
  process_pool pool(options(2));
  std::vector<int> inputs(100, 3);
  const auto before = pool.stats().submitted;
  pool.map(square, inputs, {.chunksize = 25});
  CHECK(pool.stats().submitted - before == 4);
}

TEST_CASE("pool: map rethrows the first error in input order" * doctest::timeout(30)) {
  process_pool pool(options(2));
  std::vector<std::string> messages{"first", "second"};
  CHECK_THROWS_WITH_AS(pool.map(throws_runtime_error, messages), "std::runtime_error: first",
                       remote_error);
}

TEST_CASE("pool: many threads submit at once and every result is right" * doctest::timeout(60)) {
  process_pool pool(options(2));
  constexpr int kThreads = 8, kPerThread = 2000;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<future<int>> futures;
      for (int i = 0; i < kPerThread; ++i) futures.push_back(pool.submit(add, t, i));
      for (int i = 0; i < kPerThread; ++i)
        if (futures[i].get() != t + i) ++wrong;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  const pool_stats s = pool.stats();
  CHECK(s.submitted == kThreads * kPerThread);
  CHECK(s.completed == kThreads * kPerThread);
  CHECK(s.failed == 0);
}

TEST_CASE("pool: work spreads over the workers" * doctest::timeout(30)) {
  process_pool pool(options(2));
  std::vector<future<std::uint64_t>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(pool.submit(sleep_ms, 50));
  std::set<std::uint64_t> pids;
  for (auto& f : futures) pids.insert(f.get());
  CHECK(pids.size() == 2);
}

TEST_CASE("pool: stats report workers and totals" * doctest::timeout(30)) {
  process_pool pool(options(2));
  for (int i = 0; i < 10; ++i) pool.submit(square, i).get();
  CHECK_THROWS(pool.submit(throws_int, 1).get());
  const pool_stats s = wait_for_workers(pool, 2);
  CHECK(s.workers_alive == 2);
  CHECK(s.submitted == 11);
  CHECK(s.completed == 10);
  CHECK(s.failed == 1);
  CHECK(s.queue_depth == 0);
  REQUIRE(s.per_worker.size() == 2);
  std::uint64_t tasks = 0;
  for (const auto& w : s.per_worker) {
    CHECK(w.pid > 0);
    tasks += w.tasks_run;
  }
  CHECK(tasks == 11);
}

TEST_CASE("pool: the default worker count is the number of cores" * doctest::timeout(30)) {
  process_pool pool(options(0));
  pool.submit(square, 1).get();
  // Workers report their pid once forked; give them a moment.
  for (int i = 0; i < 200 && pool.stats().workers_alive < std::thread::hardware_concurrency(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(pool.stats().workers_alive == std::thread::hardware_concurrency());
}

TEST_CASE("pool: shutdown waits for queued tasks and submit afterwards throws" *
          doctest::timeout(30)) {
  process_pool pool(options(2));
  std::vector<future<std::uint64_t>> futures;
  for (int i = 0; i < 6; ++i) futures.push_back(pool.submit(sleep_ms, 20));
  pool.shutdown();
  for (auto& f : futures) {
    CHECK(f.done());
    CHECK_FALSE(f.exception());
  }
  CHECK_THROWS_AS(pool.submit(square, 1), pool_shut_down);
  CHECK(pool.stats().workers_alive == 0);
}

TEST_CASE("pool: shutdown with cancel_pending cancels what has not started" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  auto running = pool.submit(sleep_ms, 1000);
  wait_until_running(running);
  std::vector<future<int>> queued;
  for (int i = 0; i < 20; ++i) queued.push_back(pool.submit(square, i));
  pool.shutdown({.wait = true, .cancel_pending = true});
  CHECK_FALSE(running.exception());  // the running task finished normally
  for (auto& f : queued) {
    CHECK(f.cancelled());
    CHECK_THROWS_AS(f.get(), cancelled_error);
  }
  CHECK(pool.stats().cancelled == 20);
}

TEST_CASE("pool: shutdown with kill_running stops the running tasks and cancels the rest" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  // Ten minutes each: shutdown returns within the test's time limit only if it stops them.
  std::vector<future<std::uint64_t>> running{pool.submit(sleep_ms, 600'000),
                                             pool.submit(sleep_ms, 600'000)};
  for (auto& f : running) wait_until_running(f);
  std::vector<int> pids;
  for (const worker_stats& w : pool.stats().per_worker) pids.push_back(w.pid);
  auto queued = pool.submit(square, 3);
  pool.shutdown({.kill_running = true});
  for (auto& f : running) {
    REQUIRE(f.done());
    try {
      f.get();
      FAIL("a killed task returned");
    } catch (const cancelled_error& e) {
      CHECK(std::string(e.what()).find("kill_running") != std::string::npos);
    }
  }
  CHECK(queued.cancelled());
  const pool_stats s = pool.stats();
  CHECK(s.workers_alive == 0);
  CHECK(s.restarts_crash == 0);  // killed on purpose, not a crash
  CHECK(pids.size() == 2);
  for (const int pid : pids) CHECK(::kill(pid, 0) != 0);  // gone, and reaped
  CHECK_THROWS_AS(pool.submit(square, 1), pool_shut_down);
}

TEST_CASE("pool: shutdown without wait returns at once and the destructor then waits" *
          doctest::timeout(30)) {
  future<std::uint64_t> f;
  {
    process_pool pool(options(2));
    f = pool.submit(sleep_ms, 500);
    pool.shutdown({.wait = false});
    CHECK_FALSE(f.done());  // shutdown did not wait for it
    CHECK_THROWS_AS(pool.submit(square, 1), pool_shut_down);
  }
  CHECK(f.done());
  CHECK(f.get() > 0);
}

TEST_SUITE_END();
