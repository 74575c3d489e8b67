// Page arithmetic and populating memory ahead of use. On a host like this one a fresh page costs
// a fault of ~15 µs when first touched (NOTES.md); asking the kernel to populate a whole range in
// one call is some 20 times faster.
#pragma once

#include <cstddef>

namespace forkpool::detail {

/// Mappings start and end on pages; the channel region and its bulk areas are laid out in them.
constexpr std::size_t kPageBytes = 4096;
/// Transparent huge pages, where the kernel grants them.
constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

/// `n` rounded up / down to a multiple of `unit` (a power of two).
constexpr std::size_t page_ceil(std::size_t n, std::size_t unit = kPageBytes) noexcept {
  return (n + unit - 1) & ~(unit - 1);
}
constexpr std::size_t page_floor(std::size_t n, std::size_t unit = kPageBytes) noexcept {
  return n & ~(unit - 1);
}

enum class populate_for { reading, writing };

/// Maps in [begin, begin + bytes) (page aligned) in one call instead of a fault per page. Advice
/// only: on a kernel without MADV_POPULATE_* (before 5.14) the pages fault in as they are touched.
void populate(void* begin, std::size_t bytes, populate_for use) noexcept;

/// Asks for transparent huge pages over the whole huge pages inside [begin, begin + bytes), then
/// populates the whole pages inside it for writing (a large range on two threads at once). Only
/// pages inside: whoever owns the memory around it (an allocator) is left alone.
void prepare_pages_inside(void* begin, std::size_t bytes) noexcept;

}  // namespace forkpool::detail
