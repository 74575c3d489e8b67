#include <signal.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "forkpool/errors.hpp"
#include "pool_core.hpp"
#include "pool_log.hpp"
#include "supervisor.hpp"
#include "task_engine.hpp"

namespace forkpool::detail {
namespace {

// Between SIGTERM and SIGKILL for a worker whose task overran task_timeout.
constexpr std::chrono::milliseconds kTerminateGrace{100};
constexpr std::chrono::milliseconds kMaxRespawnDelay{100};
// How long a worker told to stop, with nothing left to run, may take to exit before it is killed.
// Documented on process_pool::shutdown.
constexpr std::chrono::milliseconds kStopGrace{2000};
// Failed attempts to start a worker, while none serves, before the pool is broken: with the
// back-off above, about a second of trying.
constexpr unsigned kLaunchAttempts = 16;

}  // namespace

supervisor::supervisor(pool_core& pool) : pool_(pool), respawn_timer_(pool.io_) {
  shortest_timeout_ = pool.options_.task_timeout;
}

bool supervisor::stopped() const noexcept { return pool_.phase() == pool_phase::stopped; }
bool supervisor::draining() const noexcept { return pool_.phase() >= pool_phase::draining; }

void supervisor::prepare() {
  try {
    // Forks the fork server now, while the pool has only the thread that makes it.
    launcher_ = make_launcher(pool_.options_.start, pool_.io_, pool_.worker_config_, *this,
                              pool_.fresh_run_initializer_);
    for (unsigned i = 0; i < pool_.worker_count_; ++i) first_workers_.push_back(make_worker());
  } catch (const std::exception& e) {
    // What was made is given back first: the caller may need those descriptors at once.
    first_workers_.clear();
    launcher_.reset();
    throw broken_pool(std::string("forkpool: cannot start the pool's workers: ") + e.what());
  }
}

void supervisor::start_first_workers() {
  for (auto& worker : first_workers_) start_worker(std::move(worker));
  first_workers_.clear();
}

bool supervisor::stop_idle_workers() {
  for (auto& worker : pool_.workers_) {
    if (worker->state == worker_record::phase::running && worker->occupied() == 0) {
      worker->state = worker_record::phase::retiring;
      send_stop(*worker);
    }
  }
  return pool_.workers_.empty();
}

void supervisor::stop_launcher() { launcher_->stop(); }

void supervisor::add_stats(pool_stats& s) const {
  s.restarts_task_count = restarts_[static_cast<int>(restart_reason::task_count)].load();
  s.restarts_memory = restarts_[static_cast<int>(restart_reason::memory)].load();
  s.restarts_timeout = restarts_[static_cast<int>(restart_reason::timeout)].load();
  s.restarts_crash = restarts_[static_cast<int>(restart_reason::crash)].load();
  s.restarts_requested = restarts_[static_cast<int>(restart_reason::requested)].load();
  s.initializer_failures = initializer_failures_.load();
  s.shared_buffers_held = shared_usage_->buffers.load(std::memory_order_relaxed);
  s.shared_bytes_held = shared_usage_->bytes.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
}

void supervisor::count_restart(restart_reason reason) {
  restarts_[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
}

// ---- restarts asked for by restart_workers() --------------------------------------------------

void supervisor::request_restart() {
  if (restart_in_progress_) {
    restart_requested_ = true;  // done once this one is over, for everyone it did not reach
    return;
  }
  begin_restart();
}

void supervisor::begin_restart() {
  // By id: retiring one starts its replacement, which may change the worker table.
  std::vector<std::uint64_t> serving;
  for (auto& worker : pool_.workers_)
    if (worker->state == worker_record::phase::running) serving.push_back(worker->id);
  restart_in_progress_ = !serving.empty();
  for (const std::uint64_t id : serving)
    if (worker_record* worker = pool_.worker_by_id(id)) retire(*worker, restart_reason::requested);
}

void supervisor::continue_restart() {
  if (!restart_in_progress_) return;
  const bool retiring =
      std::any_of(pool_.workers_.begin(), pool_.workers_.end(), [](const auto& w) {
        return w->state == worker_record::phase::retiring &&
               w->retire_reason == restart_reason::requested;
      });
  if (retiring) return;
  restart_in_progress_ = false;
  if (restart_requested_ && !draining()) {
    restart_requested_ = false;
    begin_restart();
  }
}

// ---- worker lives ---------------------------------------------------------------------------

std::unique_ptr<worker_record> supervisor::make_worker() {
  auto worker = std::make_unique<worker_record>();
  worker->id = next_worker_id_++;
  worker->channel = master_channel::create(
      pool_.options_.ring_bytes, pool_.options_.max_payload_bytes,
      pool_.options_.kept_payload_bytes, pool_.options_.shared_bytes_per_worker);
  if (const auto& area = worker->channel->shared()) area->count_into(shared_usage_);
  unique_fd bell(::fcntl(worker->channel->master_bell().fd(), F_DUPFD_CLOEXEC, 0));
  if (!bell) throw std::system_error(errno, std::generic_category(), "dup");
  worker->bell = std::make_unique<boost::asio::posix::stream_descriptor>(pool_.io_, bell.get());
  bell.release();  // the stream descriptor owns it now
  return worker;
}

bool supervisor::launch_worker() {
  std::unique_ptr<worker_record> worker;
  try {
    worker = make_worker();
  } catch (const std::exception& e) {
    launch_failed(e.what());
    return false;
  }
  start_worker(std::move(worker));
  return true;
}

void supervisor::launch_failed(const std::string& why) {
  ++consecutive_failures_;
  if (launch_failures_++ == 0)  // once per episode, not once per attempt
    report(log_level::warning, [&] { return "could not start a worker (" + why + "); retrying"; });
  if (serving_workers() == 0 && launch_failures_ >= kLaunchAttempts)
    fail_everything("no worker can be started: " + why);
}

void supervisor::start_worker(std::unique_ptr<worker_record> worker) {
  // The one place a serving worker is added: the pool never has more than it was given, whatever
  // path asked for this one.
  if (serving_workers() >= pool_.worker_count_) {
    report(log_level::debug, [&] {
      return "a worker start beyond the pool's " + std::to_string(pool_.worker_count_) +
             " was skipped";
    });
    return;
  }
  worker_record& w = *worker;
  {
    std::lock_guard lock(pool_.stats_mutex_);
    pool_.workers_.push_back(std::move(worker));
  }
  launcher_->launch(w.id, w.channel);
  if (w.channel->responses_in().prepare_sleep()) {
    pool_.scheduler_.watch_bell(w);
  } else {
    pool_.scheduler_.drain_replies(w);
  }
  arm_timeout_scan();
  // The caller dispatches once all the workers it launches exist: calls can wait in a ring while
  // its worker starts, and are spread over every worker.
}

std::chrono::milliseconds supervisor::respawn_delay() const {
  if (consecutive_failures_ <= pool_.worker_count_) return std::chrono::milliseconds(0);
  // 1, 2, 4, ... ms: a few crashes cost nothing; a crash loop settles at ten forks a second, and
  // the pool still makes progress when workers are killed from outside faster than they start.
  const unsigned doublings = std::min(consecutive_failures_ - pool_.worker_count_ - 1, 16u);
  return std::min(std::chrono::milliseconds(1) * (1u << doublings), kMaxRespawnDelay);
}

unsigned supervisor::serving_workers() const {
  return static_cast<unsigned>(
      std::count_if(pool_.workers_.begin(), pool_.workers_.end(),
                    [](const auto& w) { return w->state == worker_record::phase::running; }));
}

void supervisor::replenish() {
  if (stopped() || launcher_lost_ || respawn_scheduled_ || !broken_.empty()) return;
  if (draining() && pool_.scheduler_.pending().empty()) return;
  if (serving_workers() >= pool_.worker_count_) return;
  if (const auto delay = respawn_delay(); delay.count() > 0) return schedule_respawn(delay);
  // Counted afresh for each launch, never carried: a pool never has more than its workers.
  while (serving_workers() < pool_.worker_count_) {
    if (!launch_worker()) {
      // Resources are short: try again shortly, not in a loop.
      if (broken_.empty())
        schedule_respawn(std::max(respawn_delay(), std::chrono::milliseconds(1)));
      return;
    }
  }
}

// While failing, one worker at a time: each attempt must succeed before the next is made.
void supervisor::schedule_respawn(std::chrono::milliseconds delay) {
  respawn_scheduled_ = true;
  respawn_timer_.expires_after(delay);  // a wait already armed ends with operation_aborted
  respawn_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec == boost::asio::error::operation_aborted) return;  // re-armed: the newer wait owns it
    const scheduler_lock lock(*pool_.link_);
    respawn_scheduled_ = false;
    if (ec || stopped() || launcher_lost_ || !broken_.empty()) return;
    if (draining() && pool_.scheduler_.pending().empty()) return;
    // One attempt; if it fails, replenish() below schedules the next with a longer delay.
    if (serving_workers() < pool_.worker_count_) launch_worker();
    replenish();
    pool_.scheduler_.dispatch();
  });
}

void supervisor::on_spawned(std::uint64_t worker_id, pid_t pid) {
  const scheduler_lock scheduler(*pool_.link_);
  launch_failures_ = 0;
  worker_record* worker = pool_.worker_by_id(worker_id);
  if (worker == nullptr) return;
  {
    std::lock_guard lock(pool_.stats_mutex_);
    worker->pid = pid;
    worker->started = std::chrono::system_clock::now();
  }
  report(log_level::info, [&] { return "worker " + std::to_string(pid) + " started"; });
  if (worker->kill_when_known) ::kill(pid, SIGKILL);  // owed since before its pid was known
}

void supervisor::on_spawn_failed(std::uint64_t worker_id, int error) {
  const scheduler_lock scheduler(*pool_.link_);
  // Out of processes, memory or descriptors: retried, with back-off.
  if (worker_record* worker = pool_.worker_by_id(worker_id)) {
    worker->state = worker_record::phase::retiring;  // never ran: not a crash, and not serving
    launch_failed(std::strerror(error));
    bury(*worker, 0);
  }
}

void supervisor::on_exited(pid_t pid, int wait_status) {
  const scheduler_lock scheduler(*pool_.link_);
  if (worker_record* worker = pool_.worker_by_pid(pid)) bury(*worker, wait_status);
}

void supervisor::on_launcher_lost() {
  const scheduler_lock scheduler(*pool_.link_);
  // Its workers die with it (PR_SET_PDEATHSIG); no one is left to report their exit status.
  launcher_lost_ = true;
  std::vector<worker_record*> orphans;
  for (auto& worker : pool_.workers_) orphans.push_back(worker.get());
  for (worker_record* worker : orphans) bury(*worker, SIGKILL);
  if (stopped()) return;
  // Replaced from a fresh handler: the old launcher is still on the stack here.
  pool_.post_locked([this] {
    if (stopped()) return;
    launcher_ = make_launcher(pool_.options_.start, pool_.io_, pool_.worker_config_, *this,
                              pool_.fresh_run_initializer_);
    launcher_lost_ = false;
    replenish();
    pool_.scheduler_.dispatch();
  });
}

void supervisor::retire(worker_record& worker, restart_reason reason) {
  if (worker.state != worker_record::phase::running) return;
  worker.state = worker_record::phase::retiring;
  worker.retire_reason = reason;
  count_restart(reason);
  report(log_level::info, [&] {
    std::string why = "restart requested";
    if (reason == restart_reason::task_count)
      why = "ran " + std::to_string(worker.tasks_run.load(std::memory_order_relaxed)) +
            " tasks (max_tasks_per_worker " + std::to_string(pool_.options_.max_tasks_per_worker) +
            ")";
    if (reason == restart_reason::memory)
      why = "private memory " +
            std::to_string(worker.rss_bytes.load(std::memory_order_relaxed) >> 20) +
            " MiB above max_worker_rss_bytes (" +
            std::to_string(pool_.options_.max_worker_rss_bytes >> 20) + " MiB)";
    return "worker " + std::to_string(worker.pid) + " replaced: " + why;
  });
  pool_.scheduler_.revoke_queued(worker);  // the replacement runs them
  send_stop(worker);
  replenish();
}

void supervisor::send_stop(worker_record& worker) {
  ring_producer& out = worker.channel->requests_out();
  std::byte* frame = out.try_reserve(frame_size(0));
  if (frame == nullptr) {
    worker.stop_pending = true;  // sent from drain_replies once there is room
    return;
  }
  worker.stop_pending = false;
  seal_frame(frame, 0, frame_kind::stop, 0);
  out.commit(frame_size(0));
  out.publish();
  arm_stop_grace(worker);
}

void supervisor::arm_stop_grace(worker_record& worker) {
  if (worker.stop_timer || worker.stop_pending || worker.occupied() != 0 ||
      worker.state != worker_record::phase::retiring || !pool_.on_pool_thread())
    return;
  worker.stop_timer = std::make_unique<boost::asio::steady_timer>(pool_.io_, kStopGrace);
  worker.stop_timer->async_wait([this, id = worker.id](boost::system::error_code ec) {
    if (ec) return;
    const scheduler_lock lock(*pool_.link_);
    worker_record* w = pool_.worker_by_id(id);
    if (w == nullptr || w->pid <= 0) return;
    report(log_level::warning, [&] {
      return "worker " + std::to_string(w->pid) + " did not stop within " +
             std::to_string(kStopGrace.count()) + " ms; killing it";
    });
    signal_worker(*w, SIGKILL);
  });
}

void supervisor::check_limits(worker_record& worker) {
  if (worker.stop_pending) send_stop(worker);
  arm_stop_grace(worker);  // a retiring worker whose last call just finished
  if (worker.state != worker_record::phase::running) return;
  if (pool_.options_.max_tasks_per_worker != 0 &&
      worker.tasks_run.load(std::memory_order_relaxed) >= pool_.options_.max_tasks_per_worker) {
    retire(worker, restart_reason::task_count);
  } else if (pool_.options_.max_worker_rss_bytes != 0 &&
             worker.rss_bytes.load(std::memory_order_relaxed) >
                 pool_.options_.max_worker_rss_bytes) {
    retire(worker, restart_reason::memory);
  }
}

void supervisor::fail_everything(const std::string& reason) {
  if (broken_.empty()) report(log_level::error, [&] { return "the pool is broken: " + reason; });
  broken_ = reason;
  pool_.take_incoming();
  const auto error =
      std::make_exception_ptr(broken_pool("forkpool: the pool is broken: " + reason));
  for (auto& task : pool_.scheduler_.pending()) task->fail(error);
  pool_.scheduler_.pending().clear();
}

void supervisor::bury(worker_record& worker, int wait_status) {
  // Replies it published before dying still count (but not what it lent: see deliver_result).
  worker.reaped = true;
  if (worker.fault.empty()) pool_.scheduler_.drain_ring(worker);
  const bool timed_out = worker.timed_out_task != 0;
  const bool initializer_failed =
      WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == worker_exit_initializer_failed;
  // Retired workers were replaced when they were retired; anything else is a failure. Counted
  // before the futures fail, so stats() read after get() includes it.
  const bool expected = worker.state == worker_record::phase::retiring && worker.fault.empty() &&
                        !timed_out && !initializer_failed;
  if (!expected && !stopped()) {
    count_restart(timed_out ? restart_reason::timeout : restart_reason::crash);
    if (!timed_out) ++consecutive_failures_;
  }
  if (initializer_failed) initializer_failures_.fetch_add(1, std::memory_order_relaxed);
  if (!stopped()) report_exit(worker, wait_status, expected, initializer_failed);
  worker.state = worker_record::phase::exited;
  boost::system::error_code ignored;
  worker.bell->close(ignored);
  if (worker.kill_timer) worker.kill_timer->cancel();
  if (worker.stop_timer) worker.stop_timer->cancel();

  std::vector<std::shared_ptr<task_state>> requeue;
  for (std::uint32_t slot = 0; slot < master_channel::kSlots; ++slot) {
    std::shared_ptr<task_state> task = worker.calls.take(slot);
    if (!task) continue;
    if (task_engine::try_revoke(*task)) {  // never started: it runs elsewhere
      requeue.push_back(std::move(task));
    } else if (!task->done()) {  // it was running
      if (task->id == worker.timed_out_task) {
        auto error = std::make_exception_ptr(forkpool::task_timeout(
            "task '" + task->name + "' ran longer than its timeout (" +
            std::to_string(timeout_of(*task).count()) + " ms); its worker was replaced"));
        retry_or_fail(std::move(task), error, requeue);
      } else if (!worker.fault.empty()) {
        // Not retried: the same call would likely break the protocol again.
        task->fail(std::make_exception_ptr(protocol_error("worker " + std::to_string(worker.pid) +
                                                          " broke the protocol (" + worker.fault +
                                                          ") and was replaced")));
      } else {
        retry_or_fail(std::move(task),
                      std::make_exception_ptr(worker_died(worker.pid, wait_status)), requeue);
      }
    }
  }
  requeue_first(pool_.scheduler_.pending(), std::move(requeue));

  const bool never_initialized =
      WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == worker_exit_not_initialized;
  {
    std::lock_guard lock(pool_.stats_mutex_);
    pool_.workers_.erase(std::find_if(pool_.workers_.begin(), pool_.workers_.end(),
                                      [&](const auto& w) { return w.get() == &worker; }));
  }
  continue_restart();
  if (never_initialized)
    fail_everything(
        "start_method::spawn: a spawned worker (a fresh run of this program) made a "
        "pool before forkpool::init ran: main() must call forkpool::init(argc, argv) "
        "first, and no pool may be made before main (a global's constructor runs in "
        "every worker too)");
  replenish();
  pool_.scheduler_.dispatch();
}

void supervisor::retry_or_fail(std::shared_ptr<task_state> task, std::exception_ptr error,
                               std::vector<std::shared_ptr<task_state>>& requeue) {
  if (task->retries < pool_.options_.max_retries && !stopped() &&
      task_engine::take_back_after_loss(*task)) {
    ++task->retries;
    retries_.fetch_add(1, std::memory_order_relaxed);
    requeue.push_back(std::move(task));  // first in line again, for the next worker free
    return;
  }
  task->fail(std::move(error));
}

void supervisor::report_exit(const worker_record& worker, int wait_status, bool expected,
                             bool initializer_failed) {
  const log_level level = expected ? log_level::info : log_level::warning;
  report(level, [&] {
    std::string line = "worker " + std::to_string(worker.pid) + " " + describe_exit(wait_status);
    if (initializer_failed) return line + ": its initializer threw";
    if (worker.timed_out_task != 0) return line + " after its task ran past its timeout";
    std::string running;  // the calls it had started: they fail, or are retried
    for (std::uint32_t slot = 0; slot < master_channel::kSlots; ++slot) {
      const auto& task = worker.calls.task(slot);
      if (task && worker.channel->slot(slot).load(std::memory_order_acquire) ==
                      slot_word(task->id, slot_state::running))
        running += (running.empty() ? "'" : ", '") + task->name + "'";
    }
    if (!running.empty()) return line + " while running task " + running;
    return line + (expected ? "" : " while idle");
  });
}

std::string describe_exit(int wait_status) {
  if (WIFSIGNALED(wait_status))
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
           ::strsignal(WTERMSIG(wait_status)) + ")";
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "ended (wait status " + std::to_string(wait_status) + ")";
}

// ---- task_timeout ----------------------------------------------------------------------------

std::chrono::milliseconds supervisor::timeout_of(const task_state& task) const {
  return task.timeout.count() > 0 ? task.timeout : pool_.options_.task_timeout;
}

void supervisor::note_call_timeout(std::chrono::milliseconds timeout) {
  if (shortest_timeout_.count() == 0 || timeout < shortest_timeout_) shortest_timeout_ = timeout;
  arm_timeout_scan();
}

void supervisor::arm_timeout_scan() {
  if (shortest_timeout_.count() <= 0 || timeout_timer_ || stopped()) return;
  // Checked a few times per timeout period: a task is stopped within timeout + period.
  const auto period = std::clamp(shortest_timeout_ / 4, std::chrono::milliseconds(1),
                                 std::chrono::milliseconds(100));
  timeout_timer_ = std::make_unique<boost::asio::steady_timer>(pool_.io_, period);
  timeout_timer_->async_wait([this](boost::system::error_code ec) {
    const scheduler_lock lock(*pool_.link_);
    timeout_timer_.reset();
    if (ec || stopped()) return;
    scan_timeouts();
    // With only per-call timeouts, an idle pool stops scanning (and waking) once none is left.
    if (!pool_.workers_.empty() &&
        (pool_.options_.task_timeout.count() > 0 || timed_calls_waiting()))
      arm_timeout_scan();
  });
}

bool supervisor::timed_calls_waiting() {
  const auto timed = [](const std::shared_ptr<task_state>& task) {
    return task && task->timeout.count() > 0;
  };
  if (std::any_of(pool_.scheduler_.pending().begin(), pool_.scheduler_.pending().end(), timed))
    return true;
  for (const auto& worker : pool_.workers_)
    if (std::any_of(worker->calls.tasks().begin(), worker->calls.tasks().end(), timed)) return true;
  std::lock_guard lock(pool_.incoming_mutex_);
  return std::any_of(pool_.incoming_.begin(), pool_.incoming_.end(), timed);
}

void supervisor::scan_timeouts() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<worker_record*, std::uint32_t>> overdue;
  for (auto& worker : pool_.workers_) {
    if (worker->state == worker_record::phase::exited || worker->timed_out_task != 0) continue;
    for (std::uint32_t slot = 0; slot < master_channel::kSlots; ++slot) {
      const auto& task = worker->calls.task(slot);
      if (!task) continue;
      const bool running = worker->channel->slot(slot).load(std::memory_order_acquire) ==
                           slot_word(task->id, slot_state::running);
      if (!running) continue;
      auto& since = worker->calls.running_since(slot);
      if (since == std::chrono::steady_clock::time_point{}) {
        since = now;  // first seen running: the clock starts
      } else if (const auto limit = timeout_of(*task); limit.count() > 0 && now - since > limit) {
        overdue.emplace_back(worker.get(), slot);
        break;
      }
    }
  }
  for (auto [worker, slot] : overdue) kill_for_timeout(*worker, slot);
}

void supervisor::kill_for_timeout(worker_record& worker, std::uint32_t slot) {
  const task_state& overdue = *worker.calls.task(slot);
  worker.timed_out_task = overdue.id;
  report(log_level::warning, [&] {
    return "worker " + std::to_string(worker.pid) + " killed: task '" + overdue.name +
           "' ran longer than its timeout (" + std::to_string(timeout_of(overdue).count()) + " ms)";
  });
  if (worker.state == worker_record::phase::running) worker.state = worker_record::phase::retiring;
  pool_.scheduler_.revoke_queued(worker);
  signal_worker(worker, SIGTERM);
  // A task may ignore SIGTERM; it cannot ignore SIGKILL.
  worker.kill_timer = std::make_unique<boost::asio::steady_timer>(pool_.io_, kTerminateGrace);
  worker.kill_timer->async_wait([this, id = worker.id](boost::system::error_code ec) {
    if (ec) return;
    const scheduler_lock lock(*pool_.link_);
    worker_record* w = pool_.worker_by_id(id);
    if (w != nullptr) signal_worker(*w, SIGKILL);
  });
  replenish();
  pool_.scheduler_.dispatch();
}

}  // namespace forkpool::detail
