// The executor concept: one function template, run on either pool.
#include <doctest/doctest.h>

#include "test_tasks.hpp"

using namespace forkpool;

TEST_SUITE_BEGIN("pool");

static_assert(executor<process_pool>);
static_assert(executor<thread_pool>);
static_assert(!executor<int>);

namespace {
// Written once against the concept; works on threads and on processes.
template <executor Pool>
long sum_of_squares(Pool& pool, int n) {
  std::vector<int> inputs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) inputs[static_cast<std::size_t>(i)] = i;
  long total = 0;
  for (int x : pool.map(test_tasks::square, inputs, {.chunksize = 8})) total += x;
  total += pool.submit(test_tasks::square, n).get();
  total += pool.template submit<int>("square", n + 1).get();
  return total;
}
}  // namespace

TEST_CASE("executor: code written against the concept runs on both pools" * doctest::timeout(30)) {
  long expected = 0;
  for (int i = 0; i < 100; ++i) expected += i * i;
  expected += 100 * 100 + 101 * 101;
  thread_pool threads({.workers = 2});
  process_pool processes(test_tasks::options(2));
  CHECK(sum_of_squares(threads, 100) == expected);
  CHECK(sum_of_squares(processes, 100) == expected);
  CHECK(threads.stats().submitted > 0);
  CHECK(processes.stats().submitted > 0);
}

TEST_SUITE_END();
