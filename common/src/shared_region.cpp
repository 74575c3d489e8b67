#include "forkpool/detail/shared_region.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <system_error>

namespace forkpool::detail {
namespace {

// Lets Boost.Interprocess map a descriptor it did not open (a memfd).
class memfd_mappable {
 public:
  explicit memfd_mappable(int fd) : fd_(fd) {}
  boost::interprocess::mapping_handle_t get_mapping_handle() const noexcept {
    return boost::interprocess::ipcdetail::mapping_handle_from_file_handle(fd_);
  }
  boost::interprocess::mode_t get_mode() const noexcept { return boost::interprocess::read_write; }

 private:
  int fd_;
};

}  // namespace

shared_region::shared_region(unique_fd fd, std::size_t size)
    : fd_(std::move(fd)),
      // MAP_POPULATE: fault the pages in once here, never on the hot path.
      mapping_(memfd_mappable(fd_.get()), boost::interprocess::read_write, 0, size, nullptr,
               MAP_POPULATE) {}

shared_region shared_region::create(std::size_t size, const char* debug_name) {
  unique_fd fd(::memfd_create(debug_name, MFD_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    throw std::system_error(errno, std::generic_category(), "ftruncate");
  return shared_region(std::move(fd), size);
}

shared_region shared_region::attach(unique_fd fd) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
  return shared_region(std::move(fd), static_cast<std::size_t>(st.st_size));
}

}  // namespace forkpool::detail
