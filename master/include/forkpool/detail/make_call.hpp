// Turning a submit() into a queued call: encoding the arguments on the caller's thread.
#pragma once

#include <memory>
#include <string>
#include <tuple>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/task_state.hpp"
#include "forkpool/detail/task_traits.hpp"
#include "forkpool/errors.hpp"

namespace forkpool::detail {

template <class R>
std::shared_ptr<future_state<R>> new_call(const std::shared_ptr<pool_counters>& counters,
                                          std::string name, frame_kind kind,
                                          std::uint64_t argument_signature,
                                          std::uint64_t result_signature) {
  auto state = std::make_shared<future_state<R>>(counters);
  state->name = std::move(name);
  state->kind = kind;
  state->argument_signature = argument_signature;
  state->result_signature = result_signature;
  return state;
}

/// The registry entry of a task function, or throws unknown_task.
template <class Pointer>
const task_entry& registered_task(Pointer fn) {
  const task_entry* entry = find_task(reinterpret_cast<erased_function>(fn));
  if (entry == nullptr)
    throw unknown_task("this function is not registered as a task: add FORKPOOL_TASK(fn) at "
                       "namespace scope");
  return *entry;
}

}  // namespace forkpool::detail
