// Every kind of failure is a typed error on the one future it concerns, and the pool keeps serving.
#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

TEST_CASE("errors: a task that throws gives remote_error with type and message" *
          doctest::timeout(30)) {
  process_pool pool(options(2));
  auto f = pool.submit(throws_runtime_error, "boom");
  try {
    f.get();
    FAIL("expected remote_error");
  } catch (const remote_error& e) {
    CHECK(e.type_name() == "std::runtime_error");
    CHECK(e.message() == "boom");
    CHECK(std::string(e.what()) == "std::runtime_error: boom");
  }
  CHECK(f.exception() != nullptr);
  // Something that is not a std::exception.
  CHECK_THROWS_AS(pool.submit(throws_int, 1).get(), remote_error);
  // The pool keeps serving.
  CHECK(pool.submit(square, 3).get() == 9);
}

TEST_CASE("errors: an unknown task name gives unknown_task" * doctest::timeout(30)) {
  process_pool pool(options(1));
  CHECK_THROWS_AS(pool.submit<int>("no.such.task", 1).get(), unknown_task);
  CHECK(pool.submit(square, 3).get() == 9);
}

int unregistered(int x) { return x; }

TEST_CASE("errors: submitting a function that was never registered gives unknown_task" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  CHECK_THROWS_AS(pool.submit(unregistered, 1).get(), unknown_task);
  CHECK_THROWS_AS(pool.map(unregistered, std::vector<int>{1}), unknown_task);
}

TEST_CASE("errors: wrong argument or result types by name give bad_arguments" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  // "square" takes an int: a string must not decode "successfully" as one.
  CHECK_THROWS_AS(pool.submit<int>("square", std::string("seven")).get(), bad_arguments);
  CHECK_THROWS_AS(pool.submit<int>("square", 7L).get(), bad_arguments);         // long, not int
  CHECK_THROWS_AS(pool.submit<int>("square", 1, 2).get(), bad_arguments);       // one too many
  CHECK_THROWS_AS(pool.submit<int>("square").get(), bad_arguments);             // one too few
  CHECK_THROWS_AS(pool.submit<std::string>("square", 7).get(), bad_arguments);  // wrong result
  try {
    pool.submit<int>("add", 1, std::string("x")).get();
  } catch (const bad_arguments& e) {
    CHECK(std::string(e.what()).find("(int, int)") != std::string::npos);
  }
  CHECK(pool.submit<int>("square", 7).get() == 49);
}

TEST_CASE("errors: abort and segfault and _exit fail only their own future with worker_died" *
          doctest::timeout(60)) {
  {
    process_pool pool(options(2));
    // Neighbours queued around the crashing tasks must be unaffected.
    std::vector<future<int>> before, after;
    for (int i = 0; i < 20; ++i) before.push_back(pool.submit(square, i));
    auto aborted = pool.submit(aborts, 0);
    auto segfaulted = pool.submit(segfaults, 0);
    auto exited = pool.submit(exits_with, 3);
    for (int i = 0; i < 20; ++i) after.push_back(pool.submit(square, i));

    try {
      aborted.get();
      FAIL("expected worker_died");
    } catch (const worker_died& e) {
      CHECK(e.signal() == SIGABRT);
      CHECK(e.exit_code() == -1);
    }
    try {
      segfaulted.get();
      FAIL("expected worker_died");
    } catch (const worker_died& e) {
      CHECK(e.signal() == SIGSEGV);
    }
    try {
      exited.get();
      FAIL("expected worker_died");
    } catch (const worker_died& e) {
      CHECK(e.signal() == 0);
      CHECK(e.exit_code() == 3);
    }
    for (int i = 0; i < 20; ++i) {
      CHECK(before[i].get() == i * i);
      CHECK(after[i].get() == i * i);
    }
    const pool_stats s = pool.stats();
    CHECK(s.restarts_crash == 3);
    CHECK(s.failed == 3);
    CHECK(s.completed == 40);
    CHECK(pool.submit(square, 12).get() == 144);
  }
}

TEST_CASE("errors: a worker killed from outside fails its running task and is replaced" *
          doctest::timeout(30)) {
  process_pool pool(options(1));
  auto victim = pool.submit(sleep_ms, 5000);
  wait_until_running(victim);
  const auto s = wait_for_workers(pool, 1);
  REQUIRE(s.per_worker.size() == 1);
  ::kill(s.per_worker[0].pid, SIGKILL);
  try {
    victim.get();
    FAIL("expected worker_died");
  } catch (const worker_died& e) {
    CHECK(e.signal() == SIGKILL);
    CHECK(e.pid() == s.per_worker[0].pid);
  }
  CHECK(pool.submit(square, 4).get() == 16);
  CHECK(pool.stats().restarts_crash == 1);
  CHECK(wait_for_workers(pool, 1).per_worker.at(0).pid != s.per_worker[0].pid);
}

TEST_SUITE_END();
