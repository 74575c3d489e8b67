// An agent: a rank other than 0. It waits for rank 0's mpi_pool to configure it, runs a
// process_pool of its own for that mpi_pool's calls, and shuts it down when told; it leaves
// the program when rank 0 says it is leaving, or stops hearing from rank 0.
#pragma once

#include "forkpool/options.hpp"

namespace forkpool::detail {

/// Serves as an agent until rank 0 leaves. `fixed`, when given, is the pool every mpi_pool gets
/// on this host (forkpool-mpi-agent's command line); otherwise each mpi_pool's options decide.
[[noreturn]] void run_agent(const pool_options* fixed = nullptr);

/// Starts MPI (MPI_THREAD_SERIALIZED, errors returned, not fatal) and warns when this rank is
/// bound to one CPU; returns the rank. forkpool::init must have run.
int start_mpi(int& argc, char**& argv);

}  // namespace forkpool::detail
