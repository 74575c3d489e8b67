// forkpool::wait and forkpool::as_completed.
#include <doctest/doctest.h>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

TEST_CASE("wait: all_completed and first_completed and a timeout" * doctest::timeout(30)) {
  process_pool pool(options(2));
  std::vector<future<std::uint64_t>> fs{pool.submit(sleep_ms, 400), pool.submit(sleep_ms, 1)};

  auto first = forkpool::wait(fs, return_when::first_completed);
  REQUIRE(first.done.size() == 1);
  CHECK(first.not_done.size() == 1);
  CHECK(first.done[0] == fs[1]);

  auto timed = forkpool::wait(fs, return_when::all_completed, std::chrono::milliseconds(5));
  CHECK(timed.not_done.size() == 1);

  auto all = forkpool::wait(fs);
  CHECK(all.done.size() == 2);
  CHECK(all.not_done.empty());
}

TEST_CASE("wait: first_exception returns at the first failure" * doctest::timeout(30)) {
  process_pool pool(options(2));
  std::vector<future<int>> fs{pool.submit(throws_int, 0),
                              pool.submit<int>("sleep_ms_as_int_does_not_exist", 1)};
  auto result = forkpool::wait(fs, return_when::first_exception);
  CHECK(result.done.size() >= 1);
  CHECK(result.done[0].exception() != nullptr);
}

TEST_CASE("as_completed: yields every future once in completion order" * doctest::timeout(30)) {
  process_pool pool(options(3));  // one each, so that completion order is the order of the sleeps
  wait_for_workers(pool, 3);  // all up (spawned ones start slowly), so none queues behind another
  std::vector<future<std::uint64_t>> fs{pool.submit(sleep_ms, 1500), pool.submit(sleep_ms, 600),
                                        pool.submit(sleep_ms, 1)};
  std::vector<future<std::uint64_t>> order;
  for (auto& f : as_completed(fs)) {
    CHECK(f.done());
    order.push_back(f);
  }
  REQUIRE(order.size() == 3);
  CHECK(order[0] == fs[2]);
  CHECK(order[2] == fs[0]);
  CHECK_FALSE(order[0] == fs[0]);
}

TEST_CASE("as_completed: a timeout throws timeout_error" * doctest::timeout(30)) {
  process_pool pool(options(2));
  wait_for_workers(pool, 2);
  pool.submit(square, 1).get();  // workers up and serving (spawned ones start slowly)
  std::vector<future<std::uint64_t>> fs{pool.submit(sleep_ms, 1), pool.submit(sleep_ms, 3000)};
  int seen = 0;
  CHECK_THROWS_AS(
      [&] {
        for (auto& f : as_completed(fs, std::chrono::milliseconds(1000))) {
          (void)f;
          ++seen;
        }
      }(),
      timeout_error);
  CHECK(seen == 1);
}

TEST_SUITE_END();
