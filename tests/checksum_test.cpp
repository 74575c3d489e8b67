#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "checksum.hpp"

using forkpool::detail::crc32c;
using forkpool::detail::crc32c_bytewise;

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

// The hardware path runs three interleaved CRCs per block (of 256 and 8192 bytes) and joins
// them: every length around the block edges, at every alignment, must match the byte-at-a-time
// table.
TEST_CASE("checksum: the fast path matches the byte-at-a-time table at any length" *
          doctest::timeout(30)) {
  std::string text(3 * 3 * 8192 + 64, '\0');
  std::uint32_t state = 12345;
  for (char& c : text) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < 1200; ++n) lengths.push_back(n);
  for (const std::size_t edge : {3 * 256, 6 * 256, 3 * 8192, 6 * 8192, 9 * 8192})
    for (std::size_t n = edge - 17; n <= edge + 17; ++n) lengths.push_back(n);
  int mismatches = 0;
  for (const std::size_t length : lengths)
    for (std::size_t offset = 0; offset < 8; ++offset) {
      const char* data = text.data() + offset;
      const std::uint32_t seed = static_cast<std::uint32_t>(length * 2654435761u);
      if (crc32c(seed, data, length) != crc32c_bytewise(seed, data, length)) ++mismatches;
    }
  CHECK(mismatches == 0);
}
