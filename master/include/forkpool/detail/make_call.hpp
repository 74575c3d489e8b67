// Turning a submit() into a queued call: encoding the arguments on the caller's thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

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

/// A call of the task registered as `name`, its arguments encoded as the types they travel as
/// (string literals as std::string): the by-name submit of every executor and the client.
template <class R, class... A>
std::shared_ptr<future_state<R>> new_named_call(const std::shared_ptr<pool_counters>& counters,
                                                std::string_view name, A&&... args) {
  auto state = new_call<R>(counters, std::string(name), frame_kind::call,
                           signature_of<wire_type_t<A>...>(), signature_of<R>());
  std::tuple<wire_type_t<A>...> converted(std::forward<A>(args)...);
  std::apply([&](const auto&... a) { encode_into(state->arguments, a...); }, converted);
  return state;
}

/// map's results: the chunks' results concatenated in order. On the first error, cancels the
/// chunks after it and rethrows.
template <class R, template <class> class Future>
std::vector<R> gather_chunks(std::vector<Future<std::vector<R>>>& chunks) {
  std::vector<R> results;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    try {
      std::vector<R> part = std::move(chunks[i]).get();
      results.insert(results.end(), std::make_move_iterator(part.begin()),
                     std::make_move_iterator(part.end()));
    } catch (...) {
      for (std::size_t j = i + 1; j < chunks.size(); ++j) chunks[j].cancel();
      throw;
    }
  }
  return results;
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
