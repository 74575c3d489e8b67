// Batches on both pools, through the same calls: map, imap and imap_unordered with their
// options (chunksize, window, timeout, on_progress), tuples for tasks with several parameters,
// errors in the middle, leaving early, bad options and inputs that throw.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "eventually.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;
using namespace std::chrono_literals;

namespace {

// Every call submitted has finished or was cancelled: nothing is left queued or running.
template <class Pool>
bool settles(const Pool& pool) {
  return eventually([&] {
    const pool_stats s = pool.stats();
    return s.completed + s.failed + s.cancelled == s.submitted;
  });
}

std::vector<int> iota_vector(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_SUITE_BEGIN("batch");

// A task of one number parameter travels as bare numbers (no tuples): inputs of other types
// convert as they would in a call, from ranges read by index or only forwards, and results of
// the same type are written over the inputs.
TEST_CASE_TEMPLATE("batch: one-number tasks take any range of numbers and convert as a call would",
                   Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  const std::vector<short> shorts{-3, 0, 7, 1001};
  CHECK(pool.map(half_of, shorts, {.chunksize = 3}) == std::vector<double>{-1.5, 0, 3.5, 500.5});

  const std::list<long> forwards{4, 5, 6, 7, 8};
  CHECK(pool.map(square, forwards, {.chunksize = 2}) == std::vector<int>{16, 25, 36, 49, 64});

  std::vector<int> expected(2500);
  for (int i = 0; i < 2500; ++i) expected[static_cast<std::size_t>(i)] = i * i;
  CHECK(pool.map(square, std::views::iota(0, 2500), {.chunksize = 1000}) == expected);

  const std::vector<std::tuple<int>> tuples{{2}, {3}};
  CHECK(pool.map(square, tuples) == std::vector<int>{4, 9});
  CHECK(settles(pool));
}

TEST_CASE_TEMPLATE(
    "batch: imap yields map's results in input order and imap_unordered the same ones"
    " in some order",
    Pool, process_pool, thread_pool) {
  static_assert(executor<Pool>);
  Pool pool(options(2));
  const std::vector<int> inputs = iota_vector(500);
  const std::vector<int> mapped = pool.map(square, inputs, {.chunksize = 7});
  REQUIRE(mapped.size() == 500);
  for (int i = 0; i < 500; ++i) CHECK(mapped[static_cast<std::size_t>(i)] == i * i);

  std::vector<int> ordered;
  for (int r : pool.imap(square, inputs, {.chunksize = 7, .window = 3})) ordered.push_back(r);
  CHECK(ordered == mapped);

  std::vector<int> unordered;
  for (int r : pool.imap_unordered(square, inputs, {.chunksize = 7, .window = 3}))
    unordered.push_back(r);
  std::sort(unordered.begin(), unordered.end());
  CHECK(unordered == mapped);

  // An rvalue range is kept by the range object for the whole loop.
  int sum = 0;
  for (int r : pool.imap(square, iota_vector(10))) sum += r;
  CHECK(sum == 285);
  CHECK(settles(pool));
}

TEST_CASE_TEMPLATE("batch: tasks with several parameters take tuples on both pools", Pool,
                   process_pool, thread_pool) {
  Pool pool(options(2));
  const std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  CHECK(pool.map(add, pairs) == std::vector<int>{3, 7, 11});
  std::vector<int> lazy;
  for (int r : pool.imap(add, pairs, {.chunksize = 2})) lazy.push_back(r);
  CHECK(lazy == std::vector<int>{3, 7, 11});
}

TEST_CASE_TEMPLATE(
    "batch: leaving imap early reads little of a million-item generator and "
    "cancels what is queued",
    Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  std::atomic<int> read{0};
  auto generator = std::views::iota(0, 1'000'000) | std::views::transform([&](int i) {
                     read.fetch_add(1);
                     return i;
                   });
  constexpr std::size_t chunksize = 10, window = 4;
  int seen = 0;
  {
    auto results = pool.imap(square, generator, {.chunksize = chunksize, .window = window});
    for (int r : results) {
      CHECK(r == seen * seen);
      if (++seen == 15) break;  // in the second chunk
    }
  }
  // The window, and the chunk read as the loop moved past the first: nothing more.
  CHECK(read.load() <= static_cast<int>((window + 2) * chunksize));
  CHECK(settles(pool));
  // The pool goes on serving.
  CHECK(pool.submit(square, 12).get() == 144);
}

// With no window given, imap keeps twice the workers' chunks in flight, or for numbers to
// numbers up to kMaxNumberWindow chunks (kNumberWindowBytes of them): short chunks of numbers
// finish faster than a hand-off.
TEST_CASE_TEMPLATE("batch: imap's default window holds more chunks of numbers than of strings",
                   Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  constexpr int chunksize = 100;
  std::atomic<int> read{0};
  auto counted = [&](int i) {
    read.fetch_add(1);
    return i;
  };
  {
    // half_of, not square: the window reaches items whose square overflows an int.
    auto numbers =
        pool.imap(half_of, std::views::iota(0, 1'000'000) | std::views::transform(counted),
                  {.chunksize = chunksize});
    CHECK(*numbers.begin() == 0.0);
  }
  const int pool_window = 2 * 2;
  CHECK(read.load() > (pool_window + 2) * chunksize);
  CHECK(read.load() <= static_cast<int>(detail::kMaxNumberWindow + 2) * chunksize);

  read = 0;
  {
    auto names = std::views::iota(0, 1'000'000) | std::views::transform(counted) |
                 std::views::transform([](int i) { return std::to_string(i); });
    auto greetings = pool.imap(greet, names, {.chunksize = chunksize});
    CHECK(*greetings.begin() == "hello, 0");
  }
  CHECK(read.load() <= (pool_window + 2) * chunksize);
  CHECK(settles(pool));
}

TEST_CASE_TEMPLATE(
    "batch: an error in the middle of imap is thrown at the item that failed and "
    "the rest is cancelled",
    Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  std::vector<int> before;
  std::string message;
  try {
    for (int r : pool.imap(fails_at_fifty, iota_vector(1000), {.chunksize = 1, .window = 8}))
      before.push_back(r);
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(message.find("input fifty is refused") != std::string::npos);
  CHECK(before == iota_vector(50));
  CHECK(settles(pool));
  const pool_stats s = pool.stats();
  CHECK(s.submitted < 1000);  // the window bounded what was sent

  // map: the first error in input order, the same message.
  CHECK_THROWS_WITH(pool.map(fails_at_fifty, iota_vector(200), {.chunksize = 10}),
                    doctest::Contains("input fifty is refused"));
  CHECK(settles(pool));
}

// map of numbers to numbers writes each chunk's results straight into its output, which the
// chunks still running when map throws must be able to finish writing (the sanitizer build
// catches a write into freed memory).
TEST_CASE_TEMPLATE("batch: map of numbers that fails leaves its running chunks harmless", Pool,
                   process_pool, thread_pool) {
  Pool pool(options(2));
  std::vector<int> inputs(41, 2);
  inputs[0] = -10;  // the first chunk fails after 10 ms, while the next ones run
  CHECK_THROWS_WITH(pool.map(doubled_after_ms, inputs, {.chunksize = 4}),
                    doctest::Contains("refused after waiting"));
  CHECK(settles(pool));
  CHECK(pool.stats().failed == 1);
  CHECK(pool.map(doubled_after_ms, std::vector<int>(8, 1), {.chunksize = 3}) ==
        std::vector<int>(8, 2));
  // Every slice of the output is filled, the last one short.
  std::vector<int> squares;
  for (int x : iota_vector(1001)) squares.push_back(x * x);
  CHECK(pool.map(square, iota_vector(1001), {.chunksize = 100}) == squares);
}

// imap's results of numbers are decoded into memory reused once the loop has moved past it: with
// two chunks in flight, chunks of different sizes, and a loop that changes the results it reads,
// every result is still its own input's, in both orders and from an input read only forwards.
TEST_CASE_TEMPLATE("batch: imap results of numbers stay right while their memory is reused", Pool,
                   process_pool, thread_pool) {
  Pool pool(options(2));
  const std::vector<int> inputs = iota_vector(1003);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{250}}) {
    CAPTURE(chunk);
    const map_options small_window{.chunksize = chunk, .window = 2};
    std::vector<int> in_order;
    for (int& r : pool.imap(square, inputs, small_window)) {
      in_order.push_back(r);
      r = -1;  // written over: the next chunks must not see it
    }
    std::vector<int> squares;
    for (int x : inputs) squares.push_back(x * x);
    CHECK(in_order == squares);
    std::vector<int> any_order;
    for (int r : pool.imap_unordered(square, inputs, small_window)) any_order.push_back(r);
    std::sort(any_order.begin(), any_order.end());
    CHECK(any_order == squares);
    std::vector<int> forwards;
    for (int r : pool.imap(square, std::views::iota(0, 1003), small_window)) forwards.push_back(r);
    CHECK(forwards == squares);
  }
  // Left early, then a new imap: the first one's chunks still running write only their own memory.
  for (int r : pool.imap(square, inputs, {.chunksize = 5, .window = 3})) {
    if (r > 100) break;
  }
  std::vector<int> again;
  for (int r : pool.imap(square, iota_vector(20), {.chunksize = 5, .window = 3}))
    again.push_back(r);
  std::vector<int> expected;
  for (int x = 0; x < 20; ++x) expected.push_back(x * x);
  CHECK(again == expected);
  CHECK(settles(pool));
}

namespace {
// A range over a vector whose size() says something else: map still returns a result for every
// item the range yields.
struct misreported_size {
  const std::vector<int>* items;
  std::size_t claimed;
  auto begin() const { return items->begin(); }
  auto end() const { return items->end(); }
  std::size_t size() const { return claimed; }
};
}  // namespace

TEST_CASE_TEMPLATE("batch: map returns every item of a range whose size() is wrong", Pool,
                   process_pool, thread_pool) {
  Pool pool(options(2));
  const std::vector<int> inputs = iota_vector(250);
  std::vector<int> squares;
  for (int x : inputs) squares.push_back(x * x);
  for (std::size_t claimed :
       {std::size_t{0}, std::size_t{99}, std::size_t{100}, std::size_t{400}}) {
    CAPTURE(claimed);
    const misreported_size range{&inputs, claimed};
    CHECK(pool.map(square, range, {.chunksize = 50}) == squares);
  }
}

TEST_CASE_TEMPLATE(
    "batch: map and imap past their timeout throw timeout_error and cancel the "
    "calls not started",
    Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  const std::vector<int> slow(20, 300);  // 20 calls of 300 ms on 2 workers: 3 s at best
  CHECK_THROWS_AS(pool.map(sleep_ms, slow, {.timeout = 200ms}), timeout_error);
  CHECK(settles(pool));
  CHECK(pool.stats().cancelled >= 1);

  std::size_t yielded = 0;
  CHECK_THROWS_AS(
      [&] {
        for ([[maybe_unused]] auto pid : pool.imap_unordered(sleep_ms, slow, {.timeout = 200ms}))
          ++yielded;
      }(),
      timeout_error);
  CHECK(yielded < slow.size());
  CHECK(settles(pool));
  // A timeout long enough changes nothing.
  CHECK(pool.map(square, iota_vector(10), {.timeout = 60s}).size() == 10);
}

TEST_CASE_TEMPLATE("batch: progress is reported on the calling thread and grows to the total", Pool,
                   process_pool, thread_pool) {
  Pool pool(options(2));
  const auto caller = std::this_thread::get_id();
  std::vector<progress> seen;
  bool on_caller = true;
  auto record = [&](const progress& p) {
    on_caller = on_caller && std::this_thread::get_id() == caller;
    seen.push_back(p);
  };
  CHECK(pool.map(square, iota_vector(100), {.chunksize = 7, .on_progress = record}).size() == 100);
  CHECK(on_caller);
  REQUIRE(!seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i].done > seen[i - 1].done);
    CHECK(seen[i].elapsed >= seen[i - 1].elapsed);
  }
  for (const progress& p : seen) CHECK(p.total == std::optional<std::size_t>(100));
  CHECK(seen.back().done == 100);
  CHECK(seen.back().failed == 0);
  CHECK(seen.size() == 15);  // one report per chunk

  // An unsized input (a generator that ends when a condition fails): the total is empty until
  // the input's end has been read, and known by the last report.
  seen.clear();
  auto below_64 = std::views::iota(0) | std::views::take_while([](int i) { return i < 64; });
  int count = 0;
  for ([[maybe_unused]] int r :
       pool.imap(square, below_64, {.chunksize = 4, .window = 2, .on_progress = record}))
    ++count;
  CHECK(count == 64);
  REQUIRE(!seen.empty());
  CHECK(seen.front().total == std::nullopt);
  CHECK(seen.back().total == std::optional<std::size_t>(64));
  CHECK(seen.back().done == 64);

  // Failed inputs are counted as failed.
  seen.clear();
  CHECK_THROWS(pool.map(fails_at_fifty, std::vector<int>{1, 50, 2}, {.on_progress = record}));
  REQUIRE(!seen.empty());
  CHECK(std::any_of(seen.begin(), seen.end(), [](const progress& p) { return p.failed == 1; }));
}

TEST_CASE_TEMPLATE(
    "batch: a chunksize or window of 0 and a negative timeout are "
    "std::invalid_argument",
    Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  const std::vector<int> inputs = iota_vector(10);
  CHECK_THROWS_AS(pool.map(square, inputs, {.chunksize = 0}), std::invalid_argument);
  CHECK_THROWS_AS(pool.imap(square, inputs, {.chunksize = 0}), std::invalid_argument);
  CHECK_THROWS_AS(pool.imap(square, inputs, {.window = 0}), std::invalid_argument);
  CHECK_THROWS_AS(pool.imap_unordered(square, inputs, {.window = 0}), std::invalid_argument);
  CHECK_THROWS_AS(pool.map(square, inputs, {.timeout = -1s}), std::invalid_argument);
  CHECK(pool.stats().submitted == 0);
}

TEST_CASE_TEMPLATE(
    "batch: an input range that throws ends the batch with its exception and "
    "cancels what was queued",
    Pool, process_pool, thread_pool) {
  Pool pool(options(2));
  auto breaks_at_30 = std::views::iota(0, 1000) | std::views::transform([](int i) {
                        if (i == 30) throw std::domain_error("input 30 is unreadable");
                        return i;
                      });
  int seen = 0;
  CHECK_THROWS_AS(
      [&] {
        for ([[maybe_unused]] int r : pool.imap(square, breaks_at_30, {.chunksize = 4})) ++seen;
      }(),
      std::domain_error);
  CHECK(seen <= 30);
  CHECK_THROWS_AS(pool.map(square, breaks_at_30), std::domain_error);
  CHECK(settles(pool));
  CHECK(pool.submit(square, 3).get() == 9);
}

TEST_SUITE_END();
