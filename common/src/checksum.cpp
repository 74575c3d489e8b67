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

std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (size-- > 0) crc = kTable[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc, const void* data,
                                                             std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  while (size >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    size -= 8;
  }
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
  return &crc32c_portable;
}

// Not a function-local static: workers forked while another thread initialized one would wait
// on its guard for good. Picking twice in a race picks the same function.
constinit std::atomic<crc_function> implementation{nullptr};

}  // namespace

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  crc_function f = implementation.load(std::memory_order_relaxed);
  if (f == nullptr) {
    f = pick_implementation();
    implementation.store(f, std::memory_order_relaxed);
  }
  return f(crc, data, size);
}

}  // namespace forkpool::detail
