// pool_options::max_retries and call_options::timeout: calls whose worker died or that timed
// out run again on a new worker; one call's own timeout overrides the pool's.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;
using namespace std::chrono_literals;

namespace {

// A marker path for crashes_once / hangs_once, removed when the test ends.
struct marker {
  std::string path = "/tmp/forkpool-test-marker-" + std::to_string(::getpid()) + "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  ~marker() { std::remove(path.c_str()); }
};

pool_options retrying(unsigned workers, unsigned retries) {
  pool_options o = options(workers);
  o.max_retries = retries;
  return o;
}

}  // namespace

TEST_SUITE_BEGIN("retries");

TEST_CASE("retries: a call whose worker crashed runs again on a new worker and succeeds" *
          doctest::timeout(60)) {
  process_pool pool(retrying(2, 1));
  marker m;
  CHECK(pool.submit(crashes_once, m.path, 7).get(30s) == 7);
  const pool_stats s = pool.stats();
  CHECK(s.retries == 1);
  CHECK(s.restarts_crash == 1);
  CHECK(s.failed == 0);
}

TEST_CASE("retries: without max_retries the same call fails with worker_died" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  marker m;
  CHECK_THROWS_AS(pool.submit(crashes_once, m.path, 7).get(30s), worker_died);
  CHECK(pool.stats().retries == 0);
}

TEST_CASE(
    "retries: a call that always crashes is tried 1 + max_retries times and fails with the "
    "last error" *
    doctest::timeout(60)) {
  process_pool pool(retrying(2, 2));
  CHECK_THROWS_AS(pool.submit(segfaults, 1).get(30s), worker_died);
  const pool_stats s = pool.stats();
  CHECK(s.retries == 2);
  CHECK(s.restarts_crash == 3);
  CHECK(pool.submit(square, 4).get(30s) == 16);  // and the pool serves on
}

TEST_CASE("retries: calls running on SIGKILLed workers are retried and none is lost" *
          doctest::timeout(60)) {
  process_pool pool(retrying(2, 3));
  std::vector<future<std::uint64_t>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(pool.submit(sleep_ms, 300));
  wait_until_running(calls[0]);
  const pool_stats before = wait_for_workers(pool, 2);
  for (const auto& w : before.per_worker) ::kill(w.pid, SIGKILL);
  for (auto& f : calls) CHECK(f.get(30s) > 0);
  const pool_stats s = pool.stats();
  CHECK(s.retries >= 1);
  CHECK(s.retries <= 2);  // at most one running call per killed worker
  CHECK(s.failed == 0);
}

TEST_CASE("retries: a call that hit task_timeout runs again and succeeds" * doctest::timeout(60)) {
  pool_options o = retrying(2, 1);
  o.task_timeout = 300ms;
  process_pool pool(o);
  marker m;
  CHECK(pool.submit(hangs_once, m.path, 5).get(30s) == 5);
  const pool_stats s = pool.stats();
  CHECK(s.retries == 1);
  CHECK(s.restarts_timeout == 1);
}

TEST_CASE("retries: a cancelled call is not retried" * doctest::timeout(60)) {
  process_pool pool(retrying(1, 5));
  auto running = pool.submit(segfaults, 1);
  auto queued = pool.submit(square, 3);
  CHECK(queued.cancel());
  CHECK_THROWS_AS(running.get(30s), worker_died);
  CHECK(queued.cancelled());
  CHECK(pool.stats().retries == 5);
}

TEST_CASE("call timeout: one call's timeout overrides the pool's whether shorter or longer" *
          doctest::timeout(60)) {
  process_pool pool(options(2));  // no task_timeout at all
  auto stopped = pool.submit({.timeout = 200ms}, sleep_ms, 20'000);
  CHECK_THROWS_AS(stopped.get(30s), task_timeout);
  CHECK(pool.stats().restarts_timeout == 1);

  pool_options strict = options(2);
  strict.task_timeout = 100ms;
  process_pool strict_pool(strict);
  CHECK(strict_pool.submit({.timeout = 20s}, sleep_ms, 400).get(30s) > 0);
  CHECK_THROWS_AS(strict_pool.submit(sleep_ms, 20'000).get(30s), task_timeout);
  // By name too.
  CHECK_THROWS_AS(pool.submit<std::uint64_t>({.timeout = 200ms}, "sleep_ms", 20'000).get(30s),
                  task_timeout);
  CHECK_THROWS_AS(pool.submit({.timeout = -1ms}, square, 1), std::invalid_argument);
}

TEST_SUITE_END();
