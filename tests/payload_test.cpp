// Calls and results larger than a ring travel through the workers' bulk areas; beyond
// max_payload_bytes they fail their own future and nothing else.
#include <doctest/doctest.h>

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
}  // namespace

TEST_CASE("payload: results and arguments larger than the ring arrive intact" * doctest::timeout(60)) {
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

TEST_CASE("payload: many large results and arguments in flight at once all arrive" * doctest::timeout(60)) {
  process_pool pool(small_rings(2));
  std::vector<future<std::string>> results;
  std::vector<future<std::uint64_t>> sums;
  std::vector<future<int>> small;
  std::vector<std::string> arguments;
  for (int i = 0; i < 24; ++i) {
    results.push_back(pool.submit(patterned_string, std::size_t{150000} + static_cast<std::size_t>(i) * 1000, i));
    arguments.push_back(patterned_string(std::size_t{120000} + static_cast<std::size_t>(i), i + 100));
    sums.push_back(pool.submit(weighted_sum, arguments.back()));
    small.push_back(pool.submit(square, i));
  }
  for (int i = 0; i < 24; ++i) {
    CHECK(results[static_cast<std::size_t>(i)].get() ==
          patterned_string(std::size_t{150000} + static_cast<std::size_t>(i) * 1000, i));
    CHECK(sums[static_cast<std::size_t>(i)].get() == weighted_sum(arguments[static_cast<std::size_t>(i)]));
    CHECK(small[static_cast<std::size_t>(i)].get() == i * i);
  }
}

TEST_CASE("payload: beyond max_payload_bytes a call fails with bad_arguments and a result with protocol_error" *
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

TEST_SUITE_END();
