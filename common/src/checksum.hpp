// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace forkpool::detail {

/// Extends `crc` (start with 0) over `size` bytes at `data`.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t size) noexcept;

/// The same CRC by table, a byte at a time: where the CPU lacks SSE4.2, and the tests' reference.
std::uint32_t crc32c_bytewise(std::uint32_t crc, const void* data, std::size_t size) noexcept;

}  // namespace forkpool::detail
