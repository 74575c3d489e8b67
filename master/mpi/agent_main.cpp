// forkpool-mpi-agent: an agent for a farm of plugins, beside a client program that calls by name.
//
//   mpiexec -n 1 ./client : -n 2 forkpool-mpi-agent --tasks ./libtasks.so --workers 4
//
// It takes forkpool-master's command line for its pool (--tasks, --workers, the limits and
// timeouts); the client's mpi_pool then decides only heartbeats and credits. The pool is made
// before MPI starts: its fork server is then forked from a process with one thread (Open MPI
// starts threads of its own), as forkpool-master's is.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <thread>

#include "agent.hpp"
#include "command_line.hpp"
#include "forkpool/init.hpp"
#include "forkpool/log.hpp"
#include "forkpool/process_pool.hpp"
#include "plugins.hpp"

namespace {
// Destroyed at exit (the agent leaves through exit()): its workers are stopped and waited for.
std::optional<forkpool::process_pool> farm_pool;
}  // namespace

int main(int argc, char** argv) {
  forkpool::init(argc, argv);  // a worker or the fork server never returns from here
  try {
    const forkpool::daemon::command_line options = forkpool::daemon::parse_command_line(argc, argv);
    forkpool::set_log_level(options.log);
    forkpool::daemon::load_task_libraries(options.task_libraries);
    forkpool::pool_options pool;
    pool.workers = options.workers;
    pool.max_tasks_per_worker = options.max_tasks_per_worker;
    pool.max_worker_rss_bytes = options.max_worker_rss_bytes;
    pool.task_timeout = options.task_timeout;
    pool.max_retries = options.max_retries;
    farm_pool.emplace(pool);
    const unsigned workers =
        pool.workers != 0 ? pool.workers : std::max(std::thread::hardware_concurrency(), 1u);
    if (forkpool::detail::start_mpi(argc, argv) == 0) {
      std::fprintf(stderr,
                   "forkpool-mpi-agent: this is rank 0, where the client program belongs: "
                   "mpiexec -n 1 ./client : -n H forkpool-mpi-agent ...\n");
      return 2;
    }
    forkpool::detail::run_agent(&*farm_pool, workers);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "forkpool-mpi-agent: %s\n", e.what());
    return 2;
  }
}
