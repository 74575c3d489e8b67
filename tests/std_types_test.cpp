// Every standard type cereal supports crosses into a worker and back with <forkpool/forkpool.hpp>
// alone: this file includes no cereal header.
#include <doctest/doctest.h>

#include <array>
#include <bitset>
#include <chrono>
#include <complex>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include <forkpool/forkpool.hpp>

#include "test_tasks.hpp"

namespace {

template <class T>
T echo(T value) {
  return value;
}

using word_counts = std::map<std::string, int>;
using scores = std::unordered_map<int, double>;
using maybe_name = std::optional<std::string>;
using tagged = std::variant<int, std::string, std::vector<double>>;
using triple = std::array<long, 3>;
using span_ms = std::chrono::milliseconds;
using pair_of = std::pair<std::string, std::set<int>>;
using queue_of = std::deque<std::list<int>>;
using flags = std::bitset<12>;
using complex_vector = std::vector<std::complex<double>>;
using tuple_record = std::tuple<int, std::string, std::unordered_set<std::string>>;

std::unique_ptr<std::string> boxed(std::unique_ptr<std::string> text) {
  return std::make_unique<std::string>(*text + "!");
}

}  // namespace

FORKPOOL_TASK_NAMED(echo<word_counts>, "echo.map");
FORKPOOL_TASK_NAMED(echo<scores>, "echo.unordered_map");
FORKPOOL_TASK_NAMED(echo<maybe_name>, "echo.optional");
FORKPOOL_TASK_NAMED(echo<tagged>, "echo.variant");
FORKPOOL_TASK_NAMED(echo<triple>, "echo.array");
FORKPOOL_TASK_NAMED(echo<span_ms>, "echo.duration");
FORKPOOL_TASK_NAMED(echo<pair_of>, "echo.pair_set");
FORKPOOL_TASK_NAMED(echo<queue_of>, "echo.deque_list");
FORKPOOL_TASK_NAMED(echo<flags>, "echo.bitset");
FORKPOOL_TASK_NAMED(echo<complex_vector>, "echo.complex");
FORKPOOL_TASK_NAMED(echo<tuple_record>, "echo.tuple");
FORKPOOL_TASK(boxed);

TEST_SUITE_BEGIN("pool");

TEST_CASE("pool: standard containers and vocabulary types travel both ways" *
          doctest::timeout(60)) {
  forkpool::process_pool pool(test_tasks::options(1));
  const word_counts counts{{"a", 1}, {"b", 2}};
  CHECK(pool.submit(echo<word_counts>, counts).get() == counts);
  const scores s{{1, 0.5}, {7, 2.25}};
  CHECK(pool.submit(echo<scores>, s).get() == s);
  CHECK(pool.submit(echo<maybe_name>, maybe_name("ada")).get() == maybe_name("ada"));
  CHECK(pool.submit(echo<maybe_name>, maybe_name()).get() == std::nullopt);
  CHECK(pool.submit(echo<tagged>, tagged(std::string("x"))).get() == tagged(std::string("x")));
  CHECK(pool.submit(echo<tagged>, tagged(std::vector<double>{1, 2})).get() ==
        tagged(std::vector<double>{1, 2}));
  CHECK(pool.submit(echo<triple>, triple{1, -2, 3}).get() == triple{1, -2, 3});
  CHECK(pool.submit(echo<span_ms>, span_ms(1500)).get() == span_ms(1500));
  const pair_of p{"primes", {2, 3, 5}};
  CHECK(pool.submit(echo<pair_of>, p).get() == p);
  const queue_of q{{1, 2}, {}, {3}};
  CHECK(pool.submit(echo<queue_of>, q).get() == q);
  CHECK(pool.submit(echo<flags>, flags(0b101100111010)).get() == flags(0b101100111010));
  const complex_vector c{{1, 2}, {-0.5, 4}};
  CHECK(pool.submit(echo<complex_vector>, c).get() == c);
  const tuple_record r{7, "seven", {"s", "e"}};
  CHECK(pool.submit(echo<tuple_record>, r).get() == r);
  CHECK(*pool.submit(boxed, std::make_unique<std::string>("hi")).get() == "hi!");
}

TEST_CASE("pool: a standard type travels by name too" * doctest::timeout(60)) {
  forkpool::process_pool pool(test_tasks::options(1));
  const word_counts counts{{"x", 9}};
  CHECK(pool.submit<word_counts>("echo.map", counts).get() == counts);
}

TEST_SUITE_END();
