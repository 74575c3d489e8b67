// An agent: a rank other than 0. It waits for rank 0's mpi_pool to configure it, runs a
// process_pool of its own for that mpi_pool's calls, and shuts it down when told; it leaves
// the program when rank 0 says it is leaving, or stops hearing from rank 0.
#pragma once

namespace forkpool::detail {

[[noreturn]] void run_agent();

}  // namespace forkpool::detail
