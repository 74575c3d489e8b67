#include "checksum.hpp"

#include <array>
#include <atomic>
#include <cstring>

namespace forkpool::detail {
namespace {

constexpr std::uint32_t kPolynomial = 0x82f63b78;  // CRC-32C, reflected

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kTable = make_table();

#if defined(__x86_64__)
// The crc32 instruction takes 3 cycles but can start one a cycle: three independent runs over
// three thirds of a block keep it busy, and the runs' CRCs are then joined by "shifting" a CRC
// over the bytes that follow it, a linear map applied by table (Mark Adler's method, as in
// zlib's crc32_combine). Blocks of kLong bytes per run, then of kShort, then one run for the
// rest.
constexpr std::size_t kLong = 8192;
constexpr std::size_t kShort = 256;

// GF(2) 32x32 matrices as 32 column words: the linear map of n zero bytes on a CRC register.
using gf2_matrix = std::array<std::uint32_t, 32>;

constexpr std::uint32_t gf2_times(const gf2_matrix& matrix, std::uint32_t vector) {
  std::uint32_t sum = 0;
  for (int n = 0; vector != 0; vector >>= 1, ++n)
    if (vector & 1) sum ^= matrix[static_cast<std::size_t>(n)];
  return sum;
}

constexpr gf2_matrix gf2_square(const gf2_matrix& matrix) {
  gf2_matrix square{};
  for (std::size_t n = 0; n < 32; ++n) square[n] = gf2_times(matrix, matrix[n]);
  return square;
}

/// The map that runs a CRC register over `bytes` zero bytes (a power of two).
constexpr gf2_matrix zeros_operator(std::size_t bytes) {
  gf2_matrix op{};  // one zero bit
  op[0] = kPolynomial;
  for (std::size_t n = 1; n < 32; ++n) op[n] = std::uint32_t{1} << (n - 1);
  for (std::size_t bits = 1; bits < 8 * bytes; bits *= 2) op = gf2_square(op);
  return op;
}

/// That map applied a byte of the register at a time: four tables of 256.
using shift_tables = std::array<std::array<std::uint32_t, 256>, 4>;
constexpr shift_tables make_shift_tables(std::size_t bytes) {
  const gf2_matrix op = zeros_operator(bytes);
  shift_tables tables{};
  for (std::uint32_t n = 0; n < 256; ++n)
    for (std::size_t k = 0; k < 4; ++k) tables[k][n] = gf2_times(op, n << (8 * k));
  return tables;
}
constexpr shift_tables kShiftLong = make_shift_tables(kLong);
constexpr shift_tables kShiftShort = make_shift_tables(kShort);

constexpr std::uint32_t shift(const shift_tables& tables, std::uint64_t crc) {
  return tables[0][crc & 0xff] ^ tables[1][(crc >> 8) & 0xff] ^ tables[2][(crc >> 16) & 0xff] ^
         tables[3][(crc >> 24) & 0xff];
}

__attribute__((target("sse4.2"))) inline std::uint64_t crc_word(std::uint64_t crc,
                                                                const unsigned char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, 8);
  return __builtin_ia32_crc32di(crc, word);
}

/// Runs `crc` over `size` bytes (a multiple of 3 * block) as three interleaved runs per 3 blocks.
__attribute__((target("sse4.2"))) std::uint64_t crc_triples(std::uint64_t crc,
                                                            const unsigned char*& p,
                                                            std::size_t& size, std::size_t block,
                                                            const shift_tables& tables) {
  while (size >= 3 * block) {
    std::uint64_t second = 0, third = 0;
    for (const unsigned char* end = p + block; p < end; p += 8) {
      crc = crc_word(crc, p);
      second = crc_word(second, p + block);
      third = crc_word(third, p + 2 * block);
    }
    crc = shift(tables, crc) ^ second;
    crc = shift(tables, crc) ^ third;
    p += 2 * block;
    size -= 3 * block;
  }
  return crc;
}

__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc, const void* data,
                                                             std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  if (size >= 3 * kShort) {  // a no-op call's frame is a few dozen bytes: straight to the loop
    c = crc_triples(c, p, size, kLong, kShiftLong);
    c = crc_triples(c, p, size, kShort, kShiftShort);
  }
  for (; size >= 8; p += 8, size -= 8) c = crc_word(c, p);
  auto c32 = static_cast<std::uint32_t>(c);
  while (size-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

using crc_function = std::uint32_t (*)(std::uint32_t, const void*, std::size_t) noexcept;

crc_function pick_implementation() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return &crc32c_sse42;
#endif
  return &crc32c_bytewise;
}

// Not a function-local static: workers forked while another thread initialized one would wait
// on its guard for good. Picking twice in a race picks the same function.
constinit std::atomic<crc_function> implementation{nullptr};

}  // namespace

std::uint32_t crc32c_bytewise(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (size-- > 0) crc = kTable[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  crc_function f = implementation.load(std::memory_order_relaxed);
  if (f == nullptr) {
    f = pick_implementation();
    implementation.store(f, std::memory_order_relaxed);
  }
  return f(crc, data, size);
}

}  // namespace forkpool::detail
