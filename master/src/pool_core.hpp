// The machinery behind process_pool, in three parts that share one lock (scheduler_lock.hpp):
//
//   submitting thread ─ enqueue ─▶ incoming ──▶ scheduler: pending queue ─▶ worker rings
//                                                  ▲                        │
//              supervisor: starts, retires,        │ calls a lost worker    │ replies
//              buries and replaces workers;        │ held go back first     ▼
//              timeouts; the launcher        ◀─────┴──── scheduler: replies ─▶ futures
//
//   pool_core.hpp/.cpp   the pool itself: construction, submission, restart requests, shutdown,
//                        stats; owns the worker table and the pool's phase
//   scheduler.hpp/.cpp   pending calls -> the least-loaded worker; replies -> futures
//   supervisor.hpp/.cpp  worker start, exit, retirement, replacement, timeouts
//   slot_table.hpp/.cpp  the calls one worker holds
//
// Three kinds of thread complete a task: the pool's thread (an Asio io_context), woken by a
// worker's bell or a launcher event; any thread blocked in get(), which reads replies itself
// while it waits (pool_helper); and a submitting thread that finds the lock free. Each holds the
// scheduler lock while it does. What only the pool's thread may do (fork, timers, the launcher,
// killing a worker) a helper hands over with post_locked().
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "forkpool/detail/task_state.hpp"
#include "forkpool/options.hpp"
#include "pool_link.hpp"
#include "scheduler.hpp"
#include "scheduler_lock.hpp"
#include "supervisor.hpp"
#include "worker_loop.hpp"
#include "worker_record.hpp"

namespace forkpool::detail {

/// Where a pool is in its life. It only moves forward:
///
///   serving ──shutdown()──▶ closed ──pool's thread──▶ draining ──last worker gone──▶ stopped
///
/// - serving: submissions are taken.
/// - closed: shutdown() was called; submissions throw pool_shut_down. The pool's thread has not
///   begun the shutdown yet.
/// - draining: the pool's thread finishes what is queued (or has cancelled it), then tells each
///   idle worker to stop; a worker is started only while calls still wait.
/// - stopped: every worker has exited and the launcher has stopped; shutdown({.wait = true})
///   returns.
///
/// Broken (no worker can ever start, so every call fails) is not a phase: a broken pool still
/// goes through these, and supervisor::broken() says why it is broken.
enum class pool_phase : std::uint8_t { serving, closed, draining, stopped };

class pool_core final : public pool_helper {
 public:
  explicit pool_core(pool_options options);
  ~pool_core();

  // ---- any thread ----
  void enqueue(std::shared_ptr<task_state> task);
  void shutdown(shutdown_options options);
  /// Rolling replacement of every worker; queued and running calls are not lost.
  void restart_workers();
  pool_stats stats() const;
  const pool_options& options() const noexcept { return options_; }
  /// True on the pool's own thread (in a done callback it runs).
  bool on_pool_thread() const noexcept;
  /// True in a child made by fork() from the process that made this pool: nothing of the pool
  /// is this process's to touch (its thread does not exist here; its workers are the parent's).
  bool forked_away() const noexcept;
  const std::shared_ptr<pool_link>& link() const noexcept { return link_; }
  unsigned worker_count() const noexcept { return worker_count_; }

  // ---- pool_helper: any thread, with the scheduler lock ----
  void help() override;
  void stop_helping() override;

 private:
  friend class scheduler;
  friend class supervisor;

  /// Runs `handler` on the pool's thread, with the scheduler lock.
  template <class Handler>
  void post_locked(Handler handler);
  pool_phase phase() const noexcept { return phase_.load(std::memory_order_acquire); }
  /// Moves the submitted calls to the pending queue. A restart asked for before some of them is
  /// begun first, on the pool's thread, so no call submitted after restart_workers() returned
  /// reaches a worker it retires; on other threads the calls then stay in incoming_ for the
  /// pool's thread.
  void take_incoming();
  /// Moves submissions to the pending queue and dispatches them, until none arrive for a moment.
  void serve_incoming();
  /// closed -> draining, on the pool's thread.
  void begin_shutdown(bool cancel_pending, bool kill_running);
  void kill_running_tasks();
  /// Cancels every call not started: queued here or in a worker's ring. With the scheduler lock.
  void cancel_not_started();
  /// draining -> stopped, once nothing is queued and every worker has gone.
  void finish_shutdown();
  /// The worker with that id or pid, or null (it was buried).
  worker_record* worker_by_id(std::uint64_t id);
  worker_record* worker_by_pid(pid_t pid);

  const unsigned fork_generation_;  ///< see forked_away()
  const pool_options options_;
  const unsigned worker_count_;
  worker_config worker_config_;
  adaptive_spin incoming_spin_;  ///< see serve_incoming()
  /// The initializer's registered name ("" for none) when fresh runs of the program start the
  /// workers or the fork server; unset when they cannot (see make_launcher).
  std::optional<std::string> fresh_run_initializer_;
  std::shared_ptr<pool_link> link_ = std::make_shared<pool_link>();
  std::atomic<pool_phase> phase_{pool_phase::serving};

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;

  // Submission (any thread -> the scheduler), guarded by incoming_mutex_. The phase moves from
  // serving to closed under it too, so a submission is either refused or seen by a shutdown.
  std::mutex incoming_mutex_;
  // A vector, not a deque: its memory is reused, never freed by the thread that did not
  // allocate it (see task_queue.hpp).
  std::vector<std::shared_ptr<task_state>> incoming_;
  std::atomic<bool> incoming_waiting_{false};  ///< incoming_ is not empty (read without the lock)
  /// A serve_incoming() is posted or running; it takes whatever arrives meanwhile.
  bool kick_posted_ = false;
  /// restart_workers() was called and the pool's thread has not begun it.
  bool restart_asked_ = false;

  /// The workers, serving, retiring or not yet buried. Changed with the scheduler lock and the
  /// stats lock; read with either.
  std::vector<std::unique_ptr<worker_record>> workers_;
  mutable std::mutex stats_mutex_;

  scheduler scheduler_{*this};
  supervisor supervisor_{*this};

  std::mutex shutdown_mutex_;  ///< the move to stopped, for shutdown({.wait = true})
  std::condition_variable shutdown_done_;
  std::thread thread_;  ///< runs io_; last member, started last
};

template <class Handler>
void pool_core::post_locked(Handler handler) {
  boost::asio::post(io_, [this, handler = std::move(handler)]() mutable {
    const scheduler_lock lock(*link_);
    handler();
  });
}

}  // namespace forkpool::detail
