// The worker process's main loop: pop a call, look the task up, decode, call, encode, reply.
#pragma once

#include <chrono>
#include <functional>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

/// The descriptors a new worker receives: its channel's region and doorbells.
struct worker_endpoints {
  unique_fd region;
  unique_fd worker_bell;
  unique_fd master_bell;
};

struct worker_config {
  std::function<void()> initializer;  ///< runs once before the first task
  std::chrono::nanoseconds spin{};    ///< spin before sleeping on the bell
  /// pool_options::max_worker_rss_bytes (0: none). Above it after a task, the worker runs no
  /// further call: the master, seeing the same sample, retires it and takes its queued calls back.
  std::uint64_t rss_limit = 0;
  /// A fresh run of the program (spawned), not a forked child: it shares no memory at start.
  bool fresh_run = false;
};

/// Process names (ps -o comm, at most 15 characters) of workers and of the fork server.
inline constexpr char kWorkerTitle[] = "forkpool-worker";
inline constexpr char kForkServerTitle[] = "forkpool-forker";

/// How much more a worker's oom_score_adj is than its pool's: under memory pressure the kernel's
/// OOM killer takes a worker (its call fails with worker_died, a new worker starts) before the
/// program that owns the pool. Raising it needs no privilege.
inline constexpr long kWorkerOomScoreRaise = 300;
/// Raises this process's oom_score_adj by kWorkerOomScoreRaise (at most 1000). Best effort.
void offer_to_oom_killer() noexcept;

/// Exit codes a worker uses to say why it stopped on its own.
enum worker_exit : int {
  worker_exit_stopped = 0,              ///< asked to stop
  worker_exit_corrupt_ring = 90,        ///< the request ring held an impossible length
  worker_exit_corrupt_frame = 91,       ///< a request frame failed validation
  worker_exit_setup_failed = 92,        ///< could not attach to the channel
  worker_exit_initializer_failed = 93,  ///< the initializer threw (reported to the first call)
  worker_exit_not_initialized = 94,     ///< a spawned worker whose main() skipped forkpool::init
  worker_exit_channel_lost = 95,        ///< a task closed or replaced the channel's descriptors
};

/// Runs in the new worker process until told to stop. Never returns.
[[noreturn]] void run_worker(worker_endpoints endpoints, const worker_config& config);

/// Called first in a freshly forked child: keeps only the `keep` descriptors (plus stdin, stdout
/// and stderr), renumbered from 3 in that order. With `die_with` (the parent's pid, read before
/// the fork; 0 for none), dies when its parent does, or at once if the parent is already gone.
void prepare_forked_child(int* keep, int count, pid_t die_with);

}  // namespace forkpool::detail
