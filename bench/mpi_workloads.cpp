// mpi_workloads: forkpool's mpi_pool on the workloads bench/peers/mpi4py_futures.py runs through
// mpi4py.futures, for bench/mpi_compare. Run under mpiexec (rank 0 measures; the others are
// agents); prints one JSON line.
//
//   mpiexec -n 3 --bind-to none ./mpi_workloads [--workers 1] [--roundtrips 2000] [--burst 20000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "forkpool/mpi.hpp"

namespace {

int noop(int x) { return x; }
int twice(int x) { return 2 * x; }

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

}  // namespace

FORKPOOL_TASK(noop);
FORKPOOL_TASK(twice);

int main(int argc, char** argv) {
  forkpool::mpi::init(argc, argv);
  unsigned workers = 1;
  int roundtrips = 2000;
  int burst = 20000;
  int map_items = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--workers")) workers = static_cast<unsigned>(std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--roundtrips")) roundtrips = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--burst")) burst = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--map")) map_items = std::atoi(argv[i + 1]);
  }
  forkpool::mpi_pool pool({.workers_per_host = workers});
  pool.submit(noop, 0).get();  // every host up

  std::vector<double> latencies;
  for (int i = 0; i < roundtrips; ++i) {
    const auto start = clock_type::now();
    pool.submit(noop, i).get();
    latencies.push_back(seconds_since(start) * 1e6);
  }
  std::sort(latencies.begin(), latencies.end());

  auto start = clock_type::now();
  std::vector<forkpool::future<int>> calls;
  calls.reserve(static_cast<std::size_t>(burst));
  for (int i = 0; i < burst; ++i) calls.push_back(pool.submit(noop, i));
  long long sum = 0;
  for (auto& call : calls) sum += call.get();
  const double burst_seconds = seconds_since(start);

  std::vector<int> inputs(static_cast<std::size_t>(map_items));
  for (int i = 0; i < map_items; ++i) inputs[static_cast<std::size_t>(i)] = i;
  start = clock_type::now();
  const std::vector<int> doubled = pool.map(twice, inputs, {.chunksize = 1000});
  const double map_seconds = seconds_since(start);
  const bool right = doubled.size() == inputs.size() && doubled.back() == 2 * (map_items - 1) &&
                     sum == static_cast<long long>(burst) * (burst - 1) / 2;

  std::printf(
      "{\"bench\":\"mpi_workloads\",\"hosts\":%u,\"workers_per_host\":%u,"
      "\"roundtrip_p50_us\":%.1f,\"roundtrip_p99_us\":%.1f,\"burst_tasks_per_s\":%.0f,"
      "\"map_items_per_s\":%.0f,\"right\":%s}\n",
      pool.hosts(), workers, latencies[latencies.size() / 2],
      latencies[latencies.size() * 99 / 100], burst / burst_seconds, map_items / map_seconds,
      right ? "true" : "false");
  return right ? 0 : 1;
}
