// More workers than CPUs: short calls keep to as many busy workers as there are CPUs, and calls
// that block still spread over every worker once the busy ones stop answering.
#include <doctest/doctest.h>
#include <sched.h>
#include <stdlib.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "forkpool/detail/spin.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

// Confines this thread (and so the pool it starts) to at most two of its CPUs, so that the case
// needs few workers on a large machine; restores the mask when the case ends.
class at_most_two_cpus {
 public:
  at_most_two_cpus() {
    REQUIRE(::sched_getaffinity(0, sizeof saved_, &saved_) == 0);
    cpu_set_t two;
    CPU_ZERO(&two);
    for (int cpu = 0, kept = 0; cpu < CPU_SETSIZE && kept < 2; ++cpu)
      if (CPU_ISSET(cpu, &saved_)) {
        CPU_SET(cpu, &two);
        ++kept;
      }
    REQUIRE(::sched_setaffinity(0, sizeof two, &two) == 0);
  }
  ~at_most_two_cpus() { ::sched_setaffinity(0, sizeof saved_, &saved_); }
  at_most_two_cpus(const at_most_two_cpus&) = delete;
  at_most_two_cpus& operator=(const at_most_two_cpus&) = delete;

 private:
  cpu_set_t saved_;
};

// Sets FORKPOOL_SPREAD_AFTER_US for the pools this case starts; unsets it when the case ends.
class spread_after {
 public:
  explicit spread_after(const char* microseconds) {
    ::setenv("FORKPOOL_SPREAD_AFTER_US", microseconds, 1);
  }
  ~spread_after() { ::unsetenv("FORKPOOL_SPREAD_AFTER_US"); }
  spread_after(const spread_after&) = delete;
  spread_after& operator=(const spread_after&) = delete;
};

}  // namespace

TEST_SUITE_BEGIN("pool");

TEST_CASE(
    "pool: short calls on more workers than CPUs run on no more workers than the CPUs while "
    "those keep answering") {
  const at_most_two_cpus confined;
  // An hour: however slow this machine is, no busy worker counts as stalled.
  const spread_after never("3600000000");
  const unsigned cpus = detail::usable_cpus();
  const unsigned workers = cpus + 4;
  process_pool pool(options(workers));
  wait_for_workers(pool, workers);
  std::vector<future<int>> calls;
  for (int i = 0; i < 3000; ++i) calls.push_back(pool.submit(pid_of_worker));
  std::set<int> pids;
  for (auto& call : calls) pids.insert(call.get());
  CAPTURE(cpus);
  CHECK(pids.size() <= cpus);
  // Every worker is still there to be used: the pool did not shrink.
  CHECK(pool.stats().workers_alive == workers);
}

TEST_CASE("pool: calls that block on more workers than CPUs still spread over every worker") {
  const at_most_two_cpus confined;
  const unsigned cpus = detail::usable_cpus();
  const int workers = static_cast<int>(cpus) + 4;
  const std::string path = "/tmp/forkpool-test-peers-" + std::to_string(::getpid());
  std::remove(path.c_str());
  process_pool pool(options(static_cast<unsigned>(workers)));
  // Each call waits until all of them run at once: they can only finish if every worker took
  // one, although the first ones to run stay busy and the rest queue behind them at first.
  std::vector<future<int>> calls;
  for (int i = 0; i < workers; ++i) calls.push_back(pool.submit(waits_for_peers, path, workers));
  std::vector<int> seen;
  for (auto& call : calls) seen.push_back(call.get());
  std::remove(path.c_str());
  CHECK(seen == std::vector<int>(static_cast<std::size_t>(workers), workers));
}

TEST_SUITE_END();
