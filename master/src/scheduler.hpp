// Scheduling: the calls waiting for a worker go to the least-loaded one that has room, among no
// more busy workers than the CPUs while those keep answering (see idle_worker_may_take_calls);
// replies are read from the workers' rings, checked against the slot they answer and turned into
// results. Runs with the scheduler lock, on the pool's thread or on a thread that waits for a
// task (pool_helper); what only the pool's thread may do it hands to the supervisor there.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "forkpool/detail/task_state.hpp"
#include "shared_area.hpp"
#include "task_queue.hpp"
#include "worker_record.hpp"

namespace forkpool::detail {

class pool_core;

class scheduler {
 public:
  explicit scheduler(pool_core& pool);

  /// The calls waiting for a worker, oldest first (calls a worker lost go back to the front).
  task_queue& pending() noexcept { return pending_; }
  /// Sends what waits to the workers that have room, then publishes every ring written.
  void dispatch();
  /// Watches the worker's bell on the pool's thread: it rings when a reply arrives for a
  /// sleeping reader.
  void watch_bell(worker_record& worker);
  /// Reads every reply the worker has published, then sleeps on its bell; a worker whose replies
  /// cannot be trusted is killed (its exit completes the rest).
  void drain_replies(worker_record& worker);
  /// Reads the replies published so far. False, with worker.fault set, on one that breaks the
  /// protocol.
  bool drain_ring(worker_record& worker);
  /// Takes back the calls the worker has not started, to the front of the queue.
  std::uint32_t revoke_queued(worker_record& worker);
  /// pool_helper: a waiting thread reads replies and sends calls itself.
  void help();
  void stop_helping();
  /// The pool is stopping: no more looks after the spread delay.
  void cancel_timers() { spread_timer_.cancel(); }
  /// pool_stats::result_bytes_read_in_place.
  std::uint64_t lent_bytes_read() const noexcept {
    return lent_bytes_read_.load(std::memory_order_relaxed);
  }

 private:
  bool send_call(worker_record& worker, const std::shared_ptr<task_state>& task);
  /// The call does not fit a ring: its arguments go through the worker's request bulk area.
  bool needs_bulk(const task_state& task) const;
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
  void spread_from_stalled_workers();
  bool idle_worker_may_take_calls();
  /// Counted among holders_: not exited, holding calls (a retiring worker's count too).
  static bool holds_calls(const worker_record& worker);
  /// Updates the worker's progress as seen now.
  bool stalled(worker_record& worker, std::chrono::steady_clock::time_point now);
  /// A call waits while an idle worker may not take it: look again once a busy worker could have
  /// stalled, even if no reply comes to trigger a dispatch.
  void look_again_after_spread_delay();

  pool_core& pool_;
  const std::uint32_t depth_;        ///< calls a worker may hold at once
  const std::size_t ring_capacity_;  ///< bytes of each ring, as the channels round them
  const unsigned cpus_;              ///< usable_cpus() when the pool started
  /// At the last dispatch, this thread and the workers holding calls outnumbered the CPUs.
  bool crowded_ = false;
  /// A busy worker that has not answered for this long holds a long or blocking call: from then
  /// on calls spread to every worker (FORKPOOL_SPREAD_AFTER_US).
  const std::chrono::steady_clock::duration spread_after_;
  /// Whether the workers were last asked not to spin (crowded_ as last applied to every ring).
  bool crowded_told_ = false;
  // Scratch of dispatch(), kept to reuse their memory: the workers that can take a call, those
  // holding calls (what idle_worker_may_take_calls weighs; stale once dispatch returns), and
  // those whose rings it wrote (marked worker_record::written until published).
  std::vector<worker_record*> candidates_;
  std::vector<worker_record*> holders_;
  std::vector<worker_record*> written_;
  // What idle_worker_may_take_calls found in this dispatch (valid while gate_known_).
  bool gate_known_ = false;
  bool gate_open_ = false;  ///< a busy worker has stalled
  unsigned busy_ = 0;       ///< workers holding calls
  boost::asio::steady_timer spread_timer_;
  bool spread_timer_armed_ = false;
  task_queue pending_;
  bool finish_posted_ = false;                     ///< a helper asked for finish_shutdown()
  std::atomic<std::uint64_t> lent_bytes_read_{0};  ///< pool_stats::result_bytes_read_in_place
};

}  // namespace forkpool::detail
