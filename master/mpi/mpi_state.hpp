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

/// Rank 0 ends on SIGTERM or SIGINT (mpiexec forwards both, then sends SIGKILL a grace later)
/// by draining its pool first, where the program left those signals at their default: while
/// a pool serves, the signal is only noted; without one, the program ends at once, as it would
/// without forkpool.
void drain_on_termination();
/// The pool's thread, while it serves: whether a signal asks the program to end (0: none).
void set_pool_serving(bool serving) noexcept;
int termination_signal() noexcept;
/// Ends the program by `signal`, as its default action would, once the pool has drained.
[[noreturn]] void end_by(int signal) noexcept;

/// Agents: SIGTERM and SIGINT are noted, not obeyed: rank 0 decides when its hosts stop (an
/// agent killed first would fail the calls it holds with host_lost).
void outlast_termination();

}  // namespace forkpool::detail::mpi_state
