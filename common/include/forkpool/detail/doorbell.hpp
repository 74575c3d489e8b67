// A doorbell: an eventfd one process rings to wake another that sleeps on it. Rung only when the
// other side has said it is asleep, so a busy pipeline makes no system calls.
#pragma once

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

class doorbell {
 public:
  /// A new eventfd. `nonblocking` for a bell read through an event loop.
  static doorbell create(bool nonblocking);
  static doorbell adopt(int fd) { return doorbell(unique_fd(fd)); }

  doorbell() = default;
  explicit doorbell(unique_fd fd) : fd_(std::move(fd)) {}

  /// Wakes the sleeper (any process holding this bell). Never blocks.
  void ring() const noexcept;
  /// Blocks until rung (blocking bells), then clears it.
  void wait() const noexcept;
  /// Blocks until rung or `timeout_ms` passes. Returns false on timeout.
  bool wait_for(int timeout_ms) const noexcept;
  /// Clears a pending ring without blocking.
  void clear() const noexcept;

  int fd() const noexcept { return fd_.get(); }

 private:
  unique_fd fd_;
};

}  // namespace forkpool::detail
