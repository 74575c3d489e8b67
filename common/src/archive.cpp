#include "forkpool/detail/archive.hpp"

#include <sys/mman.h>

#include <cstdint>

#include "forkpool/detail/bulk_area.hpp"

// Linux 5.14; older kernels answer EINVAL and the pages fault in one by one instead.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace forkpool::detail {
namespace {

constexpr std::uintptr_t kHugePageBytes = std::uintptr_t{2} << 20;

std::uintptr_t round_up(std::uintptr_t n, std::uintptr_t to) { return (n + to - 1) & ~(to - 1); }
std::uintptr_t round_down(std::uintptr_t n, std::uintptr_t to) { return n & ~(to - 1); }

}  // namespace

void prepare_large_destination(void* data, std::size_t bytes) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t end = begin + bytes;
  // Only whole pages inside the destination: the allocator owns what lies around it.
  const std::uintptr_t huge_begin = round_up(begin, kHugePageBytes),
                       huge_end = round_down(end, kHugePageBytes);
  if (huge_end > huge_begin)
    ::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  const std::uintptr_t page_begin = round_up(begin, kPageBytes),
                       page_end = round_down(end, kPageBytes);
  if (page_end > page_begin)
    ::madvise(reinterpret_cast<void*>(page_begin), page_end - page_begin, MADV_POPULATE_WRITE);
}

}  // namespace forkpool::detail
