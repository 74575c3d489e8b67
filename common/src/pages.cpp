#include "forkpool/detail/pages.hpp"

#include <sys/mman.h>

#include <cstdint>

#include "two_halves.hpp"

// Linux 5.14; older kernels answer EINVAL and the pages fault in one by one instead.
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace forkpool::detail {

void populate(void* begin, std::size_t bytes, populate_for use) noexcept {
  if (bytes != 0)
    ::madvise(begin, bytes,
              use == populate_for::writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
}

void prepare_pages_inside(void* begin, std::size_t bytes) noexcept {
  const auto first = reinterpret_cast<std::uintptr_t>(begin);
  const std::uintptr_t end = first + bytes;
  const std::uintptr_t huge_begin = page_ceil(first, kHugePageBytes);
  const std::uintptr_t huge_end = page_floor(end, kHugePageBytes);
  if (huge_end > huge_begin)
    ::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  const std::uintptr_t page_begin = page_ceil(first), page_end = page_floor(end);
  if (page_end <= page_begin) return;
  auto* pages = reinterpret_cast<std::byte*>(page_begin);
  in_two_halves(page_end - page_begin, kHugePageBytes, [pages](std::size_t at, std::size_t n) {
    populate(pages + at, n, populate_for::writing);
  });
}

}  // namespace forkpool::detail
