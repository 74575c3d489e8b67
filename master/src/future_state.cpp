#include <algorithm>
#include <cstdio>

#include "forkpool/detail/spin.hpp"
#include "forkpool/detail/task_state.hpp"

#include "forkpool/errors.hpp"
#include "parking_lot.hpp"
#include "pool_link.hpp"
#include "scheduler_lock.hpp"
#include "shared_area.hpp"
#include "task_engine.hpp"
#include "worker_channel.hpp"

namespace forkpool::detail {
bool task_state::done() const { return status_.load(std::memory_order_acquire) != status::pending; }

bool task_state::cancelled() const {
  std::lock_guard lock(mutex_);
  return status_ == status::cancelled;
}

bool task_state::running() const {
  std::lock_guard lock(mutex_);
  if (status_ != status::pending) return false;
  if (started_on_thread_) return true;
  if (!channel_) return false;
  // The worker flips the word to running when it starts the call.
  return channel_->slot(slot_).load(std::memory_order_acquire) ==
         slot_word(id, slot_state::running);
}

bool task_state::cancel() {
  std::unique_lock lock(mutex_);
  if (status_ == status::cancelled) return true;
  if (status_ == status::finished || started_on_thread_) return false;
  // In a worker's ring: only a win of the compare-and-swap against the worker's start counts.
  if (channel_ && !channel_->try_cancel(slot_, id)) return false;
  // Decided and marked under one lock: the scheduler must never dispatch it in between.
  complete(lock, status::cancelled, std::make_exception_ptr(cancelled_error()));
  return true;
}

void task_state::help_until_done(std::chrono::steady_clock::time_point deadline) const {
  pool_link& link = *link_;
  if (done()) return;
  const auto left =
      std::max(deadline - std::chrono::steady_clock::now(), std::chrono::nanoseconds(0));
  spinner spinning(link.help_spin, left);
  if (link.helper.load(std::memory_order_relaxed) == nullptr) {
    // A pool this thread cannot help (a thread pool): watch for the result a moment, which
    // saves the two wake-ups of a sleep when a thread of the pool finishes it quickly.
    while (!done() && spinning.keep_spinning()) {
    }
    if (done()) spinning.answered();
    return;
  }
  bool helped = false;
  do {  // at least once, even without a spin budget: the reply may be there already
    if (done()) {
      if (helped) spinning.answered();
      break;
    }
    scheduler_lock lock(link, std::try_to_lock);
    if (!lock.owns_lock()) {
      // Held by the pool's thread, or by this thread (a callback waiting inside pool work).
      if (scheduler_lock::held_by_this_thread()) return;
      continue;
    }
    pool_helper* pool = link.helper.load(std::memory_order_relaxed);
    if (pool == nullptr) return;
    pool->help();
    helped = true;
  } while (spinning.keep_spinning());
  if (!helped) return;
  scheduler_lock lock(link);
  if (pool_helper* pool = link.helper.load(std::memory_order_relaxed)) pool->stop_helping();
}

// SYNC POINT: a sleeper stores sleepers_ then loads status_; complete() stores status_ then
// loads sleepers_. All four are sequentially consistent, so at least one side sees the other's
// store: the sleeper finds the task done, or the finisher finds the sleeper and notifies (after
// taking the spot's mutex, which the sleeper holds from its check until it sleeps).
void task_state::wait() const {
  help_until_done(std::chrono::steady_clock::time_point::max());
  if (done()) return;
  parking_spot& spot = parking_spot_for(this);
  std::unique_lock lock(spot.mutex);
  sleepers_.store(true, std::memory_order_seq_cst);
  spot.woken.wait(lock, [&] { return status_.load(std::memory_order_seq_cst) != status::pending; });
}

bool task_state::wait_until(std::chrono::steady_clock::time_point deadline) const {
  help_until_done(deadline);
  if (done()) return true;
  parking_spot& spot = parking_spot_for(this);
  std::unique_lock lock(spot.mutex);
  sleepers_.store(true, std::memory_order_seq_cst);
  return spot.woken.wait_until(
      lock, deadline, [&] { return status_.load(std::memory_order_seq_cst) != status::pending; });
}

std::exception_ptr task_state::exception() const {
  wait();
  return error_;  // written before the status that done() saw, and never again
}

void task_state::rethrow_if_failed() const {
  if (std::exception_ptr error = exception()) std::rethrow_exception(error);
}

void task_state::add_done_callback(unique_function callback) {
  {
    std::lock_guard lock(mutex_);
    if (status_ == status::pending) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  // Already done: runs here, and what it throws is logged and swallowed, as on every path.
  std::vector<unique_function> now;
  now.push_back(std::move(callback));
  run_done_callbacks(now);
}

bool task_engine::begin_dispatch(task_state& task, std::shared_ptr<master_channel> channel,
                                 std::uint32_t slot) {
  std::lock_guard lock(task.mutex_);
  if (task.status_ != task_state::status::pending) return false;
  task.channel_ = std::move(channel);
  task.slot_ = slot;
  return true;
}

bool task_engine::start_on_thread(task_state& task) {
  std::lock_guard lock(task.mutex_);
  if (task.status_ != task_state::status::pending) return false;
  task.started_on_thread_ = true;
  return true;
}

void task_state::succeed() { finish(status::finished, nullptr); }

bool task_engine::try_revoke(task_state& task) {
  std::lock_guard lock(task.mutex_);
  if (task.status_ != task_state::status::pending || !task.channel_ ||
      !task.channel_->try_cancel(task.slot_, task.id))
    return false;
  task.channel_.reset();
  return true;
}

bool task_engine::take_back_after_loss(task_state& task) {
  std::lock_guard lock(task.mutex_);
  if (task.status_ != task_state::status::pending) return false;
  task.channel_.reset();
  return true;
}

namespace {

void release_unclaimed(const payload_view& encoded) noexcept {
  if (encoded.shared != nullptr) encoded.shared->blocks.clear();
}

}  // namespace

bool task_engine::succeed_from(task_state& task, const payload_view& encoded) {
  try {
    task.store_value(encoded);
  } catch (const std::exception& e) {
    release_unclaimed(encoded);
    task.fail(std::make_exception_ptr(
        protocol_error("the result of task '" + task.name + "' did not decode: " + e.what())));
    return false;
  }
  // Before the caller can see the result: a shared block it drops at once must go back to the
  // worker then, not when this thread lets go of the reply.
  release_unclaimed(encoded);
  task.finish(task_state::status::finished, nullptr);
  return true;
}

void task_state::fail(std::exception_ptr error) { finish(status::finished, std::move(error)); }

void task_state::fail_before_sending(std::exception_ptr error) {
  link_->submitted.fetch_add(1, std::memory_order_relaxed);
  fail(std::move(error));
}

void task_state::finish(status outcome, std::exception_ptr error) {
  std::unique_lock lock(mutex_);
  if (status_ != status::pending) return;  // a cancel won the race; nothing more to say
  complete(lock, outcome, std::move(error));
}

void task_state::complete(std::unique_lock<word_lock>& lock, status outcome,
                          std::exception_ptr error) {
  // Counted before waiters wake, so stats() read after get() includes this task.
  auto& counter = outcome == status::cancelled ? link_->cancelled
                  : error                      ? link_->failed
                                               : link_->completed;
  counter.fetch_add(1, std::memory_order_relaxed);
  // The error first: exception() reads it without the lock once done() sees the status.
  error_ = std::move(error);
  status_.store(outcome, std::memory_order_seq_cst);  // see the SYNC POINT at wait()
  channel_.reset();
  std::vector<unique_function> callbacks;
  callbacks.swap(callbacks_);
  lock.unlock();
  if (sleepers_.load(std::memory_order_seq_cst)) {
    parking_spot& spot = parking_spot_for(this);
    std::lock_guard sleeping(spot.mutex);
    spot.woken.notify_all();
  }
  if (scheduler_lock::defer(callbacks)) return;  // run once the scheduler is released
  run_done_callbacks(callbacks);
}

void run_done_callbacks(std::vector<unique_function>& callbacks) noexcept {
  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "forkpool: a done callback threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "forkpool: a done callback threw\n");
    }
  }
}

}  // namespace forkpool::detail
