// Fresh runs of the program. start_method::spawn: a worker is one; the master forks, keeps the
// channel's descriptors at 3, 4 and 5, and execs /proc/self/exe with a marker argument;
// forkpool::init in the new process's main() sees the marker and runs the worker loop. The fork
// server is one too whenever that run would know every task (see fresh_run_knows_every_task):
// then it does not carry the master's heap into itself and every worker it forks.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "worker_loop.hpp"

namespace forkpool::detail {

/// argv[1] of a spawned worker.
inline constexpr const char* kSpawnMarker = "--forkpool-worker";
/// argv[1] of a fork server started as a fresh run; its socket is descriptor 3.
inline constexpr const char* kForkServerMarker = "--forkpool-fork-server";
/// Set in a spawned worker's environment: a program that skips forkpool::init stops at once
/// instead of running its own main() as a second master.
inline constexpr const char* kSpawnEnvironment = "FORKPOOL_SPAWNED_WORKER";

/// Everything exec needs, prepared before fork (nothing may be allocated between fork and exec).
struct spawn_command {
  std::string executable;
  std::vector<std::string> argument_storage;
  std::vector<std::string> environment_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

/// `marker`: kSpawnMarker or kForkServerMarker. `initializer_task`: the registered name of
/// config.initializer, or empty for none.
/// A spawned worker dies with the thread that starts it (PR_SET_PDEATHSIG), as a forked one does.
spawn_command make_spawn_command(const worker_config& config, const std::string& initializer_task,
                                 const char* marker = kSpawnMarker);

/// Starts the fresh run: `descriptors` become its 3, 4, ... (a worker's channel region and
/// bells; a fork server's socket), everything else this process has open stays here. Uses
/// posix_spawn, which shares the page tables until exec (vfork) instead of copying them as fork
/// does: with a large heap in the master that copy costs milliseconds. Safe with other threads
/// running. Returns the pid, or -1 with `error` set.
pid_t start_fresh_run(const spawn_command& command, const int* descriptors, int count, int& error);

/// If this process is a spawned worker or fork server (argv carries a marker), runs it and never
/// returns. Otherwise notes that this program calls forkpool::init, and how many tasks it had.
void run_spawned_worker_if_requested(int argc, char** argv);

/// True when a fresh run of this program would register every task this process knows: main()
/// called forkpool::init, and no task was registered since (a library loaded with dlopen, as
/// forkpool-master's plugins are, registers its tasks in this process only).
bool fresh_run_knows_every_task() noexcept;

/// True in a process started as a spawned worker.
bool is_spawned_worker() noexcept;

}  // namespace forkpool::detail
