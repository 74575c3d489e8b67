// A call's encoded arguments: a few numbers kept in place, anything larger in a buffer, and the
// same bytes either way.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "forkpool/detail/call_arguments.hpp"
#include "forkpool/process_pool.hpp"
#include "test_tasks.hpp"

using forkpool::detail::byte_buffer;
using forkpool::detail::call_arguments;

namespace {

byte_buffer bytes_of(const call_arguments& arguments) {
  const std::span<const std::byte> view = arguments;
  return byte_buffer(view.begin(), view.end());
}

template <class... T>
byte_buffer encoded_plainly(const T&... values) {
  byte_buffer out;
  forkpool::detail::encode_into(out, values...);
  return out;
}

}  // namespace

// 24 bytes of arguments, the most kept in place, and 32, past it.
std::int64_t sum_of_three(std::int64_t a, std::int64_t b, std::int64_t c) { return a + b + c; }
std::int64_t sum_of_four(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
  return a + b + c + d;
}
FORKPOOL_TASK(sum_of_three);
FORKPOOL_TASK(sum_of_four);

TEST_CASE("call_arguments: numbers are encoded as a byte_buffer would hold them" *
          doctest::timeout(5)) {
  call_arguments arguments;
  CHECK(arguments.empty());
  forkpool::detail::encode_into(arguments, 7, 2.5, std::int64_t{-3});
  CHECK(arguments.size() == 4 + 8 + 8);
  CHECK(bytes_of(arguments) == encoded_plainly(7, 2.5, std::int64_t{-3}));
}

TEST_CASE("call_arguments: what outgrows the place moves to a buffer with nothing lost" *
          doctest::timeout(5)) {
  call_arguments arguments;
  forkpool::detail::encode_into(arguments, std::int64_t{1}, std::int64_t{2}, std::int64_t{3});
  forkpool::detail::encode_into(arguments, std::int64_t{4}, std::int64_t{5});  // 40 > 24 bytes
  CHECK(arguments.size() == 40);
  CHECK(bytes_of(arguments) == encoded_plainly(std::int64_t{1}, std::int64_t{2}, std::int64_t{3},
                                               std::int64_t{4}, std::int64_t{5}));
  const std::string text(100, 'x');
  call_arguments words;
  forkpool::detail::encode_into(words, text);
  CHECK(bytes_of(words) == encoded_plainly(text));
}

TEST_CASE("call_arguments: taken out or handed in the bytes stay the same" * doctest::timeout(5)) {
  call_arguments small;
  forkpool::detail::encode_into(small, 42);
  CHECK(small.take() == encoded_plainly(42));
  CHECK(small.empty());

  call_arguments handed;
  handed = encoded_plainly(std::string("abc"));
  CHECK(bytes_of(handed) == encoded_plainly(std::string("abc")));
  CHECK(handed.take() == encoded_plainly(std::string("abc")));
  CHECK(handed.empty());
}

TEST_CASE("call_arguments: calls whose arguments fill the place exactly or just past it run" *
          doctest::timeout(60)) {
  forkpool::process_pool pool(forkpool::pool_options{.workers = 1});
  CHECK(pool.submit(sum_of_three, 1, 2, 3).get() == 6);
  CHECK(pool.submit(sum_of_four, 1, 2, 3, 4).get() == 10);
  CHECK(pool.submit(test_tasks::greet, std::string(31, 'a')).get() ==
        "hello, " + std::string(31, 'a'));
}
