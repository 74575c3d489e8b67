// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace forkpool::detail {

/// Extends `crc` (start with 0) over `size` bytes at `data`.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;

}  // namespace forkpool::detail
