#include "systemd.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#if FORKPOOL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace forkpool::daemon {

#if FORKPOOL_HAVE_SYSTEMD

std::optional<int> activated_socket() {
  const int count = ::sd_listen_fds(/*unset_environment=*/1);  // not passed on to workers
  if (count < 0)
    throw std::runtime_error("socket activation: " + std::string(std::strerror(-count)));
  if (count == 0) return std::nullopt;
  if (count != 1)
    throw std::runtime_error("socket activation passed " + std::to_string(count) +
                             " sockets; forkpool-master serves one (ListenStream= once)");
  const int fd = SD_LISTEN_FDS_START;
  if (::sd_is_socket_unix(fd, SOCK_STREAM, /*listening=*/1, nullptr, 0) <= 0)
    throw std::runtime_error(
        "socket activation passed a descriptor that is not a listening Unix "
        "stream socket (ListenStream=/path)");
  return fd;
}

void notify_ready(const std::string& status) {
  ::sd_notify(0, ("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(::getpid())).c_str());
}

void notify_stopping() { ::sd_notify(0, "STOPPING=1\nSTATUS=draining"); }

watchdog::watchdog(boost::asio::io_context& io) : timer_(io) {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    interval_ = std::chrono::microseconds(usec / 2);
    arm();
  }
}

void watchdog::arm() {
  ::sd_notify(0, "WATCHDOG=1");
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) arm();
  });
}

#else  // built without libsystemd: activation is refused, notifications are not sent

std::optional<int> activated_socket() {
  if (std::getenv("LISTEN_FDS") != nullptr)
    throw std::runtime_error(
        "socket activation: this forkpool-master was built without libsystemd");
  return std::nullopt;
}
void notify_ready(const std::string&) {}
void notify_stopping() {}
watchdog::watchdog(boost::asio::io_context& io) : timer_(io) {}
void watchdog::arm() {}

#endif

void watchdog::stop() { timer_.cancel(); }

}  // namespace forkpool::daemon
