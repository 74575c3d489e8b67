// Where a call or a result too large for its ring travels: a part of the channel's memfd mapped
// without populating it, so it costs address space only until a large payload uses it.
//
// Touching a fresh page one fault at a time is slow (NOTES.md: about 3.5 ms per MiB here); asking
// the kernel to populate a whole range in one call is some 20 times faster, and a page already
// mapped by both processes costs nothing more. So the writer populates what it is about to write,
// the reader what it is about to read, and pages stay populated for the next payload up to the
// pool's kept_payload_bytes; beyond that they are given back.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <cstddef>
#include <span>

#include "forkpool/detail/pages.hpp"

namespace forkpool::detail {

class bulk_area {
 public:
  bulk_area() = default;
  /// Maps `capacity` bytes of `fd` at `offset` (a multiple of the page size); `kept` of them stay
  /// populated between payloads.
  bulk_area(int fd, std::size_t offset, std::size_t capacity, std::size_t kept);

  std::byte* data() const noexcept { return static_cast<std::byte*>(mapping_.get_address()); }
  std::size_t capacity() const noexcept { return capacity_; }

  /// Makes [begin, end) writable without a fault per page.
  void prepare_write(std::size_t begin, std::size_t end) const noexcept;
  /// Maps in the first `size` bytes, written by the other process, without a fault per page.
  std::span<const std::byte> prepare_read(std::size_t size) const noexcept;
  /// After a payload of `used` bytes has been consumed: frees what lies beyond the kept bytes.
  void release(std::size_t used) const noexcept;

 private:
  int fd_ = -1;
  std::size_t offset_ = 0;
  std::size_t capacity_ = 0;
  std::size_t kept_ = 0;
  boost::interprocess::mapped_region mapping_;
};

}  // namespace forkpool::detail
