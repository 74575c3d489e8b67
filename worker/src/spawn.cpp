#include "spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "fork_server.hpp"
#include "forkpool/detail/registry.hpp"

extern char** environ;

namespace forkpool::detail {
namespace {

constexpr const char* kSpinOption = "--spin-ns=";
constexpr const char* kInitializerOption = "--initializer=";
constexpr const char* kRssLimitOption = "--rss-limit=";
constexpr const char* kParentOption = "--parent=";

}  // namespace

spawn_command make_spawn_command(const worker_config& config, const std::string& initializer_task,
                                 const char* marker) {
  spawn_command command;
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error("forkpool: cannot find this program (/proc/self/exe)");
  command.executable.assign(path, static_cast<std::size_t>(n));
  command.argument_storage = {command.executable, marker,
                              kSpinOption + std::to_string(config.spin.count()),
                              kRssLimitOption + std::to_string(config.rss_limit)};
  if (!initializer_task.empty())
    command.argument_storage.push_back(kInitializerOption + initializer_task);
  if (std::strcmp(marker, kSpawnMarker) == 0)
    command.argument_storage.push_back(kParentOption + std::to_string(::getpid()));
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    if (std::strncmp(*e, kSpawnEnvironment, std::strlen(kSpawnEnvironment)) != 0)
      command.environment_storage.emplace_back(*e);
  command.environment_storage.push_back(std::string(kSpawnEnvironment) + "=1");
  for (auto& a : command.argument_storage) command.argv.push_back(a.data());
  command.argv.push_back(nullptr);
  for (auto& e : command.environment_storage) command.envp.push_back(e.data());
  command.envp.push_back(nullptr);
  return command;
}

pid_t start_fresh_run(const spawn_command& command, const int* descriptors, int count, int& error) {
  constexpr int kMost = 3;
  if (count > kMost) {
    error = EINVAL;
    return -1;
  }
  // Each moved above every target first, so that no dup2 overwrites a descriptor still to move.
  int above[kMost];
  int moved = 0;
  error = 0;
  for (; moved < count; ++moved) {
    above[moved] = ::fcntl(descriptors[moved], F_DUPFD_CLOEXEC, 3 + count);
    if (above[moved] < 0) {
      error = errno;
      break;
    }
  }
  pid_t pid = -1;
  if (error == 0) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
    for (int i = 0; i < count; ++i) ::posix_spawn_file_actions_adddup2(&actions, above[i], 3 + i);
    ::posix_spawn_file_actions_addclosefrom_np(&actions, 3 + count);
    // Signals this process ignores or blocks (a server's SIGPIPE, a test framework's mask) would
    // stay so across exec.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    ::posix_spawnattr_setsigdefault(&attributes, &all);
    ::posix_spawnattr_setsigmask(&attributes, &none);
    ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    std::fflush(nullptr);  // or the child could write what this process buffered, twice
    error = ::posix_spawn(&pid, command.executable.c_str(), &actions, &attributes,
                          command.argv.data(), command.envp.data());
    if (error != 0) pid = -1;
    ::posix_spawnattr_destroy(&attributes);
    ::posix_spawn_file_actions_destroy(&actions);
  }
  for (int i = 0; i < moved; ++i) ::close(above[i]);
  return pid;
}

bool is_spawned_worker() noexcept { return std::getenv(kSpawnEnvironment) != nullptr; }

bool fresh_run_knows_every_task() noexcept {
  return init_has_run() && tasks_registered_at_init() == registered_task_count();
}

void run_spawned_worker_if_requested(int argc, char** argv) {
  // Recognised: the marker has done its job. Unset, a task may start a pool of its own.
  ::unsetenv(kSpawnEnvironment);
  const bool worker = argc >= 2 && std::strcmp(argv[1], kSpawnMarker) == 0;
  const bool fork_server = argc >= 2 && std::strcmp(argv[1], kForkServerMarker) == 0;
  note_init_ran();
  if (!worker && !fork_server) return;
  worker_config config;
  config.fresh_run = worker;  // a fork server's workers are its forked children
  for (int i = 2; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument.rfind(kSpinOption, 0) == 0) {
      config.spin = std::chrono::nanoseconds(
          std::strtoll(argument.c_str() + std::strlen(kSpinOption), nullptr, 10));
    } else if (argument.rfind(kParentOption, 0) == 0) {
      // Set here, after exec: posix_spawn runs no code of ours in the child before it. The
      // parent may have gone already, before prctl.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != std::atoi(argument.c_str() + std::strlen(kParentOption)))
        ::_exit(worker_exit_setup_failed);
    } else if (argument.rfind(kRssLimitOption, 0) == 0) {
      config.rss_limit =
          std::strtoull(argument.c_str() + std::strlen(kRssLimitOption), nullptr, 10);
    } else if (argument.rfind(kInitializerOption, 0) == 0) {
      const std::string name = argument.substr(std::strlen(kInitializerOption));
      const task_entry* task = find_task(name);
      if (task == nullptr) {
        std::fprintf(stderr, "forkpool: spawned worker: no initializer task '%s'\n", name.c_str());
        ::_exit(worker_exit_setup_failed);
      }
      const auto initializer = reinterpret_cast<void (*)()>(task->function);
      config.initializer = initializer;
    }
  }
  if (fork_server) run_fork_server(unique_fd(3), config);
  run_worker({unique_fd(3), unique_fd(4), unique_fd(5)}, config);
}

}  // namespace forkpool::detail
