// Exits 0 only if a task really ran in a worker process and came back right.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <forkpool/forkpool.hpp>

int twice_and_pid(int x) { return x * 2 + (::getpid() == 0 ? 1 : 0); }
FORKPOOL_TASK(twice_and_pid);

int pid_here() { return static_cast<int>(::getpid()); }
FORKPOOL_TASK(pid_here);

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  forkpool::process_pool pool({.workers = 2});
  const int doubled = pool.submit(twice_and_pid, 21).get();
  const int worker = pool.submit(pid_here).get();
  std::printf("consumer: 21 * 2 = %d, computed by pid %d (master %d)\n", doubled, worker,
              static_cast<int>(::getpid()));
  // Found by find_package, the package's version must be the headers' (empty: add_subdirectory).
  const bool same_version =
      PACKAGE_VERSION[0] == '\0' || std::strcmp(PACKAGE_VERSION, FORKPOOL_VERSION_STRING) == 0;
  std::printf("consumer: forkpool %s (package %s)\n", FORKPOOL_VERSION_STRING, PACKAGE_VERSION);
  return doubled == 42 && worker != ::getpid() && same_version ? 0 : 1;
}
