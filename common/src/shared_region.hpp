// An anonymous shared-memory region: a memfd (no name in /dev/shm) mapped with Boost.Interprocess.
// Inherited across fork, or handed to another process as a file descriptor; it disappears when
// the last process holding it exits, however that process ends.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <cstddef>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

/// Lets Boost.Interprocess map a descriptor it did not open (a memfd).
class descriptor_mappable {
 public:
  explicit descriptor_mappable(int fd) : fd_(fd) {}
  boost::interprocess::mapping_handle_t get_mapping_handle() const noexcept {
    return boost::interprocess::ipcdetail::mapping_handle_from_file_handle(fd_);
  }
  boost::interprocess::mode_t get_mode() const noexcept { return boost::interprocess::read_write; }

 private:
  int fd_;
};

class shared_region {
 public:
  /// A new region of `size` bytes, zeroed; its owner populates what it is about to use (pages.hpp).
  /// The memfd may be longer (`file_size`): what lies beyond `size` is left to bulk_area mappings.
  static shared_region create(std::size_t size, const char* debug_name, std::size_t file_size = 0);
  /// Maps the first `size` bytes of a region created by another process, from its descriptor.
  static shared_region attach(unique_fd fd, std::size_t size);

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
