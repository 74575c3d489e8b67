// Options and statistics shared by the pools.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace forkpool {

/// How new worker processes are started (as in Python's multiprocessing).
enum class start_method {
  /// Fork from the master's pool thread. Fast, but only safe while the master is single-threaded.
  fork,
  /// Fork from a small single-threaded fork server that the pool forks once, at construction.
  forkserver,
  /// Start each worker as a fresh run of the program (fork + exec of /proc/self/exe); main()'s
  /// first line, forkpool::init(argc, argv), turns it into a worker. Slowest, but a worker shares
  /// nothing with the master's state. An `initializer` must then be a registered task taking no
  /// arguments (a closure cannot cross exec).
  spawn,
};

struct pool_options {
  /// Number of worker processes (or threads). 0 means std::thread::hardware_concurrency().
  unsigned workers = 0;
  start_method start = start_method::forkserver;
  /// Replace a worker after it has run this many tasks. 0 = unlimited.
  std::uint64_t max_tasks_per_worker = 0;
  /// Replace a worker after a task leaves its private resident memory (the pages only it maps:
  /// what a replacement gives back; not the master's heap it shares copy-on-write) above this.
  /// 0 = unlimited.
  std::uint64_t max_worker_rss_bytes = 0;
  /// Fail a task that runs longer than this with task_timeout and replace its worker. 0 = none.
  std::chrono::milliseconds task_timeout{0};
  /// A call whose worker died under it, or that hit its timeout, runs again on a new worker up to
  /// this many times before its future fails with the last error. Only for idempotent tasks:
  /// a retried task may have done part of its work (written a file, sent a message) already.
  unsigned max_retries = 0;
  /// Runs once in every new worker, before its first task.
  std::function<void()> initializer{};
  /// Bytes of each shared-memory ring (one for requests, one for responses, per worker). Calls
  /// and results that do not fit travel through a worker's bulk areas instead.
  std::size_t ring_bytes = std::size_t{1} << 20;
  /// The largest encoded call and result. Each worker has one bulk area per direction of this
  /// size, which costs address space only until a large payload uses it. A larger call fails
  /// with bad_arguments, a larger result with protocol_error.
  std::size_t max_payload_bytes = std::size_t{1} << 30;
  /// Bytes of each bulk area that stay populated after a large payload, so the next one is
  /// written into memory both processes have mapped already (faulting pages in costs more than
  /// copying them); pages beyond are returned. Shared memory, not counted in a worker's RSS.
  std::size_t kept_payload_bytes = std::size_t{64} << 20;
  /// Bytes of each worker's shared area, where its tasks' forkpool::shared_bytes live while
  /// their callers hold them (shared_bytes.hpp): address space only until a task uses it, and
  /// the pages beyond the first kept_payload_bytes go back when a caller drops a buffer. Shared
  /// memory, not counted in a worker's RSS. 0: shared_bytes travel by copy.
  std::size_t shared_bytes_per_worker = std::size_t{1} << 30;
};

/// How far a batch (map, imap, imap_unordered) has come; given to map_options::on_progress.
struct progress {
  std::size_t done = 0;    ///< inputs finished, with a result or an error
  std::size_t failed = 0;  ///< of those, inputs whose chunk failed (a chunk fails as a whole)
  /// All the inputs: for map, and for imap over a sized range, from the start; for imap over an
  /// unsized range (a generator), empty until the input's end has been read.
  std::optional<std::size_t> total{};
  std::chrono::steady_clock::duration elapsed{};  ///< since the batch began
};

struct map_options {
  /// Inputs sent to a worker in one frame (and run there one after another). 0 is
  /// std::invalid_argument.
  std::size_t chunksize = 1;
  /// imap / imap_unordered: chunks in flight at most (submitted and not yet read by the loop);
  /// the input is read only as the window moves. Unset: twice the pool's workers, or where
  /// inputs and results are both numbers (or tuples of numbers) as many chunks as 4 MiB of them
  /// fill, up to 512. 0 is std::invalid_argument. map submits every chunk at once, as Python's
  /// does.
  std::optional<std::size_t> window{};
  /// The whole batch must finish within this, else timeout_error and the calls not started are
  /// cancelled (Python's map(timeout=)). 0: no limit.
  std::chrono::steady_clock::duration timeout{0};
  /// Called on the calling thread as chunks finish (inside map, or inside the imap loop's
  /// increment), with `done` only growing. Keep it short: results wait while it runs.
  std::function<void(const progress&)> on_progress{};
};

/// One submission's own settings: `pool.submit({.timeout = 2s}, task, args...)`.
struct call_options {
  /// Overrides pool_options::task_timeout for this call (process pools: the worker is replaced,
  /// the future fails with task_timeout). 0: the pool's.
  std::chrono::milliseconds timeout{0};
};

struct shutdown_options {
  /// Block until every running and queued task has finished and the workers have exited.
  bool wait = true;
  /// Cancel every task not yet started.
  bool cancel_pending = false;
  /// Also stop the tasks that are running (implies cancel_pending): their workers are killed
  /// (SIGKILL) and their futures fail with cancelled_error, as Python's
  /// ProcessPoolExecutor.kill_workers() does. Process pools only: a thread cannot be stopped, so
  /// a thread_pool throws std::invalid_argument.
  bool kill_running = false;
};

/// Why a worker was replaced.
enum class restart_reason { task_count, memory, timeout, crash, requested };

struct worker_stats {
  int pid = 0;
  std::uint64_t tasks_run = 0;
  /// Private resident bytes (pages only this worker maps), as last reported by the worker; for a
  /// thread_pool, the process's.
  std::uint64_t rss_bytes = 0;
  std::chrono::system_clock::time_point started;
};

struct pool_stats {
  /// Workers serving (taking calls); per_worker lists them.
  std::size_t workers_alive = 0;
  /// Workers told to stop (restart, task or memory limit) that have not exited yet: they finish
  /// what they hold and take no new calls.
  std::size_t workers_retiring = 0;
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;  ///< finished with a result
  std::uint64_t failed = 0;     ///< finished with an error
  std::uint64_t cancelled = 0;
  std::size_t queue_depth = 0;  ///< submitted, not yet finished nor cancelled
  std::uint64_t restarts_task_count = 0;
  std::uint64_t restarts_memory = 0;
  std::uint64_t restarts_timeout = 0;
  std::uint64_t restarts_crash = 0;
  std::uint64_t restarts_requested = 0;
  std::uint64_t initializer_failures = 0;  ///< workers whose initializer threw
  /// Calls run again after their worker died or they timed out (pool_options::max_retries).
  std::uint64_t retries = 0;
  /// Bytes of results the master copied straight from a worker's memory into the caller's
  /// result, with no copy in shared memory between (large strings and vectors; see README).
  std::uint64_t result_bytes_read_in_place = 0;
  /// forkpool::shared_bytes results its callers hold now, in the workers' shared areas (those
  /// of workers since replaced included), and their bytes. 0 through forkpool-master.
  std::uint64_t shared_buffers_held = 0;
  std::uint64_t shared_bytes_held = 0;
  std::vector<worker_stats> per_worker;

  std::uint64_t restarts() const {
    return restarts_task_count + restarts_memory + restarts_timeout + restarts_crash +
           restarts_requested;
  }
};

/// What a running forkpool-master is (client::info(), `forkpool-master status`).
struct master_info {
  int pid = 0;
  std::string version;  ///< FORKPOOL_VERSION_STRING of the master binary
  std::chrono::system_clock::time_point started;
  std::vector<std::string> tasks;  ///< the task names it serves, sorted
};

}  // namespace forkpool
