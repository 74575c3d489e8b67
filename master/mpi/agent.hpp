// An agent: a rank other than 0. It waits for rank 0's mpi_pool to configure it, runs a
// process_pool of its own for that mpi_pool's calls, and shuts it down when told; it leaves
// the program when rank 0 says it is leaving, or stops hearing from rank 0.
#pragma once

namespace forkpool {
class process_pool;
}

namespace forkpool::detail {

/// Serves as an agent until rank 0 leaves. With `fixed` (forkpool-mpi-agent, which makes its
/// pool before MPI starts, from its command line), every mpi_pool is served by that pool, of
/// `fixed_workers` workers; otherwise each mpi_pool's options make a pool on this host.
[[noreturn]] void run_agent(process_pool* fixed = nullptr, unsigned fixed_workers = 0);

/// Starts MPI (MPI_THREAD_SERIALIZED, errors returned, not fatal) and warns when this rank is
/// bound to one CPU; returns the rank. forkpool::init must have run.
int start_mpi(int& argc, char**& argv);

}  // namespace forkpool::detail
