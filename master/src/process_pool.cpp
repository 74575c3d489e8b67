#include "forkpool/process_pool.hpp"

#include <thread>
#include <vector>

#include "pool_core.hpp"

namespace forkpool {

process_pool::process_pool(pool_options options)
    : core_(std::make_unique<detail::pool_core>(std::move(options))) {}

process_pool::~process_pool() {
  if (core_ && core_->forked_away()) {
    // A copy of the parent's pool in a child of fork(): its thread does not exist here, and its
    // workers and rings are the parent's. Left as it is, untouched; kept reachable, so leak
    // checkers in the child see no leak.
    static std::vector<detail::pool_core*> left_to_the_parent;
    left_to_the_parent.push_back(core_.release());
    return;
  }
  if (core_ && core_->on_pool_thread()) {
    // Destroyed from one of its own done callbacks: the pool's thread cannot wait for itself, so
    // another thread waits for the pool to finish and frees it, as Asio defers the end of an
    // object destroyed inside its own handler.
    std::thread([core = std::move(core_)]() mutable { core.reset(); }).detach();
  }
}

void process_pool::shutdown(shutdown_options options) { core_->shutdown(options); }

void process_pool::restart_workers() { core_->restart_workers(); }

pool_stats process_pool::stats() const { return core_->stats(); }

const pool_options& process_pool::options() const noexcept { return core_->options(); }

std::size_t process_pool::default_window() const noexcept { return 2 * core_->worker_count(); }

void process_pool::enqueue(std::shared_ptr<detail::task_state> task) {
  core_->enqueue(std::move(task));
}

const std::shared_ptr<detail::pool_link>& process_pool::link() const noexcept {
  return core_->link();
}

}  // namespace forkpool
