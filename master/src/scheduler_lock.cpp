#include "scheduler_lock.hpp"

#include <utility>

namespace forkpool::detail {
namespace {

// The innermost scheduler_lock this thread holds, or null.
thread_local scheduler_lock* held = nullptr;

}  // namespace

scheduler_lock::scheduler_lock(pool_link& link) {
  if (held_here(link)) return;
  lock_ = std::unique_lock(link.scheduler);
  enter();
}

scheduler_lock::scheduler_lock(pool_link& link, std::try_to_lock_t) {
  if (held != nullptr) return;  // never nest scheduler work, even for another pool
  lock_ = std::unique_lock(link.scheduler, std::try_to_lock);
  if (lock_.owns_lock()) enter();
}

bool scheduler_lock::held_here(const pool_link& link) noexcept {
  for (const scheduler_lock* lock = held; lock != nullptr; lock = lock->outer_)
    if (lock->lock_.mutex() == &link.scheduler) return true;
  return false;
}

void scheduler_lock::enter() {
  outer_ = held;
  held = this;
}

scheduler_lock::~scheduler_lock() {
  if (!lock_.owns_lock()) return;
  held = outer_;
  lock_.unlock();
  if (outer_ != nullptr) {  // still inside another pool's work: its release runs them
    for (auto& callback : deferred_) outer_->deferred_.push_back(std::move(callback));
    return;
  }
  // A callback may finish more tasks (it may wait, and help): those run their callbacks at once.
  std::vector<unique_function> callbacks = std::move(deferred_);
  run_done_callbacks(callbacks);
}

bool scheduler_lock::held_by_this_thread() noexcept { return held != nullptr; }

bool scheduler_lock::defer(std::vector<unique_function>& callbacks) {
  if (held == nullptr) return false;
  for (auto& callback : callbacks) held->deferred_.push_back(std::move(callback));
  callbacks.clear();
  return true;
}

}  // namespace forkpool::detail
