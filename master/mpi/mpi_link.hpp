// The little of MPI's C API forkpool uses, never blocking inside MPI (a rank blocked in MPI_Recv
// busy-polls a CPU in Open MPI): receives are probed (MPI_Improbe) and sends are MPI_Isend kept
// until they complete. One thread at a time calls it (MPI_THREAD_SERIALIZED).
//
// A message larger than kPieceBytes crosses as a header and pieces of that size, at most
// kPiecesInFlight at once, so the small messages sent meanwhile go between them and no single
// send exceeds MPI's int count. Messages to one rank arrive in the order sent, except that small
// ones may overtake a large one still in pieces; send_in_order never overtakes.
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "forkpool/detail/serialize.hpp"

namespace forkpool::detail {

struct mpi_message {
  int source = 0;
  int tag = 0;
  byte_buffer bytes;
  bool cut = false;  ///< larger than the link takes: `bytes` is its beginning only
};

class mpi_link {
 public:
  static constexpr std::size_t kPieceBytes = std::size_t{32} << 20;
  static constexpr std::size_t kPiecesInFlight = 2;
  /// The tags pieces travel with; the users' tags must be below them. A piece that does not
  /// complete its message is received as a message with tag kPiece and no bytes: the sender is
  /// still there.
  static constexpr int kPieceHead = 1000;
  static constexpr int kPiece = 1001;

  /// `largest`: the largest message it accepts; of a larger one, only the first 64 bytes are
  /// delivered (enough to tell which call it was), marked cut.
  explicit mpi_link(std::size_t largest = std::size_t{1} << 31) : largest_(largest) {}
  ~mpi_link();  ///< cancels the sends that have not completed
  mpi_link(const mpi_link&) = delete;
  mpi_link& operator=(const mpi_link&) = delete;

  /// The next message from `source` (MPI_ANY_SOURCE for any), if one has arrived.
  std::optional<mpi_message> try_receive(int source = MPI_ANY_SOURCE);
  /// Sends `bytes` (kept until the send completes).
  void send(int destination, int tag, byte_buffer bytes);
  /// Sends `head` then `tail` as one message, without joining them when they are large.
  void send(int destination, int tag, byte_buffer head, byte_buffer tail);
  /// Sends `bytes` once every message sent to `destination` before it has gone.
  void send_in_order(int destination, int tag, byte_buffer bytes);
  /// Completes what it can of the sends in flight and starts the next pieces; true if no send
  /// is left.
  bool progress();
  /// Forgets the sends to a rank that is gone (and what it had half sent), without waiting.
  void abandon(int destination);
  /// The largest message accepted from now on.
  void accept_up_to(std::size_t largest) noexcept { largest_ = largest; }

 private:
  struct outgoing {
    int destination;
    MPI_Request request;
    byte_buffer bytes;
  };
  /// A large message in pieces, or one waiting for the large ones before it.
  struct queued {
    int destination;
    int tag;
    byte_buffer bytes;
    bool in_pieces;
    byte_buffer tail;      ///< sent after `bytes`, as the same message
    std::size_t sent = 0;  ///< bytes (of bytes, then tail) whose piece has been started
    bool started = false;  ///< its header is sent
    std::deque<MPI_Request> pieces;
  };
  struct assembly {
    int tag;
    byte_buffer bytes;
    std::size_t size = 0;
    std::size_t filled = 0;
    bool refused = false;  ///< larger than largest_: pieces read and dropped
  };

  void start(int destination, int tag, byte_buffer bytes);
  bool advance(queued& message);
  bool queued_for(int destination) const;
  mpi_message take_piece(const MPI_Status& status, MPI_Message& handle, int count);

  std::size_t largest_;
  std::deque<outgoing> sends_;
  std::deque<queued> queue_;                      ///< in order; one per destination moves at a time
  std::unordered_map<int, assembly> assembling_;  ///< by source
};

/// How a side with nothing to do waits for MPI, which has no descriptor to sleep on: for a while
/// after something happened it polls, yielding the CPU between probes, so the next message of a
/// busy exchange is seen at once without starving the threads it waits for; then it sleeps, at
/// most an eighth of the time it has been idle (1 µs to 1 ms), so an idle rank uses no
/// measurable CPU. FORKPOOL_SPIN_US sets the polling time (0: none). wake() from another thread
/// cuts a sleep short (a local completion is sent at once, not after it).
class idle_wait {
 public:
  idle_wait();
  /// Something happened: poll again for a while, and sleep short after that.
  void activity() noexcept;
  /// Yields once while polling; else sleeps for the current back-off, or until wake(), but not
  /// past `until` (the next thing the caller must do on time).
  void sleep(
      std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max());
  /// Any thread: ends the sleep in progress, or the next one.
  void wake();

 private:
  static constexpr std::chrono::microseconds kShortest{1};
  static constexpr std::chrono::microseconds kLongest{10'000};
  const std::chrono::nanoseconds poll_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::condition_variable woken_;
  bool wake_ = false;
};

}  // namespace forkpool::detail
