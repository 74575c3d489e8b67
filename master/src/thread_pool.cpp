#include "forkpool/thread_pool.hpp"

#include "forkpool/event_loop.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "call_queue.hpp"
#include "call_task.hpp"
#include "forkpool/errors.hpp"
#include "pool_link.hpp"
#include "private_memory.hpp"
#include "task_engine.hpp"
#include "wire_exception.hpp"

namespace forkpool {
namespace {

// How long an idle thread, and a thread waiting for one of the pool's results, spin before they
// sleep (where a CPU is free; see spin.hpp): about a no-op's round trip through a sleep.
constexpr std::chrono::microseconds kIdleSpin{50};

}  // namespace

struct thread_pool::impl {
  struct thread_record {
    std::atomic<std::uint64_t> tasks_run{0};
    std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  };

  pool_options options;
  std::shared_ptr<detail::pool_link> link = std::make_shared<detail::pool_link>();
  const unsigned cpus = detail::usable_cpus();

  // A submit never waits for a lock the threads hold (a contended mutex puts the loser to sleep
  // in the kernel: two context switches, and in a burst the submitter is the one to lose).
  detail::call_queue queue;
  // The counts live on three cache lines by who writes them: submitters (pushed, admissions),
  // the thread taking a call (taken), threads starting or ending a wait (spinners, sleepers). On
  // one line, every submit and every take would move it between CPUs.
  /// Calls pushed: one more once a push has linked its call. Those not yet taken are
  /// `pushed - taken`.
  alignas(64) std::atomic<std::size_t> pushed{0};
  /// Submissions under way, plus kClosed once shutdown has refused new ones.
  alignas(64) std::atomic<std::uint64_t> admissions{0};
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;
  alignas(64) std::mutex take_mutex;  ///< one thread takes from `queue` at a time
  std::atomic<std::size_t> taken{0};  ///< calls taken from `queue` (written under take_mutex)
  /// Threads watching the queue for the next call: each takes one without a wake-up.
  alignas(64) std::atomic<unsigned> spinners{0};
  /// Threads on their way into work_ready.wait or in it (changed under `mutex`, read without).
  std::atomic<unsigned> sleepers{0};

  alignas(64) std::mutex mutex;  ///< for sleeping and waking only
  std::condition_variable work_ready;
  unsigned wakeups_sent = 0;  ///< notify_one calls no sleeper has woken from yet (under `mutex`)
  bool stopping = false;      ///< threads exit once the queue is empty (under `mutex`)
  /// How long an idle thread watches for the next call before it sleeps on work_ready.
  detail::adaptive_spin idle_spin{detail::spin_time(kIdleSpin)};
  std::vector<std::unique_ptr<thread_record>> records;
  std::vector<std::thread> threads;
  std::once_flag joined;
  unsigned threads_started = 0;
  std::condition_variable thread_started;
  std::mutex memory_mutex;
  detail::private_memory_probe memory;  ///< the process's: its threads share it

  std::uint64_t private_memory() {
    std::lock_guard lock(memory_mutex);
    return memory.bytes();
  }

  /// Calls pushed and not yet taken (at least: `taken` may be read before a take's store).
  std::size_t queued(std::memory_order order) const { return not_taken(pushed.load(order)); }
  /// Of `pushed_so_far` calls, those not taken yet. `taken` is read after `pushed_so_far` and
  /// may count later pushes: never below zero.
  std::size_t not_taken(std::size_t pushed_so_far) const {
    return pushed_so_far - std::min(pushed_so_far, taken.load(std::memory_order_relaxed));
  }

  void push(detail::thread_call& call) {
    queue.push(call);
    const std::size_t pushed_so_far = pushed.fetch_add(1, std::memory_order_seq_cst) + 1;
    // Each watching thread takes a call without being woken; one more call than they can take
    // needs a sleeper. Read after the push (seq_cst): a thread that stops watching or starts to
    // sleep after this read looks at the queue afterwards, and finds the call. `taken` is read
    // only when a thread sleeps: its line belongs to the threads taking calls.
    if (sleepers.load(std::memory_order_seq_cst) == 0) return;
    if (not_taken(pushed_so_far) <= spinners.load(std::memory_order_seq_cst)) return;
    wake_one();
  }

  void wake_one() {
    {
      std::lock_guard lock(mutex);
      // A sleeper already woken and not yet running will take this call too: no second wake-up.
      if (wakeups_sent >= sleepers.load(std::memory_order_relaxed)) return;
      ++wakeups_sent;
    }
    work_ready.notify_one();
  }

  detail::thread_call* try_take() {
    if (queued(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard lock(take_mutex);
    detail::queue_link* link = queue.take();
    if (link == nullptr) return nullptr;
    taken.store(taken.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return static_cast<detail::thread_call*>(link);
  }

  /// The next call, or null once the pool stops and the queue is empty.
  detail::thread_call* next_call() {
    if (detail::thread_call* call = try_take()) return call;
    watch_for_work();
    if (detail::thread_call* call = try_take()) return call;
    std::unique_lock lock(mutex);
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    for (;;) {
      // Counted after the count of sleepers grew (seq_cst): a submit that read it before sees
      // no sleeper, and its call is counted here. A count above 0 with nothing to take is a call
      // another thread is taking, or one behind another submitter's push still half done: let
      // those threads run.
      if (queued(std::memory_order_seq_cst) != 0) {
        if (detail::thread_call* call = try_take()) {
          leave_sleep();
          return call;
        }
        // Not counted as a sleeper meanwhile: a wake-up sent now must go to a thread that waits.
        leave_sleep();
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        continue;
      }
      if (stopping) {
        leave_sleep();
        return nullptr;
      }
      work_ready.wait(lock);
      if (wakeups_sent > 0) --wakeups_sent;
    }
  }
  /// Under `mutex`. A wake-up no waiting thread took (sent while this one was counted but not
  /// yet waiting) is forgotten here, so that it never stands in for one a sleeper needs.
  void leave_sleep() {
    const unsigned left = sleepers.fetch_sub(1, std::memory_order_relaxed) - 1;
    wakeups_sent = std::min(wakeups_sent, left);
  }

  void run_thread(thread_record& record) {
    {
      std::lock_guard lock(mutex);
      ++threads_started;
    }
    thread_started.notify_all();
    std::exception_ptr initializer_error;
    if (options.initializer) {
      try {
        options.initializer();
      } catch (...) {
        initializer_error = std::current_exception();
      }
    }
    while (detail::thread_call* call = next_call()) {
      const std::shared_ptr<void> keep = std::move(call->queued);
      if (!detail::task_engine::start_on_thread(call->task())) {  // cancelled while queued
        call->drop();
        continue;
      }
      if (initializer_error) {
        call->task().fail(initializer_error);
        call->drop();
      } else {
        call->run();
      }
      record.tasks_run.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Spins a moment for the next call: a call submitted one at a time is then taken without the
  // submitter's notify having to wake this thread (two wake-ups, about 10 µs here). Only where a
  // CPU is left for it: the threads awake (this one included) and one submitting thread must fit
  // on the usable CPUs, or the spin takes the CPU of a thread with work, the submitter's first.
  void watch_for_work() {
    const unsigned awake =
        static_cast<unsigned>(records.size()) - sleepers.load(std::memory_order_relaxed);
    if (awake + 1 > cpus) return;
    spinners.fetch_add(1, std::memory_order_seq_cst);
    detail::spinner spinning(idle_spin);
    while (queued(std::memory_order_relaxed) == 0 && spinning.keep_spinning()) {
    }
    if (queued(std::memory_order_relaxed) != 0) spinning.answered();
    spinners.fetch_sub(1, std::memory_order_seq_cst);
  }

  bool on_own_thread() const {
    for (const auto& t : threads)
      if (t.get_id() == std::this_thread::get_id()) return true;
    return false;
  }

  /// Refuses new submissions and waits for those under way to be queued.
  void close() {
    admissions.fetch_or(kClosed, std::memory_order_seq_cst);
    while ((admissions.load(std::memory_order_acquire) & ~kClosed) != 0) std::this_thread::yield();
  }

  void shutdown(shutdown_options how) {
    if (how.kill_running)
      throw std::invalid_argument(
          "forkpool: shutdown({.kill_running = true}) on a thread_pool: a running thread cannot "
          "be stopped; use a process_pool, or shutdown({.cancel_pending = true})");
    close();
    if (how.cancel_pending) {
      while (detail::thread_call* call = try_take()) {
        const std::shared_ptr<void> keep = std::move(call->queued);
        call->task().cancel();
        call->drop();
      }
    }
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    work_ready.notify_all();
    if (!how.wait) return;
    if (on_own_thread())
      throw std::logic_error(
          "forkpool: shutdown({.wait = true}) called from one of the pool's own threads; use "
          "shutdown({.wait = false}) there, or destroy the pool");
    std::call_once(joined, [&] {
      for (auto& t : threads) t.join();
    });
  }
};

thread_pool::thread_pool(pool_options options) : impl_(std::make_unique<impl>()) {
  impl_->options = std::move(options);
  impl_->link->help_spin.reset(detail::spin_time(kIdleSpin));
  unsigned count = impl_->options.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i)
    impl_->records.push_back(std::make_unique<impl::thread_record>());
  for (unsigned i = 0; i < count; ++i)
    impl_->threads.emplace_back(
        [state = impl_.get(), i] { state->run_thread(*state->records[i]); });
  // Return once every thread is up: a process pool created next forks its fork server from a
  // program whose threads are not in the middle of starting (and so of allocating).
  std::unique_lock lock(impl_->mutex);
  impl_->thread_started.wait(lock, [&] { return impl_->threads_started == count; });
}

std::size_t thread_pool::default_window() const noexcept { return 2 * impl_->threads.size(); }

thread_pool::~thread_pool() {
  if (impl_->on_own_thread()) {
    // Destroyed from a task or done callback on one of its threads, which cannot join itself:
    // another thread waits for the pool to finish and frees it.
    impl_->shutdown({.wait = false});
    std::thread([state = std::move(impl_)] { state->shutdown({.wait = true}); }).detach();
    return;
  }
  impl_->shutdown({.wait = true, .cancel_pending = false});
}

void thread_pool::enqueue(detail::thread_call& call) {
  impl& pool = *impl_;
  if (pool.admissions.fetch_add(1, std::memory_order_seq_cst) & impl::kClosed) {
    pool.admissions.fetch_sub(1, std::memory_order_release);
    call.drop();
    call.queued.reset();
    throw pool_shut_down();
  }
  call.task().id = pool.link->submitted.fetch_add(1, std::memory_order_relaxed) + 1;
  pool.push(call);
  pool.admissions.fetch_sub(1, std::memory_order_release);
}

namespace {

/// A call by name: the state comes encoded from new_named_call and runs as in a worker process.
class named_call final : public detail::thread_call {
 public:
  explicit named_call(std::shared_ptr<detail::task_state> task)
      : thread_call(*task), task_(std::move(task)) {}

  void run() noexcept override {
    detail::task_state& task = *task_;
    try {
      detail::byte_buffer result;
      detail::buffer_sink sink(result);
      detail::wire_error failure;
      if (detail::call_task({task.name, detail::frame_kind_of(task.kind), task.argument_signature,
                             task.result_signature, task.arguments},
                            sink, failure)) {
        detail::task_engine::succeed_from(task, std::span<const std::byte>(result));
      } else {
        task.fail(detail::to_exception(failure));
      }
    } catch (...) {
      task.fail(std::current_exception());
    }
  }
  void drop() noexcept override {}

 private:
  std::shared_ptr<detail::task_state> task_;
};

}  // namespace

void thread_pool::run_by_name(const std::shared_ptr<detail::task_state>& task) {
  auto call = std::make_shared<named_call>(task);
  named_call& queued = *call;
  queued.queued = std::move(call);
  enqueue(queued);
}

void thread_pool::shutdown(shutdown_options options) { impl_->shutdown(options); }

pool_stats thread_pool::stats() const {
  pool_stats s;
  const auto& c = *impl_->link;
  s.submitted = c.submitted.load(std::memory_order_relaxed);
  s.completed = c.completed.load(std::memory_order_relaxed);
  s.failed = c.failed.load(std::memory_order_relaxed);
  s.cancelled = c.cancelled.load(std::memory_order_relaxed);
  const std::uint64_t finished = s.completed + s.failed + s.cancelled;
  s.queue_depth = s.submitted > finished ? static_cast<std::size_t>(s.submitted - finished) : 0;
  bool alive;
  {
    std::lock_guard lock(impl_->mutex);
    alive = !impl_->stopping || impl_->queued(std::memory_order_relaxed) != 0;
  }
  if (alive) {
    const std::uint64_t rss = impl_->private_memory();
    for (const auto& r : impl_->records)
      s.per_worker.push_back({static_cast<int>(::getpid()), r->tasks_run.load(), rss, r->started});
  }
  s.workers_alive = s.per_worker.size();
  return s;
}

const std::shared_ptr<detail::pool_link>& thread_pool::link() const noexcept { return impl_->link; }

}  // namespace forkpool
