// Supervision: starting workers, noticing their exits, retiring and replacing them.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "forkpool/errors.hpp"
#include "pool_core.hpp"

namespace forkpool::detail {

void pool_core::launch_worker() {
  auto worker = std::make_unique<worker_record>();
  worker->id = next_worker_id_++;
  worker->channel = worker_channel::create(options_.ring_bytes);
  worker->bell = std::make_unique<boost::asio::posix::stream_descriptor>(
      io_, ::dup(worker->channel->master_bell().fd()));
  for (std::uint32_t slot = worker_channel::kSlots; slot-- > 0;) worker->free_slots.push_back(slot);
  worker_record& w = *worker;
  {
    std::lock_guard lock(stats_mutex_);
    workers_.push_back(std::move(worker));
  }
  launcher_->launch(w.id, *w.channel);
  if (w.channel->responses_in().prepare_sleep()) {
    watch_bell(w);
  } else {
    drain_replies(w);
  }
  dispatch();  // calls can wait in its ring while it starts
}

worker_record* pool_core::find_worker(pid_t pid) {
  for (auto& worker : workers_)
    if (worker->pid == pid) return worker.get();
  return nullptr;
}

void pool_core::on_spawned(std::uint64_t worker_id, pid_t pid) {
  for (auto& worker : workers_) {
    if (worker->id != worker_id) continue;
    std::lock_guard lock(stats_mutex_);
    worker->pid = pid;
    worker->started = std::chrono::system_clock::now();
    return;
  }
}

void pool_core::replenish() {
  if (stopped_ || launcher_lost_ || spawn_backoff_) return;
  if (draining_ && pending_.empty()) return;
  auto serving = static_cast<unsigned>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) {
    return w->state == worker_record::phase::running;
  }));
  for (; serving < worker_count_; ++serving) launch_worker();
}

void pool_core::on_spawn_failed(std::uint64_t worker_id, int /*error*/) {
  // Forking failed (out of processes or memory): try again shortly rather than in a hot loop.
  spawn_backoff_ = true;
  for (auto& worker : workers_) {
    if (worker->id != worker_id) continue;
    worker->state = worker_record::phase::retiring;  // never ran: not a crash
    bury(*worker, 0);
    break;
  }
  retry_timer_ = std::make_unique<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
  retry_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    spawn_backoff_ = false;
    replenish();
    dispatch();
  });
}

void pool_core::on_exited(pid_t pid, int wait_status) {
  if (worker_record* worker = find_worker(pid)) bury(*worker, wait_status);
}

void pool_core::on_launcher_lost() {
  // Its workers die with it (PR_SET_PDEATHSIG); no one is left to report their exit status.
  launcher_lost_ = true;
  std::vector<worker_record*> orphans;
  for (auto& worker : workers_) orphans.push_back(worker.get());
  for (worker_record* worker : orphans) bury(*worker, SIGKILL);
  if (stopped_) return;
  // Replaced from a fresh handler: the old launcher is still on the stack here.
  boost::asio::post(io_, [this] {
    if (stopped_) return;
    launcher_ = make_launcher(options_.start, io_, worker_config_, *this);
    launcher_lost_ = false;
    replenish();
    dispatch();
  });
}

void pool_core::retire(worker_record& worker, restart_reason reason) {
  if (worker.state != worker_record::phase::running) return;
  worker.state = worker_record::phase::retiring;
  worker.retire_reason = reason;
  count_restart(reason);
  revoke_queued(worker);  // the replacement runs them
  send_stop(worker);
  replenish();
}

void pool_core::send_stop(worker_record& worker) {
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
}

void pool_core::check_limits(worker_record& worker) {
  if (worker.stop_pending) send_stop(worker);
  if (worker.state != worker_record::phase::running) return;
  if (options_.max_tasks_per_worker != 0 &&
      worker.tasks_run.load(std::memory_order_relaxed) >= options_.max_tasks_per_worker) {
    retire(worker, restart_reason::task_count);
  } else if (options_.max_worker_rss_bytes != 0 &&
             worker.rss_bytes.load(std::memory_order_relaxed) > options_.max_worker_rss_bytes) {
    retire(worker, restart_reason::memory);
  }
}

void pool_core::bury(worker_record& worker, int wait_status) {
  // Replies it published before dying still count.
  if (worker.fault.empty()) drain_ring(worker);
  // Retired workers were replaced when they were retired; anything else is a crash. Counted
  // before the futures fail, so stats() read after get() includes it.
  const bool expected = worker.state == worker_record::phase::retiring && worker.fault.empty();
  if (!expected && !stopped_) count_restart(restart_reason::crash);
  worker.state = worker_record::phase::exited;
  boost::system::error_code ignored;
  worker.bell->close(ignored);

  std::vector<std::shared_ptr<task_state>> requeue;
  for (std::uint32_t slot = 0; slot < worker_channel::kSlots; ++slot) {
    std::shared_ptr<task_state> task = std::move(worker.slots[slot]);
    if (!task) continue;
    if (task->try_revoke()) {  // never started: it runs elsewhere
      requeue.push_back(std::move(task));
    } else if (!task->done()) {  // it was running
      task->fail(worker.fault.empty()
                     ? std::make_exception_ptr(worker_died(worker.pid, wait_status))
                     : std::make_exception_ptr(protocol_error(
                           "worker " + std::to_string(worker.pid) + " broke the protocol (" +
                           worker.fault + ") and was replaced")));
    }
  }
  std::sort(requeue.begin(), requeue.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
  pending_.insert(pending_.begin(), requeue.begin(), requeue.end());

  {
    std::lock_guard lock(stats_mutex_);
    workers_.erase(std::find_if(workers_.begin(), workers_.end(),
                                [&](const auto& w) { return w.get() == &worker; }));
  }
  replenish();
  dispatch();
}

}  // namespace forkpool::detail
