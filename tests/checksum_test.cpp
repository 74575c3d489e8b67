#include <doctest/doctest.h>

#include <string>

#include "checksum.hpp"

using forkpool::detail::crc32c;

TEST_CASE("checksum: CRC-32C matches the standard check value" * doctest::timeout(5)) {
  const std::string digits = "123456789";
  CHECK(crc32c(0, digits.data(), digits.size()) == 0xE3069283u);  // RFC 3720 check value
}

TEST_CASE("checksum: can be computed in pieces and changes with any byte" * doctest::timeout(5)) {
  std::string text(1000, 'a');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 13);
  const auto whole = crc32c(0, text.data(), text.size());
  const auto first = crc32c(0, text.data(), 333);
  CHECK(crc32c(first, text.data() + 333, text.size() - 333) == whole);
  text[500] ^= 1;
  CHECK(crc32c(0, text.data(), text.size()) != whole);
}
