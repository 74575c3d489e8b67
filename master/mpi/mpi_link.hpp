// The little of MPI's C API forkpool uses, never blocking inside MPI (a rank blocked in MPI_Recv
// busy-polls a CPU in Open MPI): receives are probed (MPI_Improbe) and sends are MPI_Isend kept
// until they complete. One thread at a time calls it (MPI_THREAD_SERIALIZED).
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "forkpool/detail/serialize.hpp"

namespace forkpool::detail {

struct mpi_message {
  int source = 0;
  int tag = 0;
  byte_buffer bytes;
};

class mpi_link {
 public:
  mpi_link() = default;
  ~mpi_link();  ///< cancels the sends that have not completed
  mpi_link(const mpi_link&) = delete;
  mpi_link& operator=(const mpi_link&) = delete;

  /// The next message from `source` (MPI_ANY_SOURCE for any), if one has arrived.
  std::optional<mpi_message> try_receive(int source = MPI_ANY_SOURCE);
  /// Sends `bytes` (kept until the send completes).
  void send(int destination, int tag, byte_buffer bytes);
  /// Completes what it can of the sends in flight; true if none is left.
  bool progress();
  /// Sends to `destination` still in flight (a lost rank's never complete).
  std::size_t sending_to(int destination) const;
  /// Forgets the sends to a rank that is gone, without waiting for them.
  void abandon(int destination);

 private:
  struct outgoing {
    int destination;
    MPI_Request request;
    byte_buffer bytes;
  };
  std::deque<outgoing> sends_;
};

/// How a side with nothing to do waits for MPI, which has no descriptor to sleep on: right after
/// something happened it polls (spins) for the usual spin budget, where a CPU is to spare
/// (spin.hpp), so a reply in a busy exchange is seen at once; then it sleeps, backing off from
/// 1 µs to 1 ms while nothing happens, so an idle rank uses no measurable CPU. wake() from
/// another thread cuts a sleep short (a local completion is sent at once, not after it).
class idle_wait {
 public:
  idle_wait();
  /// Something happened: poll again for a while, and sleep short after that.
  void activity() noexcept;
  /// Returns at once while polling; else sleeps for the current back-off, or until wake(), and
  /// doubles the back-off.
  void sleep();
  /// Any thread: ends the sleep in progress, or the next one.
  void wake();

 private:
  static constexpr std::chrono::microseconds kShortest{1};
  static constexpr std::chrono::microseconds kLongest{1000};
  const std::chrono::nanoseconds spin_;
  std::chrono::steady_clock::time_point polling_until_{};
  std::mutex mutex_;
  std::condition_variable woken_;
  bool wake_ = false;
  std::chrono::microseconds next_ = kShortest;
};

}  // namespace forkpool::detail
