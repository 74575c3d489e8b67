#include "shared_region.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace forkpool::detail {

shared_region::shared_region(unique_fd fd, std::size_t size)
    : fd_(std::move(fd)),
      mapping_(descriptor_mappable(fd_.get()), boost::interprocess::read_write, 0, size) {}

shared_region shared_region::create(std::size_t size, const char* debug_name,
                                    std::size_t file_size) {
  unique_fd fd(::memfd_create(debug_name, MFD_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(std::max(size, file_size))) != 0)
    throw std::system_error(errno, std::generic_category(), "ftruncate");
  return shared_region(std::move(fd), size);
}

shared_region shared_region::attach(unique_fd fd, std::size_t size) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
  if (static_cast<std::size_t>(st.st_size) < size)
    throw std::runtime_error("forkpool: shared region shorter than expected");
  return shared_region(std::move(fd), size);
}

}  // namespace forkpool::detail
