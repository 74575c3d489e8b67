#include "forkpool/thread_pool.hpp"

#include "forkpool/event_loop.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

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
  struct queued {
    std::shared_ptr<detail::task_state> task;
    detail::unique_function run;
  };
  struct thread_record {
    std::atomic<std::uint64_t> tasks_run{0};
    std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  };

  pool_options options;
  std::shared_ptr<detail::pool_link> link = std::make_shared<detail::pool_link>();
  std::mutex mutex;
  std::condition_variable work_ready;
  std::deque<queued> queue;
  /// queue.size(), written under `mutex`: what an idle thread watches while it spins.
  std::atomic<std::size_t> queued_calls{0};
  unsigned sleepers = 0;  ///< threads in work_ready.wait (under `mutex`): a submit wakes one
  /// How long an idle thread watches for the next call before it sleeps on work_ready.
  detail::adaptive_spin idle_spin{detail::spin_time(kIdleSpin)};
  bool closed = false;    ///< no more submissions
  bool stopping = false;  ///< threads exit once the queue is empty
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
    for (;;) {
      queued item;
      {
        std::unique_lock lock(mutex);
        if (queue.empty() && !stopping) {
          lock.unlock();
          watch_for_work();
          lock.lock();
        }
        ++sleepers;
        work_ready.wait(lock, [&] { return !queue.empty() || stopping; });
        --sleepers;
        if (queue.empty()) return;
        item = std::move(queue.front());
        queue.pop_front();
        queued_calls.store(queue.size(), std::memory_order_relaxed);
      }
      if (!detail::task_engine::start_on_thread(*item.task)) continue;  // cancelled while queued
      if (initializer_error) {
        item.task->fail(initializer_error);
      } else {
        item.run();
      }
      record.tasks_run.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Spins a moment for the next call: a call submitted one at a time is then taken without the
  // submitter's notify having to wake this thread (two wake-ups, about 10 µs here).
  void watch_for_work() {
    detail::spinner spinning(idle_spin);
    while (queued_calls.load(std::memory_order_relaxed) == 0 && spinning.keep_spinning()) {
    }
    if (queued_calls.load(std::memory_order_relaxed) != 0) spinning.answered();
  }

  bool on_own_thread() const {
    for (const auto& t : threads)
      if (t.get_id() == std::this_thread::get_id()) return true;
    return false;
  }

  void shutdown(shutdown_options how) {
    if (how.kill_running)
      throw std::invalid_argument(
          "forkpool: shutdown({.kill_running = true}) on a thread_pool: a running thread cannot "
          "be stopped; use a process_pool, or shutdown({.cancel_pending = true})");
    std::deque<queued> cancelled;
    {
      std::lock_guard lock(mutex);
      closed = true;
      stopping = true;
      if (how.cancel_pending) {
        cancelled.swap(queue);
        queued_calls.store(0, std::memory_order_relaxed);
      }
    }
    work_ready.notify_all();
    for (auto& item : cancelled) item.task->cancel();
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

void thread_pool::enqueue(std::shared_ptr<detail::task_state> task, detail::unique_function run) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->closed) throw pool_shut_down();
    task->id = impl_->link->submitted.fetch_add(1, std::memory_order_relaxed) + 1;
    impl_->queue.push_back({std::move(task), std::move(run)});
    impl_->queued_calls.store(impl_->queue.size(), std::memory_order_relaxed);
    // A thread that spins sees the call without a notify; one that sleeps needs it.
    if (impl_->sleepers == 0) return;
  }
  impl_->work_ready.notify_one();
}

void thread_pool::run_by_name(const std::shared_ptr<detail::task_state>& task) {
  enqueue(task, [task] {
    detail::byte_buffer result;
    detail::buffer_sink sink(result);
    detail::wire_error failure;
    if (detail::call_task({task->name, detail::frame_kind_of(task->kind), task->argument_signature,
                           task->result_signature, task->arguments},
                          sink, failure)) {
      detail::task_engine::succeed_from(*task, std::span<const std::byte>(result));
    } else {
      task->fail(detail::to_exception(failure));
    }
  });
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
    alive = !impl_->stopping || !impl_->queue.empty();
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
