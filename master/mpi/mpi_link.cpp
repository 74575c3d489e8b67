#include "mpi_link.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "forkpool/detail/spin.hpp"

namespace forkpool::detail {

mpi_link::~mpi_link() {
  for (auto& send : sends_) {
    MPI_Cancel(&send.request);
    MPI_Request_free(&send.request);
  }
}

std::optional<mpi_message> mpi_link::try_receive(int source) {
  int flag = 0;
  MPI_Message handle;
  MPI_Status status;
  if (MPI_Improbe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &handle, &status) != MPI_SUCCESS ||
      !flag)
    return std::nullopt;
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  mpi_message message{status.MPI_SOURCE, status.MPI_TAG,
                      byte_buffer(static_cast<std::size_t>(std::max(count, 0)))};
  MPI_Mrecv(message.bytes.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
  return message;
}

void mpi_link::send(int destination, int tag, byte_buffer bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    throw std::length_error("forkpool: a message of more than 2 GiB cannot cross MPI in one send");
  sends_.push_back({destination, MPI_REQUEST_NULL, std::move(bytes)});
  outgoing& out = sends_.back();
  MPI_Isend(out.bytes.data(), static_cast<int>(out.bytes.size()), MPI_BYTE, destination, tag,
            MPI_COMM_WORLD, &out.request);
}

bool mpi_link::progress() {
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? sends_.erase(it) : it + 1;
  }
  return sends_.empty();
}

std::size_t mpi_link::sending_to(int destination) const {
  return static_cast<std::size_t>(
      std::count_if(sends_.begin(), sends_.end(),
                    [&](const outgoing& o) { return o.destination == destination; }));
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
}

namespace {

// How long a side polls after activity: as long as a worker spins for its next call.
constexpr std::chrono::microseconds kPollAfterActivity{50};

// The kernel's default timer slack (50 µs) would stretch every short sleep to it.
void tighten_timer_slack() noexcept {
  constinit thread_local bool tightened = false;
  if (tightened) return;
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  tightened = true;
}

}  // namespace

idle_wait::idle_wait() : spin_(spin_time(kPollAfterActivity)) {}

void idle_wait::activity() noexcept {
  next_ = kShortest;
  if (spin_.count() > 0 && cpu_to_spare())
    polling_until_ = std::chrono::steady_clock::now() + spin_;
}

void idle_wait::sleep() {
  if (polling_until_ != std::chrono::steady_clock::time_point{}) {
    if (std::chrono::steady_clock::now() < polling_until_) {
      for (int i = 0; i < 16; ++i) cpu_relax();
      return;
    }
    polling_until_ = {};
  }
  tighten_timer_slack();
  std::unique_lock lock(mutex_);
  woken_.wait_for(lock, next_, [&] { return wake_; });
  if (wake_) {
    wake_ = false;
    next_ = kShortest;
    return;
  }
  next_ = std::min(next_ * 2, kLongest);
}

void idle_wait::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  woken_.notify_one();
}

}  // namespace forkpool::detail
