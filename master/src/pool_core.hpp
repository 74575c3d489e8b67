// The machinery behind process_pool. The scheduler state below (queue, workers, the master's
// ends of their rings) is guarded by the scheduler lock (scheduler_lock.hpp). The pool's own
// thread (an Asio io_context) holds it while it handles an event; a submitting thread may take it
// to send its call at once, and a waiting thread to read replies (pool_helper). Supervision
// (starting, retiring and burying workers, timers, the launcher) stays on the pool's thread.
//   pool_core.cpp   construction, submission, shutdown, stats
//   scheduler.cpp   pending queue -> least-loaded worker; replies -> futures
//   supervisor.cpp  worker start, exit, retirement and replacement
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "forkpool/detail/task_state.hpp"
#include "forkpool/options.hpp"
#include "launcher.hpp"
#include "scheduler_lock.hpp"
#include "shared_area.hpp"
#include "worker_channel.hpp"
#include "worker_loop.hpp"

namespace forkpool::detail {

/// The master's view of one worker process.
struct worker_record {
  enum class phase {
    running,   ///< takes tasks (also before its pid is known: calls wait in its ring)
    retiring,  ///< takes no new tasks; told to stop after those it holds
    exited,
  };

  std::uint64_t id = 0;
  pid_t pid = 0;  ///< 0 until the launcher reports it
  /// Written with the scheduler lock; atomic because stats() reads it with the stats lock only.
  std::atomic<phase> state{phase::running};
  restart_reason retire_reason = restart_reason::requested;
  std::shared_ptr<master_channel> channel;
  std::unique_ptr<boost::asio::posix::stream_descriptor> bell;  ///< the master bell, watched
  bool watching = false;

  /// What each slot holds: the task, or null when free. A revoked slot keeps its task pointer
  /// null but stays out of free_slots until the worker confirms with a skipped reply.
  std::array<std::shared_ptr<task_state>, master_channel::kSlots> slots;
  std::array<bool, master_channel::kSlots> revoked{};
  std::vector<std::uint32_t> free_slots;
  /// When each slot's call was first seen running (for task_timeout); reset when the slot frees.
  std::array<std::chrono::steady_clock::time_point, master_channel::kSlots> running_since{};
  std::uint64_t timed_out_task = 0;  ///< the call that overran task_timeout; the worker is dying
  std::unique_ptr<boost::asio::steady_timer> kill_timer;  ///< SIGKILL after the SIGTERM grace
  /// SIGKILL for a worker told to stop, holding no call, that has not exited after kStopGrace
  /// (stopped with SIGSTOP, say): a shutdown or a restart never waits on it forever.
  std::unique_ptr<boost::asio::steady_timer> stop_timer;
  bool ring_full = false;  ///< the last call did not fit; retry after the next reply
  /// The slot of the call whose arguments are in the request bulk area, or -1: one at a time.
  int bulk_request_slot = -1;
  bool stop_pending = false;        ///< a stop frame is owed but did not fit yet
  bool supervision_posted = false;  ///< a helper handed this worker to the pool's thread
  bool lending_settled = false;     ///< the channel knows whether the master can read its memory
  pid_t lender_pid = 0;             ///< whose memory lent runs are read from, once allowed
  bool reaped = false;              ///< it has exited and been waited for: its pid is free
  std::string fault;                ///< why the master killed it, if it broke the protocol

  std::atomic<std::uint64_t> tasks_run{0};
  std::atomic<std::uint64_t> rss_bytes{0};
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  std::uint32_t occupied() const noexcept {
    return master_channel::kSlots - static_cast<std::uint32_t>(free_slots.size());
  }
};

class pool_core final : public launch_events, public pool_helper {
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
  /// Runs `handler` on the pool's thread, with the scheduler lock.
  template <class Handler>
  void post_locked(Handler handler);
  // pool_core.cpp
  /// Moves the submitted calls to pending_. A restart asked for before some of them is begun
  /// first, on the pool's thread, so no call submitted after restart_workers() returned reaches
  /// a worker it retires; on other threads the calls then stay in incoming_ for the pool's thread.
  void take_incoming();
  /// Moves submissions to the pending queue and dispatches them, until none arrive for a moment.
  void serve_incoming();
  void begin_shutdown(bool cancel_pending, bool kill_running);
  void kill_running_tasks();
  /// Cancels every call not started: queued here or in a worker's ring. With the scheduler lock.
  void cancel_not_started();
  /// A restart asked for by restart_workers(): begun now, or once the one in progress is over.
  void request_restart();
  /// Retires every serving worker for a requested restart (see restart_workers()).
  void begin_restart();
  /// After a worker exits: the restart in progress is over once every worker it retired has
  /// gone, and then a request that arrived meanwhile starts the next.
  void continue_restart();
  void maybe_finish_shutdown();

  // scheduler.cpp
  void dispatch();
  bool send_call(worker_record& worker, const std::shared_ptr<task_state>& task);
  /// The call does not fit a ring: its arguments go through the worker's request bulk area.
  bool needs_bulk(const task_state& task) const;
  void watch_bell(worker_record& worker);
  void drain_replies(worker_record& worker);
  bool drain_ring(worker_record& worker);
  bool handle_reply(worker_record& worker, std::span<const std::byte> message);
  void settle_lending(worker_record& worker);
  bool receive_shared(worker_record& worker, std::span<const shared_token> tokens,
                      shared_receipt& receipt);
  void deliver_result(const worker_record& worker, task_state& task, const payload_view& result);
  void release_slot(worker_record& worker, std::uint32_t slot);
  /// After a helper read its replies: what only the pool's thread may do (retire, kill) is due.
  bool needs_supervision(const worker_record& worker) const;
  void hand_to_pool_thread(worker_record& worker);
  void steal_for_idle_workers();
  std::uint32_t revoke_queued(worker_record& worker);

  // supervisor.cpp
  /// A new worker's record and channel, with every descriptor it needs; throws (std::exception)
  /// when the system has none to give.
  std::unique_ptr<worker_record> make_worker();
  /// Adds a made worker, asks the launcher for its process and watches its bell.
  void start_worker(std::unique_ptr<worker_record> worker);
  /// make_worker + start_worker. False if the worker could not be made (counted, see
  /// launch_failed); the caller retries later.
  bool launch_worker();
  /// A worker could not be made or forked: back off, and break the pool once none serves and
  /// the attempts are spent.
  void launch_failed(const std::string& why);
  void schedule_respawn(std::chrono::milliseconds delay);
  void replenish();
  /// Workers taking calls (running), counted now.
  unsigned serving_workers() const;
  worker_record* find_worker(pid_t pid);
  worker_record* find_worker_by_id(std::uint64_t id);
  void retire(worker_record& worker, restart_reason reason);
  void send_stop(worker_record& worker);
  /// Starts the stop grace of a retiring worker that holds no call (see stop_timer).
  void arm_stop_grace(worker_record& worker);
  void bury(worker_record& worker, int wait_status);
  /// The log line for a worker that has exited: how, and what it was running.
  void report_exit(const worker_record& worker, int wait_status, bool expected,
                   bool initializer_failed);
  void check_limits(worker_record& worker);
  void on_spawned(std::uint64_t worker_id, pid_t pid) override;
  void on_spawn_failed(std::uint64_t worker_id, int error) override;
  void on_exited(pid_t pid, int wait_status) override;
  void on_launcher_lost() override;
  void count_restart(restart_reason reason);
  std::chrono::milliseconds respawn_delay() const;
  void fail_everything(const std::string& reason);

  /// A call its worker lost while running it (died, timed out): sent again if it has retries
  /// left (pool_options::max_retries), else failed with `error`.
  void retry_or_fail(std::shared_ptr<task_state> task, std::exception_ptr error, bool retriable,
                     std::vector<std::shared_ptr<task_state>>& requeue);

  // timeouts (supervisor.cpp)
  /// The call's own timeout (call_options), else the pool's task_timeout; 0 for none.
  std::chrono::milliseconds timeout_of(const task_state& task) const;
  /// A call with its own timeout was submitted: the scan runs (often enough) while it may run.
  void note_call_timeout(std::chrono::milliseconds timeout);
  void arm_timeout_scan();
  /// Whether some call sent or waiting has a timeout (the scan keeps running while one has).
  bool timed_calls_waiting();
  void scan_timeouts();
  void kill_for_timeout(worker_record& worker, std::uint32_t slot);

  const unsigned fork_generation_;  ///< see forked_away()
  const pool_options options_;
  const unsigned worker_count_;
  const std::uint32_t depth_;        ///< calls a worker may hold at once
  const std::size_t ring_capacity_;  ///< bytes of each ring, as the channels round them
  worker_config worker_config_;
  adaptive_spin incoming_spin_;  ///< see serve_incoming()
  /// The initializer's registered name ("" for none) when fresh runs of the program start the
  /// workers or the fork server; unset when they cannot (see make_launcher).
  std::optional<std::string> fresh_run_initializer_;
  std::shared_ptr<pool_link> link_ = std::make_shared<pool_link>();

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<launcher> launcher_;

  // Submission (any thread -> pool thread).
  std::mutex incoming_mutex_;
  std::deque<std::shared_ptr<task_state>> incoming_;
  std::atomic<bool> incoming_waiting_{false};  ///< incoming_ is not empty (read without the lock)
  /// A serve_incoming() is posted or running; it takes whatever arrives meanwhile.
  bool kick_posted_ = false;
  bool closed_ = false;  ///< no more submissions (guarded by incoming_mutex_)
  /// restart_workers() was called and the pool's thread has not begun it (incoming_mutex_).
  bool restart_asked_ = false;

  // Pool thread only.
  std::deque<std::shared_ptr<task_state>> pending_;
  std::vector<std::unique_ptr<worker_record>> workers_;  ///< structure guarded by stats_mutex_
  std::uint64_t next_worker_id_ = 1;
  bool launcher_lost_ = false;  ///< the fork server died; a new one is on its way
  /// Worker failures (crash, failed initializer, failed fork) since the last successful task.
  /// Beyond one per worker, replacements back off exponentially: a crash loop does not fork
  /// without bound, and healthy workers keep serving.
  unsigned consecutive_failures_ = 0;
  /// Workers that could not be made or forked since the last one that was (resources short).
  unsigned launch_failures_ = 0;
  std::vector<std::unique_ptr<worker_record>> first_workers_;  ///< made by the constructor
  boost::asio::steady_timer respawn_timer_{io_};
  bool respawn_scheduled_ = false;
  /// A requested restart's workers are still retiring; requests meanwhile wait as one (coalesce):
  /// at most one generation of workers retires at a time, however often restarts are asked for.
  bool restart_in_progress_ = false;
  bool restart_requested_ = false;  ///< asked for during the one in progress
  std::unique_ptr<boost::asio::steady_timer> timeout_timer_;
  std::string broken_;          ///< set when no worker can ever start: every call fails with it
  bool draining_ = false;       ///< shutdown: finish what is queued, then stop the workers
  bool stopped_ = false;        ///< every worker has exited and the launcher is stopped
  bool finish_posted_ = false;  ///< a helper asked the pool's thread to check for the end

  mutable std::mutex stats_mutex_;
  std::array<std::atomic<std::uint64_t>, 5> restarts_{};
  std::atomic<std::uint64_t> initializer_failures_{0};
  std::atomic<std::uint64_t> retries_{0};
  /// The shortest timeout any call has had (pool's or its own): sets the scan's period.
  std::chrono::milliseconds shortest_timeout_{0};
  std::atomic<std::uint64_t> lent_bytes_read_{0};  ///< pool_stats::result_bytes_read_in_place
  /// pool_stats::shared_buffers_held and shared_bytes_held; outlives the pool with its blocks.
  std::shared_ptr<shared_usage> shared_usage_ = std::make_shared<shared_usage>();

  std::mutex shutdown_mutex_;
  std::condition_variable shutdown_done_;
  bool shutdown_complete_ = false;
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
