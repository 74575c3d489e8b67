// mpi_workloads: forkpool's mpi_pool on the workloads bench/peers/mpi4py_futures.py runs through
// mpi4py.futures, for bench/mpi_compare. Run under mpiexec (rank 0 measures; the others are
// agents); prints one JSON line.
//
//   mpiexec -n 3 --bind-to none ./mpi_workloads [--workers 1] [--roundtrips 2000]
//       [--burst 20000] [--map 200000] [--big-mib 64]
//   mpiexec -n 3 --bind-to none --enable-recovery ./mpi_workloads --lose-host 1
//       (only: how long until a SIGKILLed host's call fails with host_lost)
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "forkpool/mpi.hpp"

namespace {

int noop(int x) { return x; }
int twice(int x) { return 2 * x; }
int naps(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
std::string bytes_of(int mib) { return std::string(static_cast<std::size_t>(mib) << 20, 'x'); }
long long size_of(std::string s) { return static_cast<long long>(s.size()); }

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// CPU time all of a process's threads have used, in seconds: the scheduler's exact count
// (/proc/PID/task/TID/schedstat, nanoseconds), not 10 ms clock ticks.
double cpu_seconds(int pid) {
  double total = 0;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream stat(task.path() / "schedstat");
    long long on_cpu = 0;
    if (stat >> on_cpu) total += static_cast<double>(on_cpu) / 1e9;
  }
  return total;
}

struct options {
  unsigned workers = 1;
  int roundtrips = 2000;
  int burst = 20000;
  int map_items = 200000;
  int big_mib = 64;
  int idle_seconds = 2;
  bool lose_host = false;
};

double burst_per_s(forkpool::mpi_pool& pool, int burst, long long& sum) {
  const auto start = clock_type::now();
  std::vector<forkpool::future<int>> calls;
  calls.reserve(static_cast<std::size_t>(burst));
  for (int i = 0; i < burst; ++i) calls.push_back(pool.submit(noop, i));
  sum = 0;
  for (auto& call : calls) sum += call.get();
  return burst / seconds_since(start);
}

// A host is killed while it runs a call: how long until that call fails with host_lost.
int measure_lost_host(unsigned workers) {
  forkpool::mpi_pool pool({.workers_per_host = workers,
                           .credits_per_host = 1,
                           .heartbeat = std::chrono::milliseconds(100),
                           .host_timeout = std::chrono::milliseconds(1000)});
  const forkpool::cluster_stats s = pool.stats();
  std::vector<forkpool::future<int>> calls;
  for (std::size_t i = 0; i < s.hosts.size(); ++i) calls.push_back(pool.submit(naps, 3000));
  while (pool.stats().hosts.back().stats.submitted == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto killed = clock_type::now();
  ::kill(s.hosts.back().pid, SIGKILL);
  // The first call to fail is the victim's; the others run on for their 3 s.
  double noticed_ms = -1;
  while (noticed_ms < 0 && seconds_since(killed) < 10) {
    for (auto& call : calls)
      if (call.done() && call.exception() != nullptr) noticed_ms = seconds_since(killed) * 1e3;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf(
      "{\"bench\":\"mpi_workloads\",\"host_timeout_ms\":1000,\"heartbeat_ms\":100,"
      "\"lost_host_noticed_ms\":%.1f,\"right\":%s}\n",
      noticed_ms, noticed_ms > 0 ? "true" : "false");
  std::fflush(stdout);
  std::_Exit(noticed_ms > 0 ? 0 : 1);  // a rank is gone: MPI cannot end cleanly
}

}  // namespace

FORKPOOL_TASK(noop);
FORKPOOL_TASK(twice);
FORKPOOL_TASK(naps);
FORKPOOL_TASK(bytes_of);
FORKPOOL_TASK(size_of);

int main(int argc, char** argv) {
  forkpool::mpi::init(argc, argv);
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const auto value = [&] { return std::atoi(argv[i + 1]); };
    if (!std::strcmp(argv[i], "--workers")) o.workers = static_cast<unsigned>(value());
    if (!std::strcmp(argv[i], "--roundtrips")) o.roundtrips = value();
    if (!std::strcmp(argv[i], "--burst")) o.burst = value();
    if (!std::strcmp(argv[i], "--map")) o.map_items = value();
    if (!std::strcmp(argv[i], "--big-mib")) o.big_mib = value();
    if (!std::strcmp(argv[i], "--idle-seconds")) o.idle_seconds = value();
    if (!std::strcmp(argv[i], "--lose-host")) o.lose_host = value() != 0;
  }
  if (o.lose_host) return measure_lost_host(o.workers);
  bool right = true;
  long long sum = 0;
  const long long expected_sum = static_cast<long long>(o.burst) * (o.burst - 1) / 2;

  // The burst with few and many calls in flight per host; each pool starts afresh.
  std::vector<std::pair<unsigned, double>> bursts;
  for (const unsigned credits : {1u, 4u, 64u}) {
    forkpool::mpi_pool pool({.workers_per_host = o.workers, .credits_per_host = credits});
    pool.submit(noop, 0).get();
    bursts.emplace_back(credits, burst_per_s(pool, o.burst, sum));
    right &= sum == expected_sum;
  }

  const auto started = clock_type::now();
  forkpool::mpi_pool pool({.workers_per_host = o.workers});
  pool.submit(noop, 0).get();  // every host up
  const double startup_ms = seconds_since(started) * 1e3;

  std::vector<double> latencies;
  for (int i = 0; i < o.roundtrips; ++i) {
    const auto start = clock_type::now();
    pool.submit(noop, i).get();
    latencies.push_back(seconds_since(start) * 1e6);
  }
  std::sort(latencies.begin(), latencies.end());
  const double default_burst = burst_per_s(pool, o.burst, sum);
  right &= sum == expected_sum;

  std::vector<int> inputs(static_cast<std::size_t>(o.map_items));
  for (int i = 0; i < o.map_items; ++i) inputs[static_cast<std::size_t>(i)] = i;
  auto start = clock_type::now();
  const std::vector<int> doubled = pool.map(twice, inputs, {.chunksize = 1000});
  const double map_seconds = seconds_since(start);
  right &= doubled.size() == inputs.size() && doubled.back() == 2 * (o.map_items - 1);

  const std::string big = bytes_of(o.big_mib);
  start = clock_type::now();
  right &= pool.submit(size_of, big).get() == static_cast<long long>(big.size());
  const double big_argument_ms = seconds_since(start) * 1e3;
  start = clock_type::now();
  right &= pool.submit(bytes_of, o.big_mib).get().size() == big.size();
  const double big_result_ms = seconds_since(start) * 1e3;

  // Idle: the busiest agent's CPU (all its threads) while nothing is asked of it.
  const forkpool::cluster_stats s = pool.stats();
  std::vector<double> before;
  for (const auto& h : s.hosts) before.push_back(cpu_seconds(h.pid));
  o.idle_seconds = std::max(o.idle_seconds, 1);
  std::this_thread::sleep_for(std::chrono::seconds(o.idle_seconds));
  double idle_cpu = 0;
  for (std::size_t i = 0; i < s.hosts.size(); ++i)
    idle_cpu = std::max(idle_cpu, (cpu_seconds(s.hosts[i].pid) - before[i]) / o.idle_seconds);

  std::printf(
      "{\"bench\":\"mpi_workloads\",\"hosts\":%u,\"workers_per_host\":%u,"
      "\"roundtrip_p50_us\":%.1f,\"roundtrip_p99_us\":%.1f,\"burst_tasks_per_s\":%.0f,",
      pool.hosts(), o.workers, latencies[latencies.size() / 2],
      latencies[latencies.size() * 99 / 100], default_burst);
  for (const auto& [credits, per_s] : bursts)
    std::printf("\"burst_credits_%u_tasks_per_s\":%.0f,", credits, per_s);
  std::printf(
      "\"map_items_per_s\":%.0f,\"big_mib\":%d,\"big_argument_ms\":%.1f,\"big_result_ms\":%.1f,"
      "\"startup_ms\":%.2f,\"idle_agent_cpu_percent\":%.2f,\"right\":%s}\n",
      o.map_items / map_seconds, o.big_mib, big_argument_ms, big_result_ms, startup_ms,
      idle_cpu * 100, right ? "true" : "false");
  return right ? 0 : 1;
}
