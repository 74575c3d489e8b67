// For forkpool's own tests only: faults the real mpi_pool cannot be made to show otherwise.
#pragma once

#include <atomic>

namespace forkpool::detail::mpi_testing {

/// Set: the next call rank 0 sends is cut to half its bytes, as a corrupt message would arrive.
extern std::atomic<bool> corrupt_next_call;
/// Set: the next call rank 0 sends is padded past what its agent takes (largest_message).
extern std::atomic<bool> oversize_next_call;

}  // namespace forkpool::detail::mpi_testing
