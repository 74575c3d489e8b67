// Nothing leaks: no process outlives its pool, and none outlives a SIGKILLed master.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>

#include "test_tasks.hpp"

using namespace forkpool;

TEST_SUITE_BEGIN("pool");

namespace {
// Alive: exists and is not a zombie (a dead child waiting for init to reap it holds nothing).
bool process_exists(int pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, name, state;
  if (!(stat >> pid_field >> name >> state)) return false;
  return state != "Z";
}

bool gone_within(int pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_exists(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !process_exists(pid);
}
}  // namespace

TEST_CASE("cleanup: a destroyed pool leaves no worker process" * doctest::timeout(30)) {
  {
    std::vector<int> pids;
    {
      process_pool pool(test_tasks::options(3));
      for (int i = 0; i < 6; ++i) pool.submit(test_tasks::square, i).get();
      test_tasks::wait_for_workers(pool, 3);
      for (const auto& w : pool.stats().per_worker) pids.push_back(w.pid);
    }
    REQUIRE(pids.size() == 3);
    for (int pid : pids) CHECK_FALSE(process_exists(pid));  // reaped, not merely exiting
  }
}

TEST_CASE("cleanup: a SIGKILLed master takes its fork server and workers down" *
          doctest::timeout(30)) {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  const pid_t master = ::fork();
  REQUIRE(master >= 0);
  if (master == 0) {
    // The child is a master: a pool whose workers are busy, then it reports their pids. It dies
    // with the test if the test fails before killing it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(report[0]);
    process_pool pool(test_tasks::options(2));
    auto busy = pool.submit(test_tasks::sleep_ms, 60000);
    pool.submit(test_tasks::square, 1).get();
    test_tasks::wait_for_workers(pool, 2);
    for (const auto& w : pool.stats().per_worker) {
      const int pid = w.pid;
      [[maybe_unused]] auto n = ::write(report[1], &pid, sizeof pid);
    }
    ::pause();
    ::_exit(0);
  }
  ::close(report[1]);
  int pids[2];
  std::size_t got = 0;
  while (got < sizeof pids) {
    const ssize_t n = ::read(report[0], reinterpret_cast<char*>(pids) + got, sizeof pids - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  REQUIRE(got == sizeof pids);
  ::close(report[0]);
  for (int pid : pids) REQUIRE(process_exists(pid));
  ::kill(master, SIGKILL);
  int status;
  REQUIRE(::waitpid(master, &status, 0) == master);
  for (int pid : pids) CHECK(gone_within(pid, std::chrono::seconds(1)));
}

TEST_SUITE_END();
