// The pools' side of a task: what the scheduler, the supervisor, the thread pool and the client
// do to a task_state besides what its future does. Kept out of task_state.hpp, which every user
// translation unit includes; task_state lets this class in as a friend.
#pragma once

#include <cstdint>
#include <memory>

#include "forkpool/detail/archive.hpp"
#include "forkpool/detail/frame.hpp"
#include "forkpool/detail/task_state.hpp"

namespace forkpool::detail {

class master_channel;

class task_engine {
 public:
  /// About to place the call in `channel` at `slot` (whose word already says queued). False if
  /// the task was cancelled meanwhile.
  static bool begin_dispatch(task_state& task, std::shared_ptr<master_channel> channel,
                             std::uint32_t slot);
  /// Takes the call back from its worker if the worker has not started it (to move it to another
  /// worker). Under the task's lock, so a concurrent cancel() sees either state, never half.
  static bool try_revoke(task_state& task);
  /// Its worker died while running the call: the call becomes not started again, to be sent
  /// anew (a retry). False if it has finished or was cancelled meanwhile.
  static bool take_back_after_loss(task_state& task);
  /// A thread of a thread_pool starts the task. False if it was cancelled first.
  static bool start_on_thread(task_state& task);
  /// Finishes with the encoded result; a result that does not decode fails with protocol_error
  /// (and false is returned).
  static bool succeed_from(task_state& task, const payload_view& encoded);
};

/// The frame a call of this kind travels in.
constexpr frame_kind frame_kind_of(call_kind kind) noexcept {
  return kind == call_kind::map_chunk ? frame_kind::call_chunk : frame_kind::call;
}

}  // namespace forkpool::detail
