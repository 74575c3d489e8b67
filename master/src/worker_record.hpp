// The master's view of one worker process: its channel, the calls it holds (slot_table), where it
// is in its life, and what supervision needs to know of it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "forkpool/options.hpp"
#include "slot_table.hpp"
#include "worker_channel.hpp"

namespace forkpool::detail {

struct worker_record {
  enum class phase {
    running,   ///< takes calls (also before its pid is known: calls wait in its ring)
    retiring,  ///< takes no new calls; told to stop after those it holds
    exited,
  };

  std::uint64_t id = 0;
  pid_t pid = 0;  ///< 0 until the launcher reports it
  /// Written with the scheduler lock; atomic because stats() reads it with the stats lock only.
  std::atomic<phase> state{phase::running};
  restart_reason retire_reason = restart_reason::requested;
  std::shared_ptr<master_channel> channel;

  // ---- the scheduler's ----
  slot_table calls;
  std::unique_ptr<boost::asio::posix::stream_descriptor> bell;  ///< the master bell, watched
  bool watching = false;
  bool written = false;          ///< dispatch wrote a call to its ring and has not yet published it
  bool ring_full = false;        ///< the last call did not fit; retry after the next reply
  bool lending_settled = false;  ///< the channel knows whether the master can read its memory
  pid_t lender_pid = 0;          ///< whose memory lent runs are read from, once allowed
  bool supervision_posted = false;  ///< a helper handed this worker to the pool's thread
  std::string fault;                ///< why the master killed it, if it broke the protocol
  /// Progress as the scheduler last saw it (scheduler::stalled): how far the worker had read its
  /// requests, and since when, or when a call ended its idleness.
  std::uint64_t requests_read = 0;
  std::chrono::steady_clock::time_point progress_at{};

  // ---- the supervisor's ----
  std::uint64_t timed_out_task = 0;  ///< the call that overran its timeout; the worker is dying
  std::unique_ptr<boost::asio::steady_timer> kill_timer;  ///< SIGKILL after the SIGTERM grace
  /// SIGKILL for a worker told to stop, holding no call, that has not exited after its stop
  /// grace (stopped with SIGSTOP, say): a shutdown or a restart never waits on it forever.
  std::unique_ptr<boost::asio::steady_timer> stop_timer;
  bool stop_pending = false;  ///< a stop frame is owed but did not fit yet
  bool reaped = false;        ///< it has exited and been waited for: its pid is free
  /// It was to be killed before the launcher reported its pid (a worker can start running calls
  /// first): the SIGKILL goes as soon as the pid is known.
  bool kill_when_known = false;

  // ---- stats(), read with the stats lock ----
  std::atomic<std::uint64_t> tasks_run{0};
  std::atomic<std::uint64_t> rss_bytes{0};
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  std::uint32_t occupied() const noexcept { return calls.occupied(); }
};

/// Sends `signal` to the worker; before its pid is known, owes it a SIGKILL instead (see
/// kill_when_known). Only the launcher's pid is used: what the worker says of itself could name
/// any process.
inline void signal_worker(worker_record& worker, int signal) noexcept {
  if (worker.reaped) return;  // its pid may be another process's by now
  if (worker.pid > 0) {
    ::kill(worker.pid, signal);
  } else {
    worker.kill_when_known = true;
  }
}

}  // namespace forkpool::detail
