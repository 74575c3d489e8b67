// forkpool's archives: the bytes of cereal's binary archive, and decoding that cannot be made to
// allocate more than the message holds.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cereal/archives/binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "forkpool/detail/serialize.hpp"
#include "worker_channel.hpp"

using namespace forkpool::detail;

namespace {
struct record {
  int id = 0;
  std::string name;
  std::vector<double> samples;
  std::map<std::string, int> tags;
  template <class Archive>
  void serialize(Archive& a) {
    a(id, name, samples, tags);
  }
  bool operator==(const record&) const = default;
};

record sample_record() { return {7, "seven", {0.5, 1.5, 2.5}, {{"a", 1}, {"b", 2}}}; }
}  // namespace

TEST_CASE("archive: encodes exactly as cereal's binary archive" * doctest::timeout(5)) {
  const record r = sample_record();
  byte_buffer ours;
  encode_into(ours, r, std::string("tail"));
  std::ostringstream theirs;
  {
    cereal::BinaryOutputArchive archive(theirs);
    archive(r, std::string("tail"));
  }
  const std::string expected = theirs.str();
  REQUIRE(ours.size() == expected.size());
  CHECK(std::memcmp(ours.data(), expected.data(), expected.size()) == 0);

  record back;
  std::string tail;
  decode_exact(ours, back, tail);
  CHECK(back == r);
  CHECK(tail == "tail");
}

TEST_CASE("archive: a chunk of numeric inputs encodes as cereal's and decodes intact" *
          doctest::timeout(10)) {
  // More than one block of either record size, and a count that does not fill the last block.
  std::vector<std::tuple<int>> ints;
  std::vector<std::tuple<std::int64_t, double, char>> mixed;
  for (int i = 0; i < 2500; ++i) {
    ints.emplace_back(i * 37 - 1000);
    mixed.emplace_back(std::int64_t{i} << 33, i * 0.25, static_cast<char>(i));
  }
  byte_buffer ours;
  encode_into(ours, ints, mixed);
  std::ostringstream theirs;
  {
    cereal::BinaryOutputArchive archive(theirs);
    archive(ints, mixed);
  }
  const std::string expected = theirs.str();
  REQUIRE(ours.size() == expected.size());
  CHECK(std::memcmp(ours.data(), expected.data(), expected.size()) == 0);

  std::vector<std::tuple<int>> ints_back{{5}};
  std::vector<std::tuple<std::int64_t, double, char>> mixed_back;
  decode_exact(ours, ints_back, mixed_back);
  CHECK(ints_back == ints);
  CHECK(mixed_back == mixed);
  // A count the bytes cannot hold fails before the vector is sized.
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(ours.data(), &huge, sizeof huge);
  CHECK_THROWS_AS(decode_exact(ours, ints_back, mixed_back), decode_failure);
}

TEST_CASE("archive: map's chunks of numbers encode as a vector and decode into a slice" *
          doctest::timeout(10)) {
  std::vector<std::int64_t> numbers;
  for (std::int64_t i = 0; i < 1500; ++i) numbers.push_back(i * i - 700);
  byte_buffer as_vector, as_span;
  encode_into(as_vector, numbers);
  as_span.push_back(std::byte{9});  // appends: what is in the buffer stays
  encode_numbers_into(as_span, std::span<const std::int64_t>(numbers));
  REQUIRE(as_span.size() == as_vector.size() + 1);
  CHECK(as_span.front() == std::byte{9});
  CHECK(std::memcmp(as_span.data() + 1, as_vector.data(), as_vector.size()) == 0);

  // Decoded into the middle of a larger output, touching nothing around it.
  std::vector<std::int64_t> output(numbers.size() + 2, -1);
  decode_numbers_into(payload_view(as_vector),
                      std::span<std::int64_t>(output.data() + 1, numbers.size()));
  CHECK(output.front() == -1);
  CHECK(output.back() == -1);
  CHECK(std::equal(numbers.begin(), numbers.end(), output.begin() + 1));
  // A result of another length than its chunk, a count the bytes cannot hold, and bytes left
  // over all fail.
  std::vector<std::int64_t> shorter(numbers.size() - 1);
  CHECK_THROWS_WITH_AS(decode_numbers_into(payload_view(as_vector), std::span(shorter)),
                       "a chunk of 1499 inputs came back with 1500 results", decode_failure);
  byte_buffer longer = as_vector;
  longer.push_back(std::byte{0});
  CHECK_THROWS_AS(decode_numbers_into(payload_view(longer),
                                      std::span<std::int64_t>(output.data(), numbers.size())),
                  decode_failure);
  const std::uint64_t huge = std::uint64_t{1} << 40;
  std::memcpy(as_vector.data(), &huge, sizeof huge);
  CHECK_THROWS_AS(decode_numbers_into(payload_view(as_vector),
                                      std::span<std::int64_t>(output.data(), numbers.size())),
                  decode_failure);
}

TEST_CASE("archive: large strings and vectors decode intact" * doctest::timeout(20)) {
  std::string text(kLargeDestination + 12345, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 7 + i / 4096);
  std::vector<std::int64_t> numbers(kLargeDestination / 8 + 3);
  for (std::size_t i = 0; i < numbers.size(); ++i)
    numbers[i] = static_cast<std::int64_t>(i * i) - 5;
  byte_buffer bytes;
  encode_into(bytes, text, numbers);
  std::string text_back = "something already there";
  std::vector<std::int64_t> numbers_back{1, 2, 3};
  decode_exact(bytes, text_back, numbers_back);
  CHECK(text_back == text);
  CHECK(numbers_back == numbers);
}

TEST_CASE("archive: a length larger than the message fails before allocating" *
          doctest::timeout(5)) {
  byte_buffer bytes;
  encode_into(bytes, std::string("abc"), std::vector<double>{1.0, 2.0});
  std::string text;
  std::vector<double> numbers;

  SUBCASE("a string's length") {
    const std::uint64_t huge = std::uint64_t{1} << 50;
    std::memcpy(bytes.data(), &huge, sizeof huge);
    CHECK_THROWS_AS(decode_exact(bytes, text, numbers), decode_failure);
  }
  SUBCASE("a vector's length, just past what is left") {
    const std::uint64_t three = 3;
    std::memcpy(bytes.data() + 8 + 3, &three, sizeof three);
    CHECK_THROWS_AS(decode_exact(bytes, text, numbers), decode_failure);
  }
  SUBCASE("a count of strings") {
    byte_buffer names;
    encode_into(names, std::vector<std::string>{"a", "b"});
    const std::uint64_t huge = std::uint64_t{1} << 58;
    std::memcpy(names.data(), &huge, sizeof huge);
    std::vector<std::string> decoded;
    CHECK_THROWS_AS(decode_exact(names, decoded), decode_failure);
    names.clear();
    encode_into(names, std::vector<std::string>{"a", "b"});
    decode_exact(names, decoded);
    CHECK(decoded == std::vector<std::string>{"a", "b"});
  }
  SUBCASE("a message cut short") {
    bytes.pop_back();
    CHECK_THROWS_AS(decode_exact(bytes, text, numbers), decode_failure);
  }
  SUBCASE("bytes left over") {
    bytes.push_back(std::byte{0});
    CHECK_THROWS_AS(decode_exact(bytes, text, numbers), decode_failure);
  }
}

namespace {
// Splits an encoding into copied bytes and lent runs (read back from this very process), as a
// worker's reply would: each `cut` (offset, length) of the encoding becomes a run.
struct split_payload {
  byte_buffer copied;
  std::vector<lent_run> runs;
  split_payload(const byte_buffer& whole, std::vector<std::pair<std::size_t, std::size_t>> cuts) {
    std::size_t next = 0;
    for (const auto& [offset, length] : cuts) {
      copied.insert(copied.end(), whole.begin() + static_cast<std::ptrdiff_t>(next),
                    whole.begin() + static_cast<std::ptrdiff_t>(offset));
      runs.push_back(
          {copied.size(), reinterpret_cast<std::uintptr_t>(whole.data() + offset), length});
      next = offset + length;
    }
    copied.insert(copied.end(), whole.begin() + static_cast<std::ptrdiff_t>(next), whole.end());
  }
};
}  // namespace

TEST_CASE("archive: lent runs are read from their owner in order among the copied bytes" *
          doctest::timeout(10)) {
  const record r = sample_record();
  const std::string big(3 << 20, 'q');
  byte_buffer whole;
  encode_into(whole, r, big, std::string("tail"));
  const std::size_t big_at = whole.size() - (3 << 20) - 8 - 4;  // then the tail's length and bytes
  // Runs that match the string, that split a value in two, and two that touch.
  const std::vector<std::vector<std::pair<std::size_t, std::size_t>>> layouts = {
      {{big_at, 3 << 20}},
      {{2, 5}, {big_at + 100, 1000}},
      {{big_at, 10}, {big_at + 10, (3 << 20) - 10}},
  };
  for (const auto& cuts : layouts) {
    const split_payload split(whole, cuts);
    record back;
    std::string big_back, tail;
    decode_exact(payload_view(split.copied, split.runs, static_cast<int>(::getpid())), back,
                 big_back, tail);
    CHECK(back == r);
    CHECK(big_back == big);
    CHECK(tail == "tail");
  }
}

TEST_CASE("archive: a lent run its owner cannot provide fails the decoding" *
          doctest::timeout(10)) {
  byte_buffer whole;
  encode_into(whole, std::string(2 << 20, 'z'));
  split_payload split(whole, {{8, 2 << 20}});
  std::string back;
  SUBCASE("the owner has exited") {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    try {
      decode_exact(payload_view(split.copied, split.runs, static_cast<int>(child)), back);
      FAIL("expected decode_failure");
    } catch (const decode_failure& e) {
      CHECK(std::string(e.what()).find("exited") != std::string::npos);
    }
  }
  SUBCASE("the address is not mapped") {
    split.runs[0].address = 8;
    CHECK_THROWS_AS(
        decode_exact(payload_view(split.copied, split.runs, static_cast<int>(::getpid())), back),
        decode_failure);
  }
}

TEST_CASE("worker channel: lending is allowed only after reading the worker's memory" *
          doctest::timeout(10)) {
  const int self = static_cast<int>(::getpid());
  {
    const auto channel = master_channel::create(4096);
    CHECK(channel->lending().settle(0) == 0);  // nothing offered yet: still unknown
    CHECK(channel->lending().state() == lending_state::unknown);
    channel->lending().offer();
    CHECK(channel->lending().settle(self) == self);
    CHECK(channel->lending().state() == lending_state::allowed);
  }
  {
    // The launcher knows the worker by another pid: the offer is not trusted.
    const auto channel = master_channel::create(4096);
    channel->lending().offer();
    CHECK(channel->lending().settle(self + 1) == 0);
    CHECK(channel->lending().state() == lending_state::refused);
  }
  {
    // The offering process has gone: its memory cannot be read.
    const auto channel = master_channel::create(4096);
    const pid_t child = ::fork();
    if (child == 0) {
      channel->lending().offer();
      ::_exit(0);
    }
    ::waitpid(child, nullptr, 0);
    CHECK(channel->lending().settle(0) == 0);
    CHECK(channel->lending().state() == lending_state::refused);
  }
}

TEST_CASE("archive: numbers and tuples of numbers skip the archive and keep cereal's bytes" *
          doctest::timeout(5)) {
  static_assert(fixed_codec_v<int, double, std::tuple<std::int64_t, char, float>,
                              std::pair<std::uint16_t, double>, std::tuple<>>);
  static_assert(!fixed_codec_v<bool> && !fixed_codec_v<std::tuple<int, bool>> &&
                !fixed_codec_v<std::string> && !fixed_codec_v<std::vector<std::tuple<int>>>);
  const std::tuple<std::int64_t, char, float> fields{-5LL << 40, 'x', 2.5F};
  const std::pair<std::uint16_t, double> pair{65000, -0.125};
  byte_buffer ours{std::byte{0xAB}};  // appends to what the buffer holds
  encode_into(ours, 42, 1.5, fields, pair);
  std::ostringstream theirs;
  {
    cereal::BinaryOutputArchive archive(theirs);
    archive(42, 1.5, fields, pair);
  }
  const std::string expected = theirs.str();
  REQUIRE(ours.size() == expected.size() + 1);
  CHECK(ours[0] == std::byte{0xAB});
  CHECK(std::memcmp(ours.data() + 1, expected.data(), expected.size()) == 0);

  // The streambuf path (a worker's result) writes the same bytes.
  byte_buffer through_sink;
  buffer_sink sink(through_sink);
  encode_to(sink, 42, 1.5, fields, pair);
  CHECK(std::vector<std::byte>(ours.begin() + 1, ours.end()) == through_sink);

  int i = 0;
  double d = 0;
  std::tuple<std::int64_t, char, float> fields_back;
  std::pair<std::uint16_t, double> pair_back;
  const std::span<const std::byte> bytes(through_sink);
  decode_exact(bytes, i, d, fields_back, pair_back);
  CHECK(i == 42);
  CHECK(d == 1.5);
  CHECK(fields_back == fields);
  CHECK(pair_back == pair);
  // Short and long inputs fail as the archive says, through payload_view too.
  CHECK_THROWS_AS(decode_exact(bytes.first(bytes.size() - 1), i, d, fields_back, pair_back),
                  decode_failure);
  byte_buffer longer = through_sink;
  longer.push_back(std::byte{0});
  CHECK_THROWS_WITH_AS(decode_exact(payload_view(longer), i, d, fields_back, pair_back),
                       "1 bytes left over after decoding", decode_failure);
  CHECK_THROWS_AS(decode_exact(payload_view(bytes.first(3)), i), decode_failure);

  // A sink that refuses bytes fails the encoding, as cereal's archive does.
  struct refusing_sink : std::streambuf {
    std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
  } refusing;
  CHECK_THROWS_AS(encode_to(refusing, 7), cereal::Exception);
}
