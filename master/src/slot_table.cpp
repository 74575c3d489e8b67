#include "slot_table.hpp"

#include <algorithm>

#include "task_engine.hpp"

namespace forkpool::detail {
namespace {

void sort_by_submission(std::vector<slot_table::task_ptr>& calls) {
  std::sort(calls.begin(), calls.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
}

}  // namespace

slot_table::slot_table() {
  free_.reserve(kSlots);
  for (std::uint32_t slot = kSlots; slot-- > 0;) free_.push_back(slot);  // slot 0 first
}

void slot_table::occupy(task_ptr task) {
  tasks_[free_.back()] = std::move(task);
  free_.pop_back();
}

void slot_table::release(std::uint32_t slot) {
  if (bulk_slot_ == static_cast<int>(slot)) bulk_slot_ = -1;
  tasks_[slot].reset();
  running_since_[slot] = {};
  revoked_[slot] = false;
  free_.push_back(slot);
}

std::vector<slot_table::task_ptr> slot_table::revoke_queued() {
  std::vector<task_ptr> taken;
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    if (!tasks_[slot] || !task_engine::try_revoke(*tasks_[slot])) continue;
    revoked_[slot] = true;  // reserved until the worker's skipped reply
    taken.push_back(std::move(tasks_[slot]));
  }
  sort_by_submission(taken);
  return taken;
}

void requeue_first(task_queue& queue, std::vector<slot_table::task_ptr> calls) {
  sort_by_submission(calls);
  queue.push_front(std::move(calls));
}

}  // namespace forkpool::detail
