#include "mpi_link.hpp"

#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "forkpool/detail/spin.hpp"

namespace forkpool::detail {

mpi_link::~mpi_link() {
  auto drop = [](MPI_Request& request) {
    MPI_Cancel(&request);
    MPI_Request_free(&request);
  };
  for (auto& send : sends_) drop(send.request);
  for (auto& message : queue_)
    for (auto& piece : message.pieces) drop(piece);
}

namespace {

// A large message's header: the tag it is delivered with, then its size.
constexpr std::size_t kHeaderBytes = sizeof(std::int32_t) + sizeof(std::uint64_t);

// Of a message larger than a side takes, what is delivered: enough to read the id it carries,
// so that the call it was can be answered with an error.
constexpr std::size_t kKeptOfRefused = 64;

// Receives a message it does not keep; returns its first kKeptOfRefused bytes.
byte_buffer receive_and_drop(MPI_Message& handle, int count) {
  byte_buffer scratch(static_cast<std::size_t>(std::max(count, 0)));
  MPI_Mrecv(scratch.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
  scratch.resize(std::min(scratch.size(), kKeptOfRefused));
  return scratch;
}

}  // namespace

std::optional<mpi_message> mpi_link::try_receive(int source) {
  int flag = 0;
  MPI_Message handle;
  MPI_Status status;
  if (MPI_Improbe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &handle, &status) != MPI_SUCCESS ||
      !flag)
    return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  const int from = status.MPI_SOURCE;
  if (status.MPI_TAG == kPiece) return take_piece(status, handle, count);
  if (status.MPI_TAG == kPieceHead) {
    std::byte header[kHeaderBytes];
    if (count != static_cast<int>(kHeaderBytes)) {
      receive_and_drop(handle, count);
      return mpi_message{from, kPiece, {}};
    }
    MPI_Mrecv(header, count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
    std::int32_t tag = 0;
    std::uint64_t size = 0;
    std::memcpy(&tag, header, sizeof tag);
    std::memcpy(&size, header + sizeof tag, sizeof size);
    assembly next{tag, {}, static_cast<std::size_t>(size)};
    next.refused = size > largest_;
    if (!next.refused) next.bytes.resize(next.size);
    assembling_.insert_or_assign(from, std::move(next));
    return mpi_message{from, kPiece, {}};
  }
  if (static_cast<std::size_t>(std::max(count, 0)) > largest_)
    return mpi_message{from, status.MPI_TAG, receive_and_drop(handle, count), true};
  mpi_message message{from, status.MPI_TAG,
                      byte_buffer(static_cast<std::size_t>(std::max(count, 0)))};
  MPI_Mrecv(message.bytes.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
  return message;
}

mpi_message mpi_link::take_piece(const MPI_Status& status, MPI_Message& handle, int count) {
  const int from = status.MPI_SOURCE;
  const auto at = assembling_.find(from);
  const auto length = static_cast<std::size_t>(std::max(count, 0));
  if (at == assembling_.end() || length > at->second.size - at->second.filled) {
    receive_and_drop(handle, count);  // no header before it: not a message of this link's
    return {from, kPiece, {}};
  }
  assembly& message = at->second;
  if (message.refused) {
    byte_buffer kept = receive_and_drop(handle, count);
    if (message.filled == 0) message.bytes = std::move(kept);
  } else {
    MPI_Mrecv(message.bytes.data() + message.filled, count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
  }
  message.filled += length;
  if (message.filled < message.size) return {from, kPiece, {}};
  mpi_message whole{from, message.tag, std::move(message.bytes), message.refused};
  assembling_.erase(at);
  return whole;
}

void mpi_link::start(int destination, int tag, byte_buffer bytes) {
  sends_.push_back({destination, MPI_REQUEST_NULL, std::move(bytes)});
  outgoing& out = sends_.back();
  MPI_Isend(out.bytes.data(), static_cast<int>(out.bytes.size()), MPI_BYTE, destination, tag,
            MPI_COMM_WORLD, &out.request);
}

bool mpi_link::queued_for(int destination) const {
  return std::any_of(queue_.begin(), queue_.end(),
                     [&](const queued& q) { return q.destination == destination; });
}

void mpi_link::send(int destination, int tag, byte_buffer bytes) {
  if (bytes.size() <= kPieceBytes) return start(destination, tag, std::move(bytes));
  queue_.push_back({destination, tag, std::move(bytes), true, {}, 0, false, {}});
  progress();
}

void mpi_link::send(int destination, int tag, byte_buffer head, byte_buffer tail) {
  if (head.size() + tail.size() <= kPieceBytes) {
    head.insert(head.end(), tail.begin(), tail.end());
    return start(destination, tag, std::move(head));
  }
  queue_.push_back({destination, tag, std::move(head), true, std::move(tail), 0, false, {}});
  progress();
}

void mpi_link::send_in_order(int destination, int tag, byte_buffer bytes) {
  if (!queued_for(destination)) return start(destination, tag, std::move(bytes));
  queue_.push_back({destination, tag, std::move(bytes), false, {}, 0, false, {}});
}

bool mpi_link::advance(queued& message) {
  if (!message.started) {
    byte_buffer header(kHeaderBytes);
    const auto tag = static_cast<std::int32_t>(message.tag);
    const auto size = static_cast<std::uint64_t>(message.bytes.size() + message.tail.size());
    std::memcpy(header.data(), &tag, sizeof tag);
    std::memcpy(header.data() + sizeof tag, &size, sizeof size);
    start(message.destination, kPieceHead, std::move(header));
    message.started = true;
  }
  while (!message.pieces.empty()) {
    int done = 0;
    MPI_Test(&message.pieces.front(), &done, MPI_STATUS_IGNORE);
    if (!done) break;
    message.pieces.pop_front();
  }
  const std::size_t first = message.bytes.size();
  const std::size_t total = first + message.tail.size();
  while (message.pieces.size() < kPiecesInFlight && message.sent < total) {
    // A piece comes from one part: the receiver only sees the bytes in order.
    const bool in_tail = message.sent >= first;
    const std::byte* from = in_tail ? message.tail.data() + (message.sent - first)
                                    : message.bytes.data() + message.sent;
    const std::size_t length = std::min(kPieceBytes, (in_tail ? total : first) - message.sent);
    MPI_Request& piece = message.pieces.emplace_back(MPI_REQUEST_NULL);
    MPI_Isend(from, static_cast<int>(length), MPI_BYTE, message.destination, kPiece, MPI_COMM_WORLD,
              &piece);
    message.sent += length;
  }
  return message.sent == total && message.pieces.empty();
}

bool mpi_link::progress() {
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? sends_.erase(it) : it + 1;
  }
  // The first queued message of each destination moves; the ones behind it wait.
  std::vector<int> waiting;
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (std::find(waiting.begin(), waiting.end(), it->destination) != waiting.end()) {
      ++it;
      continue;
    }
    if (!it->in_pieces) {
      start(it->destination, it->tag, std::move(it->bytes));
      it = queue_.erase(it);
    } else if (advance(*it)) {
      it = queue_.erase(it);
    } else {
      waiting.push_back(it->destination);
      ++it;
    }
  }
  return sends_.empty() && queue_.empty();
}

void mpi_link::abandon(int destination) {
  for (auto it = sends_.begin(); it != sends_.end();) {
    if (it->destination != destination) {
      ++it;
      continue;
    }
    MPI_Request_free(&it->request);  // never completes: the peer is gone
    it = sends_.erase(it);
  }
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->destination != destination) {
      ++it;
      continue;
    }
    for (auto& piece : it->pieces) MPI_Request_free(&piece);
    it = queue_.erase(it);
  }
  assembling_.erase(destination);
}

namespace {

// How long a side polls after activity. Sleeping is no substitute: the shortest sleep lasts
// ~40 µs here (NOTES.md), and a round trip has two MPI waits. Polling yields the CPU between
// probes, so on a machine with fewer CPUs than runnable threads the threads a reply waits for
// (the agent's pool, its worker) still run.
constexpr std::chrono::microseconds kPollAfterActivity{200};
// While nothing happens a side sleeps at most this fraction of the time it has been idle, so a
// call after a pause waits at most ~1/8 longer than the pause, and a long idle sleeps 1 ms.
constexpr int kSleepFraction = 8;

// The kernel's default timer slack (50 µs) would stretch every short sleep to it.
void tighten_timer_slack() noexcept {
  constinit thread_local bool tightened = false;
  if (tightened) return;
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  tightened = true;
}

}  // namespace

idle_wait::idle_wait() : poll_(spin_time(kPollAfterActivity)) {}

void idle_wait::activity() noexcept { last_activity_ = std::chrono::steady_clock::now(); }

void idle_wait::sleep(std::chrono::steady_clock::time_point until) {
  const auto now = std::chrono::steady_clock::now();
  const auto idle = now - last_activity_;
  if (idle < poll_) {
    ::sched_yield();
    return;
  }
  tighten_timer_slack();
  const auto nap =
      std::clamp(std::chrono::duration_cast<std::chrono::microseconds>(idle) / kSleepFraction,
                 kShortest, kLongest);
  std::unique_lock lock(mutex_);
  woken_.wait_until(lock, std::min(now + nap, until), [&] { return wake_; });
  if (wake_) {
    wake_ = false;
    last_activity_ = std::chrono::steady_clock::now();
  }
}

void idle_wait::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  woken_.notify_one();
}

}  // namespace forkpool::detail
