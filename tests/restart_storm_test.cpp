// restart_workers() called every few milliseconds while eight threads keep the pool busy: every
// call still gets its right answer, and afterwards every worker, descriptor and mapping the
// storm made is gone. Runs for FORKPOOL_STORM_SECONDS (default 30) under each start method.
#include <doctest/doctest.h>

#include <unistd.h>
#include "eventually.hpp"
#include "proc_status.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

// Children of this process, and how many of them are zombies (exited, not reaped).
struct children_count {
  std::size_t all = 0;
  std::size_t zombies = 0;
};
children_count children() {
  children_count c;
  const std::string me = std::to_string(::getpid());
  DIR* d = ::opendir("/proc");
  while (const dirent* e = d ? ::readdir(d) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    std::string ppid;
    std::istringstream rest(line.substr(close + 2));
    rest >> state >> ppid;
    if (ppid != me) continue;
    ++c.all;
    c.zombies += state == 'Z';
  }
  if (d) ::closedir(d);
  return c;
}

std::size_t shm_entries() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// Mappings of worker channels in this process.
std::size_t channel_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);)
    n += line.find("forkpool-worker") != std::string::npos;
  return n;
}

std::chrono::seconds storm_length() {
  const char* text = std::getenv("FORKPOOL_STORM_SECONDS");
  return std::chrono::seconds(text ? std::atoi(text) : 30);
}

}  // namespace

TEST_SUITE_BEGIN("pool");

TEST_CASE(
    "pool: a storm of restart_workers while eight threads submit loses nothing and leaks nothing" *
    doctest::timeout(300)) {
  const std::size_t descriptors_before = open_descriptors();
  const std::size_t mappings_before = channel_mappings();
  const std::size_t children_before = children().all;
  const std::size_t shm_before = shm_entries();
  constexpr unsigned kWorkers = 3;
  std::atomic<long> wrong{0}, answered{0}, errors{0};
  std::atomic<std::uint64_t> restarts{0};
  {
    process_pool pool(options(kWorkers));
    const auto until = std::chrono::steady_clock::now() + storm_length();
    std::vector<std::thread> submitters;
    for (int t = 0; t < 8; ++t) {
      submitters.emplace_back([&, t] {
        while (std::chrono::steady_clock::now() < until) {
          std::vector<future<int>> batch;
          for (int i = 0; i < 100; ++i) batch.push_back(pool.submit(square, t * 1000 + i));
          for (int i = 0; i < 100; ++i) {
            try {
              const int r = batch[i].get(std::chrono::seconds(60));
              wrong += r != (t * 1000 + i) * (t * 1000 + i);
              ++answered;
            } catch (...) {
              ++errors;
            }
          }
        }
      });
    }
    std::thread restarter([&] {
      while (std::chrono::steady_clock::now() < until) {
        pool.restart_workers();
        ++restarts;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    // While it rages, the counts stay true: never more alive than the pool has workers.
    std::size_t most_alive = 0;
    std::string at_most;  // the workers seen when the most were alive, for the failure message
    while (std::chrono::steady_clock::now() < until) {
      const pool_stats s = pool.stats();
      if (s.workers_alive > most_alive) {
        most_alive = s.workers_alive;
        at_most = "retiring " + std::to_string(s.workers_retiring) + ", serving pids:";
        for (const auto& w : s.per_worker) at_most += " " + std::to_string(w.pid);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    restarter.join();
    for (auto& t : submitters) t.join();
    MESSAGE("restart requests: " << restarts.load() << ", calls answered: " << answered.load()
                                 << ", workers replaced: " << pool.stats().restarts_requested);
    CHECK_MESSAGE(most_alive <= kWorkers, at_most);
    CHECK(wrong == 0);
    CHECK(errors == 0);
    CHECK(answered > 0);
    CHECK(eventually([&] {
      const pool_stats s = pool.stats();
      return s.workers_alive == kWorkers && s.workers_retiring == 0;
    }));
    // Exited workers are reaped as they go, not at the end.
    CHECK(children().zombies == 0);
    CHECK(pool.submit(square, 12).get() == 144);
  }
  CHECK(eventually([&] { return children().all == children_before; }));
  CHECK(open_descriptors() == descriptors_before);
  CHECK(channel_mappings() == mappings_before);
  CHECK(shm_entries() == shm_before);
}

TEST_SUITE_END();
