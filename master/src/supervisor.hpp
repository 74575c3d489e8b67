// Supervision: the workers' lives. Starts them through the launcher, notices their exits, retires
// them (task budget, memory limit, requested restart) and replaces them, with back-off while they
// keep failing; stops calls that overrun their timeout; breaks the pool when no worker can ever
// start. Runs on the pool's thread with the scheduler lock, except what the scheduler calls.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forkpool/options.hpp"
#include "launcher.hpp"
#include "shared_area.hpp"
#include "worker_record.hpp"

namespace forkpool::detail {

class pool_core;

class supervisor final : public launch_events {
 public:
  explicit supervisor(pool_core& pool);

  /// Makes the launcher and the first workers' channels, from the pool's constructor (before its
  /// thread runs, so the fork server is forked from a process with one thread). Throws
  /// broken_pool when the system has not what they need; nothing is left behind then.
  void prepare();
  /// Starts the workers prepare() made. Pool thread.
  void start_first_workers();

  /// Retires a worker that reached its task budget or memory limit, and sends a stop frame that
  /// did not fit before. With the scheduler lock (on a helper, only what needs_supervision says).
  void check_limits(worker_record& worker);
  /// A task finished: the workers are healthy, replacements need no back-off.
  void note_success() noexcept { consecutive_failures_ = 0; }
  /// Why no worker can ever start, or empty. Every call then fails with it.
  const std::string& broken() const noexcept { return broken_; }
  /// Fails every queued call with broken_pool(reason); the pool stays broken.
  void fail_everything(const std::string& reason);

  /// A restart asked for by restart_workers(): begun now, or once the one in progress is over.
  void request_restart();
  /// A call with its own timeout was submitted: the scan runs (often enough) while it may run.
  void note_call_timeout(std::chrono::milliseconds timeout);
  /// Shutdown: tells every serving worker that holds no call to stop. True once none is left.
  bool stop_idle_workers();
  void stop_launcher();
  /// The counts stats() reports.
  void add_stats(pool_stats& stats) const;

 private:
  // launch_events
  void on_spawned(std::uint64_t worker_id, pid_t pid) override;
  void on_spawn_failed(std::uint64_t worker_id, int error) override;
  void on_exited(pid_t pid, int wait_status) override;
  void on_launcher_lost() override;

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
  /// Starts workers until the pool has its count, unless it should not (stopped, broken,
  /// backing off, draining with nothing queued).
  void replenish();
  /// Workers taking calls (running), counted now.
  unsigned serving_workers() const;
  std::chrono::milliseconds respawn_delay() const;
  void count_restart(restart_reason reason);

  void retire(worker_record& worker, restart_reason reason);
  void send_stop(worker_record& worker);
  /// Starts the stop grace of a retiring worker that holds no call (see stop_timer).
  void arm_stop_grace(worker_record& worker);
  /// A worker has exited: its calls are retried, requeued or failed, and it is replaced.
  void bury(worker_record& worker, int wait_status);
  /// The log line for a worker that has exited: how, and what it was running.
  void report_exit(const worker_record& worker, int wait_status, bool expected,
                   bool initializer_failed);
  /// A call its worker lost while running it (died, timed out): sent again if it has retries
  /// left (pool_options::max_retries), else failed with `error`.
  void retry_or_fail(std::shared_ptr<task_state> task, std::exception_ptr error,
                     std::vector<std::shared_ptr<task_state>>& requeue);

  /// Retires every serving worker for a requested restart (see restart_workers()).
  void begin_restart();
  /// After a worker exits: the restart in progress is over once every worker it retired has
  /// gone, and then a request that arrived meanwhile starts the next.
  void continue_restart();

  // timeouts
  /// The call's own timeout (call_options), else the pool's task_timeout; 0 for none.
  std::chrono::milliseconds timeout_of(const task_state& task) const;
  void arm_timeout_scan();
  /// Whether some call sent or waiting has a timeout (the scan keeps running while one has).
  bool timed_calls_waiting();
  void scan_timeouts();
  void kill_for_timeout(worker_record& worker, std::uint32_t slot);

  bool stopped() const noexcept;   ///< the pool's phase is stopped
  bool draining() const noexcept;  ///< the pool's phase is draining, or stopped

  pool_core& pool_;
  std::unique_ptr<launcher> launcher_;
  std::vector<std::unique_ptr<worker_record>> first_workers_;  ///< made by prepare()
  std::uint64_t next_worker_id_ = 1;
  bool launcher_lost_ = false;  ///< the fork server died; a new one is on its way
  /// Worker failures (crash, failed initializer, failed fork) since the last successful task.
  /// Beyond one per worker, replacements back off exponentially: a crash loop does not fork
  /// without bound, and healthy workers keep serving.
  unsigned consecutive_failures_ = 0;
  /// Workers that could not be made or forked since the last one that was (resources short).
  unsigned launch_failures_ = 0;
  boost::asio::steady_timer respawn_timer_;
  bool respawn_scheduled_ = false;
  /// A requested restart's workers are still retiring; requests meanwhile wait as one (coalesce):
  /// at most one generation of workers retires at a time, however often restarts are asked for.
  bool restart_in_progress_ = false;
  bool restart_requested_ = false;  ///< asked for during the one in progress
  std::string broken_;
  std::unique_ptr<boost::asio::steady_timer> timeout_timer_;
  /// The shortest timeout any call has had (pool's or its own): sets the scan's period.
  std::chrono::milliseconds shortest_timeout_{0};

  std::array<std::atomic<std::uint64_t>, 5> restarts_{};
  std::atomic<std::uint64_t> initializer_failures_{0};
  std::atomic<std::uint64_t> retries_{0};
  /// pool_stats::shared_buffers_held and shared_bytes_held; outlives the pool with its blocks.
  std::shared_ptr<shared_usage> shared_usage_ = std::make_shared<shared_usage>();
};

}  // namespace forkpool::detail
