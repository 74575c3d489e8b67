// forkpool::mpi::init: MPI starts, ranks other than 0 become agents, rank 0 says goodbye at exit.
#include <mpi.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "agent.hpp"
#include "forkpool/detail/log_line.hpp"
#include "forkpool/init.hpp"
#include "forkpool/mpi.hpp"
#include "mpi_link.hpp"
#include "mpi_messages.hpp"
#include "mpi_state.hpp"

namespace forkpool {
namespace {

constinit std::atomic<int> this_rank{-1};
constinit std::atomic<int> world_size{0};
constinit std::atomic<int> termination{0};
constinit std::atomic<bool> pool_serving{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "read and written in a signal handler");

extern "C" void on_termination(int signal) {
  if (pool_serving.load()) {
    termination.store(signal);
    return;
  }
  ::signal(signal, SIG_DFL);  // nothing to drain: the default action, now
  ::raise(signal);
}

extern "C" void note_termination(int signal) { termination.store(signal); }

// Installs `handler` for SIGTERM and SIGINT where the program left them at their default.
void handle_termination(void (*handler)(int)) {
  for (const int signal : {SIGTERM, SIGINT}) {
    struct sigaction now = {};
    if (::sigaction(signal, nullptr, &now) != 0 || now.sa_handler != SIG_DFL) continue;
    struct sigaction ours = {};
    ours.sa_handler = handler;
    sigemptyset(&ours.sa_mask);
    ours.sa_flags = SA_RESTART;
    ::sigaction(signal, &ours, nullptr);
  }
}

// An exception that escapes rank 0's main ends the whole job at once, rather than leaving the
// agents to notice rank 0's silence after host_timeout.
std::terminate_handler previous_terminate = nullptr;
[[noreturn]] void abort_job() {
  detail::log_line(log_level::error,
                   "forkpool::mpi: rank 0 is terminating (an exception escaped?); aborting the "
                   "MPI job");
  MPI_Abort(MPI_COMM_WORLD, 1);
  if (previous_terminate != nullptr) previous_terminate();
  std::abort();
}

// mpiexec binds each rank to one core by default, and forked workers inherit the mask: a pool
// inside such a rank runs every worker on that core.
void warn_if_bound(int rank) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (CPU_COUNT(&set) == 1 && online > 1)
    detail::log_line(log_level::warning,
                     "forkpool::mpi: rank " + std::to_string(rank) + " is bound to one CPU of " +
                         std::to_string(online) +
                         ": its pool's workers would all share it; launch with "
                         "`mpiexec --bind-to none` (Slurm: `srun --cpu-bind=none`)");
}

// Rank 0, at exit: every agent is told to leave, then MPI ends. After a lost host, MPI_Finalize
// can hang on it: then the process leaves without it.
// Tells every agent not lost to leave (finalizing MPI first, or not), and waits up to `patience`
// for those messages to go; true if they all went (the rest are abandoned).
bool tell_agents_to_leave(bool finalize, std::chrono::seconds patience) {
  detail::mpi_link link;
  const int size = world_size.load();
  for (int rank = 1; rank < size; ++rank)
    if (!detail::mpi_state::rank_lost(rank))
      link.send(rank, detail::mpi_wire::leave, detail::mpi_wire::leave_message(finalize));
  const auto give_up = std::chrono::steady_clock::now() + patience;
  detail::idle_wait idle;
  while (!link.progress() && std::chrono::steady_clock::now() < give_up) idle.sleep();
  if (link.progress()) return true;
  for (int rank = 1; rank < size; ++rank) link.abandon(rank);
  return false;
}

void leave_world() {
  const bool finalize = !detail::mpi_state::any_rank_lost();
  if (tell_agents_to_leave(finalize, std::chrono::seconds(5)) && finalize) MPI_Finalize();
}

}  // namespace

namespace mpi {

void init(int& argc, char**& argv) {
  forkpool::init(argc, argv);  // a spawned worker or a fork server never returns from here
  if (detail::start_mpi(argc, argv) != 0) detail::run_agent();
  std::atexit(leave_world);
  detail::mpi_state::drain_on_termination();
  previous_terminate = std::set_terminate(abort_job);
}

int rank() { return this_rank.load(); }
int size() { return world_size.load(); }

}  // namespace mpi

void detail::mpi_state::drain_on_termination() { handle_termination(on_termination); }
void detail::mpi_state::outlast_termination() { handle_termination(note_termination); }
void detail::mpi_state::set_pool_serving(bool serving) noexcept { pool_serving.store(serving); }
int detail::mpi_state::termination_signal() noexcept { return termination.load(); }

void detail::mpi_state::end_by(int signal) noexcept {
  // The agents leave first (without MPI_Finalize, which only the main thread may call).
  tell_agents_to_leave(false, std::chrono::seconds(1));
  ::signal(signal, SIG_DFL);
  ::raise(signal);
  std::_Exit(128 + signal);
}

int detail::start_mpi(int& argc, char**& argv) {
  int started = 0;
  MPI_Initialized(&started);
  if (started)
    throw std::logic_error("forkpool::mpi::init: MPI is started already (init called twice?)");
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
    throw std::runtime_error("forkpool::mpi::init: MPI_Init_thread failed");
  if (provided < MPI_THREAD_SERIALIZED)
    throw std::runtime_error(
        "forkpool::mpi::init: this MPI does not allow calls from more than one thread "
        "(MPI_THREAD_SERIALIZED)");
  // Errors come back as codes: a send to a rank that died must not end this one.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  this_rank.store(rank);
  world_size.store(size);
  warn_if_bound(rank);
  return rank;
}

}  // namespace forkpool
