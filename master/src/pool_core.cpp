#include "pool_core.hpp"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/spin.hpp"
#include "spawn.hpp"

#include "forkpool/errors.hpp"

namespace forkpool::detail {
namespace {

unsigned resolve_worker_count(unsigned requested) {
  if (requested != 0) return requested;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

// How long an idle worker spins on its ring before it sleeps on its bell.
constexpr std::chrono::microseconds kWorkerSpin{50};
// How long a thread waiting for a task reads replies itself before it sleeps: about as long as a
// worker spins for its next call, so a quick task is read the moment it is done.
constexpr std::chrono::microseconds kHelpSpin{50};
// How long the pool thread looks for more submissions after taking a batch.
constexpr std::chrono::microseconds kIncomingSpin{5};
// Slots of incoming_ kept once a burst has passed through it (as task_queue keeps).
constexpr std::size_t kIncomingKept = 4096;
// The pool whose thread this is, on a pool's own thread.
thread_local const pool_core* this_threads_pool = nullptr;

// Counts the fork()s between this process and the program's first: each child of fork() adds
// one (pthread_atfork), so a pool whose recorded count differs was made by an ancestor.
std::atomic<unsigned> forks_since_start{0};

unsigned current_fork_generation() {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr,
                     [] { forks_since_start.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
  return forks_since_start.load(std::memory_order_relaxed);
}

void refuse_in_forked_child(const char* what) {
  throw std::logic_error(std::string("forkpool: ") + what +
                         " in a child made by fork(): the pool belongs to the process that made "
                         "it; make a new pool in the child");
}

}  // namespace

pool_core::pool_core(pool_options options)
    : fork_generation_(current_fork_generation()),
      options_(std::move(options)),
      worker_count_(resolve_worker_count(options_.workers)),
      work_(io_.get_executor()) {
  if (options_.ring_bytes < 4096) throw std::invalid_argument("pool_options.ring_bytes < 4096");
  if (is_spawned_worker()) {
    // This process was started as a spawned worker but its main() did not call forkpool::init
    // first: running the program as a second master could fork without end. Stop here.
    std::fprintf(
        stderr, "forkpool: a spawned worker's main() must call forkpool::init(argc, argv) first\n");
    std::_Exit(worker_exit_not_initialized);
  }
  if (options_.task_timeout.count() < 0)
    throw std::invalid_argument("pool_options.task_timeout < 0");
  worker_config_.initializer = options_.initializer;
  worker_config_.spin = spin_time(kWorkerSpin);
  incoming_spin_.reset(spin_time(kIncomingSpin));
  link_->help_spin.reset(spin_time(kHelpSpin));
  worker_config_.rss_limit = options_.max_worker_rss_bytes;
  if (options_.start == start_method::spawn && !init_has_run())
    throw std::logic_error(
        "start_method::spawn: forkpool::init(argc, argv) has not run in this process: call it "
        "first in main(), and make no pool during static initialisation (in a global's "
        "constructor, before main), where a spawned worker would make one too");
  fresh_run_initializer_ = registered_initializer(options_.initializer);
  if (options_.start == start_method::spawn && !fresh_run_initializer_)
    throw std::invalid_argument(
        "start_method::spawn: the initializer must be a function registered with "
        "FORKPOOL_TASK (a spawned worker is a fresh run of the program; a closure cannot reach it)");
  // The fork server is a fresh run only when that run knows every task; otherwise it is forked
  // from this process, heap and all.
  if (options_.start == start_method::forkserver && !fresh_run_knows_every_task())
    fresh_run_initializer_.reset();
  // Everything the workers need is made here, so that a pool that cannot have it fails now,
  // from its constructor, rather than later on its own thread.
  supervisor_.prepare();
  // Workers are launched by the pool thread: with start_method::fork they are its children and
  // die with it (PR_SET_PDEATHSIG follows the forking thread).
  post_locked([this] {
    supervisor_.start_first_workers();
    scheduler_.dispatch();
  });
  thread_ = std::thread([this] {
    this_threads_pool = this;
    io_.run();
  });
  link_->helper.store(this, std::memory_order_relaxed);
}

pool_core::~pool_core() {
  shutdown({.wait = true, .cancel_pending = false});
  // Tasks outlive the pool: from now on, their waits sleep until done instead of helping.
  const scheduler_lock lock(*link_);
  link_->helper.store(nullptr, std::memory_order_relaxed);
}

bool pool_core::on_pool_thread() const noexcept { return this_threads_pool == this; }

bool pool_core::forked_away() const noexcept {
  return forks_since_start.load(std::memory_order_relaxed) != fork_generation_;
}

void pool_core::enqueue(std::shared_ptr<task_state> task) {
  if (forked_away()) refuse_in_forked_child("submit()");
  // If no one holds the scheduler, this thread sends the call itself: handing it to the pool's
  // thread would cost a wake-up (about 10 µs here) on every call made one at a time.
  if (const auto timeout = task->timeout; timeout.count() > 0)
    post_locked([this, timeout] { supervisor_.note_call_timeout(timeout); });  // before it can run
  scheduler_lock scheduler(*link_, std::try_to_lock);
  bool direct = false;
  {
    std::lock_guard lock(incoming_mutex_);
    if (phase() != pool_phase::serving) throw pool_shut_down();
    task->id = link_->submitted.fetch_add(1, std::memory_order_relaxed) + 1;
    direct = scheduler.owns_lock() && incoming_.empty() && !restart_asked_;
    if (direct) {
      // Nothing ahead of it: straight to the scheduler, without a second pass through incoming_.
      scheduler_.pending().push_back(std::move(task));
    } else {
      incoming_.push_back(std::move(task));
      incoming_waiting_.store(true, std::memory_order_release);
      if (kick_posted_) return;  // the pool's thread is on its way and takes it
      if (!scheduler.owns_lock()) kick_posted_ = true;
    }
  }
  if (scheduler.owns_lock()) {
    if (!direct) take_incoming();
    scheduler_.dispatch();
    return;
  }
  post_locked([this] { serve_incoming(); });
}

void pool_core::serve_incoming() {
  for (;;) {
    take_incoming();
    scheduler_.dispatch();
    // A caller submitting in a loop finds this thread still awake, so its next submission costs
    // no post, no eventfd write and no wake-up (about 10 µs here, NOTES.md).
    spinner spinning(incoming_spin_);
    while (!incoming_waiting_.load(std::memory_order_acquire) && spinning.keep_spinning()) {
    }
    if (incoming_waiting_.load(std::memory_order_relaxed)) spinning.answered();
    std::lock_guard lock(incoming_mutex_);
    if (incoming_.empty()) {
      kick_posted_ = false;
      return;
    }
  }
}

void pool_core::restart_workers() {
  if (forked_away()) refuse_in_forked_child("restart_workers()");
  {
    std::lock_guard lock(incoming_mutex_);
    if (phase() != pool_phase::serving) throw pool_shut_down();
    // Through the submission queue: calls submitted from now on are taken after the restart
    // has begun, by whichever thread sends them.
    restart_asked_ = true;
  }
  post_locked([this] { serve_incoming(); });
}

void pool_core::take_incoming() {
  {
    std::lock_guard lock(incoming_mutex_);
    if (restart_asked_) {
      if (!on_pool_thread()) return;  // its posted serve_incoming() restarts, then takes them
      restart_asked_ = false;
    } else {
      for (auto& task : incoming_) scheduler_.pending().push_back(std::move(task));
      incoming_.clear();
      if (incoming_.capacity() > kIncomingKept)
        std::vector<std::shared_ptr<task_state>>().swap(incoming_);
      incoming_waiting_.store(false, std::memory_order_relaxed);
      return;
    }
  }
  supervisor_.request_restart();
  take_incoming();
}

void pool_core::shutdown(shutdown_options options) {
  if (forked_away()) return;  // the parent's pool: its owner shuts it down
  // The pool's thread cannot wait for itself to finish (process_pool's destructor, which must
  // wait, hands the pool to another thread instead).
  if (options.wait && on_pool_thread())
    throw std::logic_error(
        "forkpool: shutdown({.wait = true}) called from the pool's own thread (a done callback); "
        "use shutdown({.wait = false}) there, or destroy the pool");
  bool first = false;
  {
    std::lock_guard lock(incoming_mutex_);
    first = phase() == pool_phase::serving;
    if (first) phase_.store(pool_phase::closed, std::memory_order_release);
  }
  if (options.kill_running) options.cancel_pending = true;
  if (options.cancel_pending) {
    // Here, before returning, as Python does: every call not yet started is cancelled when
    // shutdown() returns, those queued in a worker's ring included.
    const scheduler_lock lock(*link_);
    cancel_not_started();
  }
  if (first || options.cancel_pending) {
    post_locked([this, cancel = options.cancel_pending, kill = options.kill_running] {
      begin_shutdown(cancel, kill);
    });
  }
  if (!options.wait) return;
  {
    std::unique_lock lock(shutdown_mutex_);
    shutdown_done_.wait(lock, [&] { return phase() == pool_phase::stopped; });
  }
  if (thread_.joinable()) thread_.join();
}

void pool_core::cancel_not_started() {
  take_incoming();
  {
    std::lock_guard lock(incoming_mutex_);
    for (auto& task : incoming_) task->cancel();  // left for a restart not yet begun
  }
  for (auto& task : scheduler_.pending()) task->cancel();
  scheduler_.pending().clear();
  for (auto& worker : workers_)
    for (const auto& task : worker->calls.tasks())
      if (task) task->cancel();  // succeeds only for calls the worker has not started
}

void pool_core::begin_shutdown(bool cancel_pending, bool kill_running) {
  take_incoming();
  if (cancel_pending) cancel_not_started();
  if (kill_running) kill_running_tasks();
  phase_.store(pool_phase::draining, std::memory_order_release);
  scheduler_.dispatch();
  finish_shutdown();
}

void pool_core::kill_running_tasks() {
  for (auto& worker : workers_) {
    if (worker->occupied() == 0 || worker->state == worker_record::phase::exited) continue;
    for (const auto& task : worker->calls.tasks())
      if (task && !task->done())
        task->fail(std::make_exception_ptr(
            cancelled_error("task '" + task->name +
                            "' was stopped while it ran: the pool was shut down with "
                            "kill_running, and its worker killed")));
    // Retiring: its death is expected, counted as no crash, and it is not replaced.
    worker->state = worker_record::phase::retiring;
    signal_worker(*worker, SIGKILL);
  }
}

void pool_core::finish_shutdown() {
  if (phase() != pool_phase::draining || !scheduler_.pending().empty()) return;
  if (!supervisor_.stop_idle_workers()) return;  // the last one's exit comes back here
  supervisor_.stop_launcher();
  scheduler_.cancel_timers();
  work_.reset();
  {
    std::lock_guard lock(shutdown_mutex_);
    phase_.store(pool_phase::stopped, std::memory_order_release);
  }
  shutdown_done_.notify_all();
}

worker_record* pool_core::worker_by_id(std::uint64_t id) {
  for (auto& worker : workers_)
    if (worker->id == id) return worker.get();
  return nullptr;
}

worker_record* pool_core::worker_by_pid(pid_t pid) {
  for (auto& worker : workers_)
    if (worker->pid == pid) return worker.get();
  return nullptr;
}

void pool_core::help() { scheduler_.help(); }

void pool_core::stop_helping() { scheduler_.stop_helping(); }

pool_stats pool_core::stats() const {
  if (forked_away()) refuse_in_forked_child("stats()");
  pool_stats s;
  s.submitted = link_->submitted.load(std::memory_order_relaxed);
  s.completed = link_->completed.load(std::memory_order_relaxed);
  s.failed = link_->failed.load(std::memory_order_relaxed);
  s.cancelled = link_->cancelled.load(std::memory_order_relaxed);
  const std::uint64_t finished = s.completed + s.failed + s.cancelled;
  s.queue_depth = s.submitted > finished ? static_cast<std::size_t>(s.submitted - finished) : 0;
  supervisor_.add_stats(s);
  s.result_bytes_read_in_place = scheduler_.lent_bytes_read();
  std::lock_guard lock(stats_mutex_);
  for (const auto& worker : workers_) {
    // A worker may answer before the launcher reports its pid; it says its pid itself.
    const pid_t pid = worker->pid != 0 ? worker->pid : worker->channel->lending().offered_pid();
    // Read once: the pool's thread may bury a retiring worker meanwhile (retiring -> exited),
    // and two reads would count it as serving.
    const worker_record::phase state = worker->state.load();
    if (pid == 0 || state == worker_record::phase::exited) continue;
    if (state == worker_record::phase::retiring) {
      ++s.workers_retiring;
      continue;
    }
    s.per_worker.push_back({pid, worker->tasks_run.load(std::memory_order_relaxed),
                            worker->rss_bytes.load(std::memory_order_relaxed), worker->started});
  }
  s.workers_alive = s.per_worker.size();
  return s;
}

}  // namespace forkpool::detail
