#include "doorbell.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace forkpool::detail {

doorbell doorbell::create(bool nonblocking) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0));
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return doorbell(unique_fd(fd));
}

doorbell doorbell::guarded(unique_fd fd, lost_handler on_lost) noexcept {
  doorbell bell(std::move(fd));
  struct stat st {};
  if (::fstat(bell.fd(), &st) != 0) on_lost();
  bell.on_lost_ = on_lost;
  bell.device_ = st.st_dev;
  bell.inode_ = st.st_ino;
  return bell;
}

void doorbell::lost() const noexcept {
  if (on_lost_ != nullptr) on_lost_();
}

void doorbell::check() const noexcept {
  if (on_lost_ == nullptr) return;
  // Only on the ring and wait paths, which make a system call anyway: the busy path makes none.
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0 || st.st_dev != device_ || st.st_ino != inode_) lost();
}

void doorbell::ring() const noexcept {
  const std::uint64_t one = 1;
  // Fails only if the counter would overflow (it is far from that) or the fd is gone.
  ssize_t n;
  while ((n = ::write(fd_.get(), &one, sizeof one)) < 0 && errno == EINTR) {
  }
  if (n != sizeof one) lost();
  check();  // a write to /dev/null in its place succeeds, and wakes no one
}

void doorbell::wait() const noexcept {
  check();
  std::uint64_t count;
  for (;;) {
    const ssize_t n = ::read(fd_.get(), &count, sizeof count);
    if (n == sizeof count) return;
    if (n >= 0) return lost();  // an eventfd reads 8 bytes or blocks; 0 is another file
    if (errno == EAGAIN) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, -1) == 1 && (p.revents & POLLNVAL) != 0) return lost();
    } else if (errno != EINTR) {
      return lost();
    }
  }
}

bool doorbell::wait_for(int timeout_ms) const noexcept {
  check();
  pollfd p{fd_.get(), POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  if (n == 1 && (p.revents & POLLNVAL) != 0) lost();
  if (n <= 0) return false;
  clear();
  return true;
}

void doorbell::clear() const noexcept {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) == 1) {
    std::uint64_t count;
    [[maybe_unused]] auto n = ::read(fd_.get(), &count, sizeof count);
  }
}

}  // namespace forkpool::detail
