// The calls one worker holds, by slot: the task in each slot, the slots taken back that wait for
// the worker to confirm it skipped them, since when each call has run (for timeouts), and which
// call's arguments are in the request bulk area. The master's side only: the worker sees each
// slot's word in the channel (master_channel::slot). Used under the scheduler lock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "forkpool/detail/task_state.hpp"
#include "task_queue.hpp"
#include "worker_channel.hpp"

namespace forkpool::detail {

class slot_table {
 public:
  static constexpr std::uint32_t kSlots = master_channel::kSlots;
  using task_ptr = std::shared_ptr<task_state>;

  slot_table();

  /// Slots not free: holding a call, or taken back and not yet confirmed.
  std::uint32_t occupied() const noexcept {
    return kSlots - static_cast<std::uint32_t>(free_.size());
  }
  bool has_free() const noexcept { return !free_.empty(); }
  /// The slot the next call goes to; only when has_free().
  std::uint32_t next_free() const noexcept { return free_.back(); }
  /// Puts `task` in next_free().
  void occupy(task_ptr task);
  /// The task in `slot`, or null.
  const task_ptr& task(std::uint32_t slot) const noexcept { return tasks_[slot]; }
  const std::array<task_ptr, kSlots>& tasks() const noexcept { return tasks_; }
  /// Taken back (revoke_queued): the worker owes a skipped reply for it.
  bool revoked(std::uint32_t slot) const noexcept { return revoked_[slot]; }
  /// Frees `slot`: its task, its revoked mark, its clock and its hold on the bulk area go.
  void release(std::uint32_t slot);
  /// Takes back every call the worker has not started (task_state::try_revoke), in submission
  /// order. Their slots stay reserved until the worker confirms with a skipped reply.
  std::vector<task_ptr> revoke_queued();
  /// Empties `slot` of its task, for a worker that has gone (nothing is owed any more).
  task_ptr take(std::uint32_t slot) noexcept { return std::move(tasks_[slot]); }

  /// Some call's arguments are in the request bulk area: one call at a time may use it.
  bool bulk_held() const noexcept { return bulk_slot_ >= 0; }
  void hold_bulk(std::uint32_t slot) noexcept { bulk_slot_ = static_cast<int>(slot); }

  /// When the call in `slot` was first seen running; the epoch until then.
  std::chrono::steady_clock::time_point& running_since(std::uint32_t slot) noexcept {
    return running_since_[slot];
  }

 private:
  std::array<task_ptr, kSlots> tasks_;
  std::array<bool, kSlots> revoked_{};
  std::vector<std::uint32_t> free_;
  std::array<std::chrono::steady_clock::time_point, kSlots> running_since_{};
  int bulk_slot_ = -1;
};

/// Puts calls taken back from workers first in line again, in submission order (by id).
void requeue_first(task_queue& queue, std::vector<slot_table::task_ptr> calls);

}  // namespace forkpool::detail
