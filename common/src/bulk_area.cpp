#include "bulk_area.hpp"

#include "shared_region.hpp"

#include <fcntl.h>

#include <algorithm>

namespace forkpool::detail {

bulk_area::bulk_area(int fd, std::size_t offset, std::size_t capacity, std::size_t kept)
    : fd_(fd),
      offset_(offset),
      capacity_(capacity),
      kept_(std::min(page_ceil(kept), capacity)),
      mapping_(descriptor_mappable(fd), boost::interprocess::read_write,
               static_cast<boost::interprocess::offset_t>(offset), capacity) {}

void bulk_area::prepare_write(std::size_t begin, std::size_t end) const noexcept {
  begin = page_floor(begin);
  end = std::min(page_ceil(end), capacity_);
  if (end > begin) populate(data() + begin, end - begin, populate_for::writing);
}

std::span<const std::byte> bulk_area::prepare_read(std::size_t size) const noexcept {
  size = std::min(size, capacity_);
  populate(data(), page_ceil(size), populate_for::reading);
  return {data(), size};
}

void bulk_area::release(std::size_t used) const noexcept {
  used = std::min(page_ceil(used), capacity_);
  if (used <= kept_) return;
  ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset_ + kept_),
              static_cast<off_t>(used - kept_));
}

}  // namespace forkpool::detail
