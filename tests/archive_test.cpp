// forkpool's archives: the bytes of cereal's binary archive, and decoding that cannot be made to
// allocate more than the message holds.
#include <doctest/doctest.h>

#include <cereal/archives/binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "forkpool/detail/serialize.hpp"

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
  SUBCASE("a message cut short") {
    bytes.pop_back();
    CHECK_THROWS_AS(decode_exact(bytes, text, numbers), decode_failure);
  }
  SUBCASE("bytes left over") {
    bytes.push_back(std::byte{0});
    CHECK_THROWS_AS(decode_exact(bytes, text, numbers), decode_failure);
  }
}
