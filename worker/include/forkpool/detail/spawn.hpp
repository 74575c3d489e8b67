// start_method::spawn: a worker is a fresh run of the program. The master forks, keeps the
// channel's descriptors at 3, 4 and 5, and execs /proc/self/exe with a marker argument;
// forkpool::init in the new process's main() sees the marker and runs the worker loop.
#pragma once

#include <string>
#include <vector>

#include "forkpool/detail/worker_loop.hpp"

namespace forkpool::detail {

/// argv[1] of a spawned worker.
inline constexpr const char* kSpawnMarker = "--forkpool-worker";
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

spawn_command make_spawn_command(const worker_config& config, const std::string& initializer_task);

/// In the forked child, with the channel at descriptors 3, 4, 5: exec the worker. On failure,
/// exits with worker_exit_setup_failed.
[[noreturn]] void exec_worker(const spawn_command& command) noexcept;

/// If this process is a spawned worker (argv carries the marker), runs it and never returns.
void run_spawned_worker_if_requested(int argc, char** argv);

/// True in a process started as a spawned worker.
bool is_spawned_worker() noexcept;

}  // namespace forkpool::detail
