// A doorbell: an eventfd one process rings to wake another that sleeps on it. Rung only when the
// other side has said it is asleep, so a busy pipeline makes no system calls.
#pragma once

#include <sys/types.h>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

class doorbell {
 public:
  /// A new eventfd. `nonblocking` for a bell read through an event loop.
  static doorbell create(bool nonblocking);
  static doorbell adopt(int fd) { return doorbell(unique_fd(fd)); }
  /// Called when a guarded bell is found gone; must not return (it ends the process).
  using lost_handler = void (*)() noexcept;
  /// Worker side: a bell that user code in this process may take away (a task that closes
  /// every descriptor, or dup2s /dev/null over them). Each ring and wait checks that the
  /// descriptor still is the bell it was (a failed write or read, or fstat naming another file)
  /// and calls `on_lost` if not: a worker that cannot wake or be woken must not live on.
  static doorbell guarded(unique_fd fd, lost_handler on_lost) noexcept;

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
  /// Guarded bells: calls on_lost_ unless the descriptor is still the bell.
  void check() const noexcept;
  void lost() const noexcept;

  unique_fd fd_;
  lost_handler on_lost_ = nullptr;
  dev_t device_ = 0;  ///< a guarded bell's identity, from fstat when it was adopted
  ino_t inode_ = 0;
};

}  // namespace forkpool::detail
