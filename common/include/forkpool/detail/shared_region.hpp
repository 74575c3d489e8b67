// An anonymous shared-memory region: a memfd (no name in /dev/shm) mapped with Boost.Interprocess.
// Inherited across fork, or handed to another process as a file descriptor; it disappears when
// the last process holding it exits, however that process ends.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <cstddef>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

class shared_region {
 public:
  /// A new region of `size` bytes, zeroed and already faulted in (first touch is slow: fault once).
  static shared_region create(std::size_t size, const char* debug_name);
  /// Maps a region created by another process, from its descriptor.
  static shared_region attach(unique_fd fd);

  shared_region() = default;
  shared_region(shared_region&&) noexcept = default;
  shared_region& operator=(shared_region&&) noexcept = default;

  std::byte* data() const noexcept { return static_cast<std::byte*>(mapping_.get_address()); }
  std::size_t size() const noexcept { return mapping_.get_size(); }
  int fd() const noexcept { return fd_.get(); }

 private:
  shared_region(unique_fd fd, std::size_t size);

  unique_fd fd_;
  boost::interprocess::mapped_region mapping_;
};

}  // namespace forkpool::detail
