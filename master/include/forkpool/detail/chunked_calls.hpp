// The chunks of a pool's map / imap / imap_unordered: `inputs` read lazily, each chunk one call
// (call_kind::map_chunk), handed to the pool by `enqueue`. Shared by process_pool and mpi_pool.
#pragma once

#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/make_call.hpp"
#include "forkpool/detail/windowed_chunks.hpp"
#include "forkpool/future.hpp"
#include "forkpool/options.hpp"

namespace forkpool::detail {

template <class F, class Range, class Enqueue>
auto chunked_calls(const std::shared_ptr<pool_link>& link, Enqueue enqueue, F fn, Range&& inputs,
                   const map_options& options, std::size_t window, result_order order) {
  using traits = function_traits<task_pointer_t<F>>;
  using R = typename traits::result;
  using arguments = typename traits::arguments;
  static_assert(!std::is_void_v<R>, "map needs a task that returns a value");
  [[maybe_unused]] constexpr bool sendable = require_sendable_task<traits>();
  if constexpr (traits::arity == 1)
    static_assert(!drops_fraction<arguments, std::ranges::range_reference_t<Range>>::value,
                  "map: floating-point inputs for an integer parameter would lose their fraction; "
                  "convert them explicitly if that is what you mean");
  check_map_options(options, "map");
  const task_entry& entry = registered_task(+fn);
  using item = chunk_item_t<traits>;
  // Through the arguments tuple either way, so an input converts as it would in a call.
  auto to_item = [](auto&& input) -> item {
    if constexpr (std::is_same_v<item, arguments>)
      return arguments(std::forward<decltype(input)>(input));
    else
      return std::get<0>(arguments(std::forward<decltype(input)>(input)));
  };
  // A chunk of numbers comes as a span of the caller's inputs, other chunks as a vector of items;
  // map's chunks of numbers also say where in its output their results go.
  auto submit_chunk = [link, enqueue = std::move(enqueue), name = &entry.name](
                          const auto& chunk, auto... output_slice) {
    auto state = new_chunk_call<traits>(link, *name, chunk);
    if constexpr (sizeof...(output_slice) == 1) state->decode_into(std::move(output_slice)...);
    if (!state->done()) enqueue(state);
    return future<std::vector<R>>(std::move(state));
  };
  return make_windowed_chunks<R>(std::forward<Range>(inputs), std::move(to_item),
                                 std::move(submit_chunk), options, window, order);
}

}  // namespace forkpool::detail
