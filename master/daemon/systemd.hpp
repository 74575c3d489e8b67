// forkpool-master under systemd, through libsystemd: readiness and stopping (sd_notify, for
// Type=notify), the watchdog, and socket activation (a listening socket passed in LISTEN_FDS).
// Outside systemd (no NOTIFY_SOCKET, no LISTEN_FDS) every call here does nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

namespace forkpool::daemon {

/// The listening Unix stream socket systemd passed (socket activation), or nullopt when none
/// was. Throws std::runtime_error when what was passed is not one such socket.
std::optional<int> activated_socket();

/// READY=1 (with a STATUS= line), once the socket serves.
void notify_ready(const std::string& status);
/// STOPPING=1, when draining begins.
void notify_stopping();

/// Sends WATCHDOG=1 at half the interval systemd asked for (WATCHDOG_USEC), while the loop runs.
class watchdog {
 public:
  explicit watchdog(boost::asio::io_context& io);
  void stop();

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
};

}  // namespace forkpool::daemon
