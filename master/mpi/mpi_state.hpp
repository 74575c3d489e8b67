// What rank 0 remembers across mpi_pools: which ranks are lost (never to be sent to again), and
// whether a pool exists (one at a time).
#pragma once

namespace forkpool::detail::mpi_state {

void mark_lost(int rank);
bool rank_lost(int rank);
bool any_rank_lost();
/// False if a pool exists already.
bool claim_pool();
void release_pool();

}  // namespace forkpool::detail::mpi_state
