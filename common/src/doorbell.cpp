#include "forkpool/detail/doorbell.hpp"

#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace forkpool::detail {

doorbell doorbell::create(bool nonblocking) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0));
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return doorbell(unique_fd(fd));
}

void doorbell::ring() const noexcept {
  const std::uint64_t one = 1;
  // Fails only if the counter would overflow (it is far from that) or the fd is gone.
  while (::write(fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void doorbell::wait() const noexcept {
  std::uint64_t count;
  while (::read(fd_.get(), &count, sizeof count) < 0) {
    if (errno == EAGAIN) {
      pollfd p{fd_.get(), POLLIN, 0};
      ::poll(&p, 1, -1);
    } else if (errno != EINTR) {
      return;
    }
  }
}

bool doorbell::wait_for(int timeout_ms) const noexcept {
  pollfd p{fd_.get(), POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
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
