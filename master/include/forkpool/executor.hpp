// The executor concept: what process_pool and thread_pool have in common, so that code written
// against one runs on the other.
#pragma once

#include <concepts>

#include "forkpool/options.hpp"

namespace forkpool {

template <class E>
concept executor = requires(E& pool, const E& const_pool, shutdown_options options) {
  { const_pool.stats() } -> std::convertible_to<pool_stats>;  // mpi_pool: cluster_stats
  pool.shutdown(options);
  // submit(fn, args...), submit<R>("name", args...) and map(fn, inputs, options) are templates:
  // both pools provide them with the same meaning.
};

}  // namespace forkpool
