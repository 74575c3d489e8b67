// Behaviours ported from CPython's Lib/test/test_concurrent_futures/: where Python's executors
// and forkpool's could differ, forkpool does what Python does.
#include <doctest/doctest.h>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

TEST_CASE("pool: as_completed yields a future given twice once" * doctest::timeout(60)) {
  process_pool pool(options(2));
  future<int> a = pool.submit(square, 2);
  future<int> b = pool.submit(square, 3);
  std::vector<future<int>> given{a, b, a, a};  // test_duplicate_futures
  int yielded = 0, sum = 0;
  for (auto& f : as_completed(given)) {
    ++yielded;
    sum += f.get();
  }
  CHECK(yielded == 2);
  CHECK(sum == 13);
}

TEST_CASE("pool: wait counts a future given twice once" * doctest::timeout(60)) {
  process_pool pool(options(2));
  future<int> a = pool.submit(square, 4);
  future<int> b = pool.submit(square, 5);
  const wait_result<int> r = wait(std::vector<future<int>>{a, b, b, a});
  CHECK(r.done.size() == 2);
  CHECK(r.not_done.empty());
}

TEST_CASE(
    "pool: shutdown with cancel_pending and no wait has cancelled every queued call on return" *
    doctest::timeout(60)) {
  process_pool pool(options(2));
  std::vector<future<std::uint64_t>> running{pool.submit(sleep_ms, 1500),
                                             pool.submit(sleep_ms, 1500)};
  for (auto& f : running) wait_until_running(f);
  std::vector<future<std::uint64_t>> queued;  // test_cancel_futures: in the workers' rings
  for (int i = 0; i < 8; ++i) queued.push_back(pool.submit(sleep_ms, 10));
  pool.shutdown({.wait = false, .cancel_pending = true});
  int cancelled = 0;
  for (auto& f : queued) cancelled += f.cancelled();
  CHECK(cancelled == 8);
  for (auto& f : running) CHECK(f.get() > 0);  // the running ones finish
}

TEST_CASE("pool: a throwing done callback on a finished future is logged and swallowed" *
          doctest::timeout(60)) {
  process_pool pool(options(1));
  future<int> f = pool.submit(square, 6);
  CHECK(f.get() == 36);
  bool ran = false;
  CHECK_NOTHROW(f.add_done_callback([&] {
    ran = true;
    throw std::runtime_error("callback failed");
  }));
  CHECK(ran);
  CHECK(f.get() == 36);
  thread_pool threads({.workers = 1});
  future<int> g = threads.submit([] { return 1; });
  g.wait();
  CHECK_NOTHROW(g.add_done_callback([] { throw 42; }));
}

TEST_SUITE_END();
