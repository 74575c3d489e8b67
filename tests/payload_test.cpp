// Calls and results larger than a ring travel through the workers' bulk areas; beyond
// max_payload_bytes they fail their own future and nothing else.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

TEST_SUITE_BEGIN("pool");

namespace {
// Small rings, so that modest payloads already take the bulk path.
pool_options small_rings(unsigned workers) {
  pool_options o = options(workers);
  o.ring_bytes = 64 * 1024;
  return o;
}
// One worker allowed 32 MiB of private memory above what a fresh worker has.
pool_options rss_limited_32_mib_above_a_fresh_worker() {
  std::uint64_t baseline = 0;
  {
    process_pool probe(options(1));
    probe.submit(square, 2).get();
    baseline = probe.stats().per_worker.at(0).rss_bytes;
  }
  pool_options o = options(1);
  o.max_worker_rss_bytes = baseline + (32u << 20);
  return o;
}
}  // namespace

TEST_CASE("payload: results and arguments larger than the ring arrive intact" *
          doctest::timeout(60)) {
  process_pool pool(small_rings(1));
  const std::size_t size = 3 << 20;
  CHECK(pool.submit(patterned_string, size, 5).get() == patterned_string(size, 5));
  const std::string argument = patterned_string(size, 9);
  CHECK(pool.submit(weighted_sum, argument).get() == weighted_sum(argument));
  // The same areas serve again, in both directions, and the rings still serve small calls.
  CHECK(pool.submit(patterned_string, size + 17, 6).get() == patterned_string(size + 17, 6));
  CHECK(pool.submit(weighted_sum, argument + "tail").get() == weighted_sum(argument + "tail"));
  CHECK(pool.submit(square, 12).get() == 144);
}

TEST_CASE(
    "payload: a result and an argument large enough to be copied on two threads arrive "
    "intact" *
    doctest::timeout(120)) {
  process_pool pool(options(1));
  const std::size_t size = (std::size_t{24} << 20) + 4097;  // halves not on a page
  CHECK(pool.submit(patterned_string, size, 3).get() == patterned_string(size, 3));
  const std::string argument = patterned_string(size, 11);
  CHECK(pool.submit(weighted_sum, argument).get() == weighted_sum(argument));
}

TEST_CASE("payload: many large results and arguments in flight at once all arrive" *
          doctest::timeout(60)) {
  process_pool pool(small_rings(2));
  std::vector<future<std::string>> results;
  std::vector<future<std::uint64_t>> sums;
  std::vector<future<int>> small;
  std::vector<std::string> arguments;
  for (int i = 0; i < 24; ++i) {
    results.push_back(
        pool.submit(patterned_string, std::size_t{150000} + static_cast<std::size_t>(i) * 1000, i));
    arguments.push_back(
        patterned_string(std::size_t{120000} + static_cast<std::size_t>(i), i + 100));
    sums.push_back(pool.submit(weighted_sum, arguments.back()));
    small.push_back(pool.submit(square, i));
  }
  for (int i = 0; i < 24; ++i) {
    CHECK(results[static_cast<std::size_t>(i)].get() ==
          patterned_string(std::size_t{150000} + static_cast<std::size_t>(i) * 1000, i));
    CHECK(sums[static_cast<std::size_t>(i)].get() ==
          weighted_sum(arguments[static_cast<std::size_t>(i)]));
    CHECK(small[static_cast<std::size_t>(i)].get() == i * i);
  }
}

TEST_CASE(
    "payload: beyond max_payload_bytes a call fails with bad_arguments and a result with protocol_error" *
    doctest::timeout(60)) {
  pool_options o = small_rings(1);
  o.max_payload_bytes = 1 << 20;
  process_pool pool(o);
  try {
    pool.submit(weighted_sum, std::string(2 << 20, 'x')).get();
    FAIL("expected bad_arguments");
  } catch (const bad_arguments& e) {
    CHECK(std::string(e.what()).find("max_payload_bytes") != std::string::npos);
  }
  try {
    pool.submit(patterned_string, std::size_t{2} << 20, 1).get();
    FAIL("expected protocol_error");
  } catch (const protocol_error& e) {
    CHECK(std::string(e.what()).find("max_payload_bytes") != std::string::npos);
  }
  // The worker that overflowed its area serves large and small calls as before.
  CHECK(pool.submit(patterned_string, std::size_t{500000}, 3).get() == patterned_string(500000, 3));
  CHECK(pool.submit(square, 9).get() == 81);
  CHECK(pool.stats().restarts() == 0);
}

TEST_CASE("payload: strings and vectors larger than the huge-page threshold arrive intact" *
          doctest::timeout(60)) {
  // 6 MiB: past the size from which a decoded string or vector gets prepared memory, and past
  // the ring; once with the bulk areas' pages kept between payloads and once without.
  for (const std::size_t kept : {std::size_t{64} << 20, std::size_t{0}}) {
    pool_options o = options(1);
    o.kept_payload_bytes = kept;
    process_pool pool(o);
    const std::size_t size = (6 << 20) + 11;
    for (int round = 0; round < 2; ++round) {
      CHECK(pool.submit(patterned_string, size, round).get() == patterned_string(size, round));
      const std::string argument = patterned_string(size, round + 50);
      CHECK(pool.submit(weighted_sum, argument).get() == weighted_sum(argument));
      const copy_counted numbers = pool.submit(ramp, std::size_t{800000}).get();
      CHECK(numbers.values == ramp(800000).values);
      CHECK(pool.submit(sum_of, numbers).get() == sum_of(numbers));
    }
  }
}

TEST_CASE("payload: get() on the only future hands the result over and on a shared one copies it" *
          doctest::timeout(60)) {
  process_pool processes(options(1));
  thread_pool threads({.workers = 1});
  auto check = [](auto& pool) {
    copy_counted::copies = 0;
    const copy_counted alone = pool.submit(ramp, std::size_t{1000}).get();
    CHECK(copy_counted::copies == 0);
    CHECK(alone.values.size() == 1000);

    auto first = pool.submit(ramp, std::size_t{1000});
    auto second = first;
    const copy_counted shared = std::move(first).get();  // `second` still needs the value
    CHECK(copy_counted::copies == 1);
    first = {};
    const copy_counted last = std::move(second).get();  // now the only one: moved out
    CHECK(copy_counted::copies == 1);
    CHECK(last.values == shared.values);
  };
  check(processes);
  check(threads);
}

TEST_CASE("payload: submit encodes an argument in place without copying it" *
          doctest::timeout(60)) {
  process_pool pool(options(1));
  const copy_counted numbers = ramp(700000);  // 5.6 MiB
  copy_counted::copies = 0;
  auto sum = pool.submit(sum_of, numbers);
  CHECK(copy_counted::copies == 0);
  CHECK(sum.get() == sum_of(numbers));
}

TEST_CASE("payload: the bulk pages kept between large results do not count as worker memory" *
          doctest::timeout(60)) {
  // Each result leaves 40 MiB populated in the shared response area, 8 MiB more than the limit
  // allows above a fresh worker's own memory (which includes what it shares copy-on-write with
  // this process); the worker's own memory falls back once the task's string is freed, so
  // nothing is replaced.
  if (test_tasks::kSanitized)
    return;  // ASan keeps freed memory in quarantine: private RSS stays high
  const pool_options o = rss_limited_32_mib_above_a_fresh_worker();
  process_pool pool(o);
  const std::size_t size = 40 << 20;
  const std::string argument = patterned_string(size, 1);
  for (int round = 0; round < 3; ++round) {
    // `rendered` is never lent, so its bytes go through the response area.
    const rendered result = pool.submit(render, size).get();
    CHECK(result.bytes == size);
    CHECK(result.seed == 0);
    CHECK(pool.submit(weighted_sum, argument).get() == weighted_sum(argument));
  }
  CHECK(pool.stats().result_bytes_read_in_place == 0);
  const pool_stats stats = pool.stats();
  CHECK(stats.restarts_memory == 0);
  REQUIRE(stats.per_worker.size() == 1);
  CHECK(stats.per_worker[0].rss_bytes < o.max_worker_rss_bytes);
}

TEST_CASE(
    "payload: large strings and vectors are copied once from the worker's memory into the result" *
    doctest::timeout(60)) {
  const bool lending = can_read_child_memory();
  MESSAGE("the master can read its workers' memory: " << lending);
  for (const std::size_t ring : {std::size_t{64} << 10, std::size_t{1} << 20}) {
    pool_options o = options(1);
    o.ring_bytes = ring;  // also with a ring too small for the rest of the reply and its table
    process_pool pool(o);
    CHECK(pool.submit(square, 3).get() == 9);  // the worker has started: the master has checked it
    const std::size_t size = (5 << 20) + 3;
    CHECK(pool.submit(patterned_string, size, 4).get() == patterned_string(size, 4));
    std::uint64_t expected = lending ? size : 0;
    CHECK(pool.stats().result_bytes_read_in_place == expected);

    // Runs among copied bytes: a vector of large and short strings, and a pair of a string and
    // numbers; 40 pieces, 20 of them lent.
    const std::vector<std::string> pieces =
        pool.submit(patterned_pieces, std::size_t{40}, std::size_t{1} << 20).get();
    CHECK(pieces == patterned_pieces(40, std::size_t{1} << 20));
    expected += lending ? 20 * (std::size_t{1} << 20) : 0;
    const auto both = pool.submit(string_and_numbers, std::size_t{3} << 20).get();
    CHECK(both == string_and_numbers(std::size_t{3} << 20));
    expected += lending ? 2 * (std::size_t{3} << 20) : 0;
    CHECK(pool.stats().result_bytes_read_in_place == expected);

    // A result whose bytes are made while it is encoded is copied, as are runs below 1 MiB.
    const rendered text = pool.submit(render, std::size_t{3} << 20).get();
    CHECK(text.bytes == std::size_t{3} << 20);
    CHECK(text.seed == 0);
    CHECK(pool.submit(patterned_string, std::size_t{900000}, 1).get() ==
          patterned_string(900000, 1));
    CHECK(pool.stats().result_bytes_read_in_place == expected);
    CHECK(pool.stats().restarts() == 0);
  }
}

TEST_CASE("payload: a lent result does not count as worker memory while the master reads it" *
          doctest::timeout(60)) {
  // The worker reports its memory while its result is still alive (the master reads it after);
  // those bytes are freed right after, so they must not make the worker look 48 MiB larger.
  if (test_tasks::kSanitized || !can_read_child_memory()) return;
  const pool_options o = rss_limited_32_mib_above_a_fresh_worker();
  process_pool pool(o);
  CHECK(pool.submit(square, 3).get() == 9);
  const std::size_t size = 48 << 20;
  for (int round = 0; round < 3; ++round)
    CHECK(pool.submit(patterned_string, size, round).get() == patterned_string(size, round));
  const pool_stats stats = pool.stats();
  CHECK(stats.result_bytes_read_in_place == 3 * size);
  CHECK(stats.restarts_memory == 0);
}

TEST_CASE("payload: a fresh worker lends from its first result" * doctest::timeout(60)) {
  // A new worker announces itself when it starts, and the master checks then, while the task
  // still builds its result: with a fresh worker per task, results are still read in place.
  const bool lending = can_read_child_memory();
  pool_options o = options(1);
  o.max_tasks_per_worker = 1;
  process_pool pool(o);
  const std::size_t size = 5 << 20;
  for (int round = 0; round < 5; ++round)
    CHECK(pool.submit(patterned_string, size, round).get() == patterned_string(size, round));
  const pool_stats stats = pool.stats();
  CHECK(stats.restarts_task_count >= 4);
  // Building 5 MiB takes milliseconds, the check one wake-up of the pool's thread: on a loaded
  // machine a worker may still lose that race now and then, but not all five.
  MESSAGE("results read in place: " << stats.result_bytes_read_in_place / size << " of 5");
  if (lending) CHECK(stats.result_bytes_read_in_place >= size);
}

namespace {
// A result the task returns by reference may be part of its arguments, which die when the task
// returns; a const value cannot be moved into the worker's keeping. Both are copied, not lent.
const std::string& last_of(const std::vector<std::string>& texts) { return texts.back(); }
const std::vector<double> const_ramp(std::size_t count) {
  std::vector<double> ramp(count);
  for (std::size_t i = 0; i < count; ++i) ramp[i] = static_cast<double>(i) / 3;
  return ramp;
}
}  // namespace
FORKPOOL_TASK(last_of);
FORKPOOL_TASK(const_ramp);

TEST_CASE("payload: a large result returned by reference or as a const value is copied intact" *
          doctest::timeout(60)) {
  process_pool pool(options(1));
  const std::vector<std::string> texts{"short", patterned_string(3 << 20, 4)};
  CHECK(pool.submit(last_of, texts).get() == texts.back());
  const std::vector<double> ramp = pool.submit(const_ramp, std::size_t{1} << 18).get();
  CHECK(ramp == const_ramp(std::size_t{1} << 18));
  CHECK(pool.stats().result_bytes_read_in_place == 0);
  thread_pool threads(options(1));  // the same calls, one line away
  CHECK(threads.submit(last_of, texts).get() == texts.back());
  CHECK(threads.submit(const_ramp, std::size_t{3}).get() == const_ramp(3));
  // The same pool still lends the result a task owns.
  const std::size_t size = 5 << 20;
  CHECK(pool.submit(patterned_string, size, 2).get() == patterned_string(size, 2));
  if (can_read_child_memory()) CHECK(pool.stats().result_bytes_read_in_place >= size);
}

TEST_CASE("payload: more than 64 large runs in one result arrive intact" * doctest::timeout(60)) {
  process_pool pool(options(1));
  CHECK(pool.submit(square, 3).get() == 9);
  const std::vector<std::string> pieces =
      pool.submit(patterned_pieces, std::size_t{150}, std::size_t{1} << 20).get();
  CHECK(pieces == patterned_pieces(150, std::size_t{1} << 20));
  // At most 64 runs are lent; the other 11 large pieces are copied.
  if (can_read_child_memory())
    CHECK(pool.stats().result_bytes_read_in_place == 64 * (std::size_t{1} << 20));
}

TEST_CASE(
    "payload: lent results beyond max_payload_bytes fail with protocol_error and the worker serves "
    "on" *
    doctest::timeout(60)) {
  pool_options o = options(1);
  o.max_payload_bytes = 4 << 20;
  process_pool pool(o);
  CHECK(pool.submit(square, 3).get() == 9);
  try {
    pool.submit(patterned_pieces, std::size_t{9}, std::size_t{1} << 20).get();
    FAIL("expected protocol_error");
  } catch (const protocol_error& e) {
    CHECK(std::string(e.what()).find("max_payload_bytes") != std::string::npos);
  }
  CHECK(pool.submit(patterned_string, std::size_t{3} << 20, 2).get() ==
        patterned_string(std::size_t{3} << 20, 2));
  CHECK(pool.stats().restarts() == 0);
}

TEST_SUITE_END();
