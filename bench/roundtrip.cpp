// roundtrip: no-op round-trip latency (one task at a time, after a warm-up) and the throughput of
// many no-op tasks submitted at once. Prints one JSON line.
//
//   ./roundtrip [--workers N] [--calls N] [--batch N] [--bursts N] [--max-rss-mib N] [--heap-mib N]
//
// The burst figure is the median of --bursts (3) bursts in one process; the first, whose task
// states fill memory the process has not touched before, is printed apart as well (on a VM, the
// first touch of fresh memory costs from 0.1 to 2 ms/MiB, and a burst of 100,000 touches 25 MiB).
//
// --max-rss-mib sets max_worker_rss_bytes, so each reply carries a memory reading;
// --heap-mib first touches that much heap in the master (start_method::fork workers share it).
// --start fork|forkserver|spawn picks the start method.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <vector>

int noop(int x) { return x; }
FORKPOOL_TASK(noop);

namespace {

using clock_type = std::chrono::steady_clock;

double micros(clock_type::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  unsigned workers = 2;
  int calls = 20000;
  int batch = 100000;
  int bursts = 3;
  std::uint64_t max_rss_mib = 0;
  std::size_t heap_mib = 0;
  forkpool::start_method method = forkpool::start_method::forkserver;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--max-rss-mib"))
      max_rss_mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--heap-mib")) heap_mib = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--start")) {
      if (!std::strcmp(argv[i + 1], "fork")) method = forkpool::start_method::fork;
      if (!std::strcmp(argv[i + 1], "spawn")) method = forkpool::start_method::spawn;
    }
    if (!std::strcmp(argv[i], "--workers")) workers = static_cast<unsigned>(std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--calls")) calls = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--bursts")) bursts = std::max(1, std::atoi(argv[i + 1]));
  }

  std::vector<char> heap(heap_mib << 20);
  std::memset(heap.data(), 1, heap.size());
  forkpool::pool_options options;
  options.workers = workers;
  options.start = method;
  options.max_worker_rss_bytes = max_rss_mib << 20;
  forkpool::process_pool pool(options);

  for (int i = 0; i < 2000; ++i) pool.submit(noop, i).get();  // warm-up: workers up, caches hot

  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto start = clock_type::now();
    if (pool.submit(noop, i).get() != i) return 1;
    latencies.push_back(micros(clock_type::now() - start));
  }

  std::vector<forkpool::future<int>> futures;
  futures.reserve(static_cast<std::size_t>(batch));
  std::vector<double> burst_rates;
  for (int round = 0; round < bursts; ++round) {
    futures.clear();
    const auto start = clock_type::now();
    for (int i = 0; i < batch; ++i) futures.push_back(pool.submit(noop, i));
    long long sum = 0;
    for (auto& f : futures) sum += f.get();
    burst_rates.push_back(batch / std::chrono::duration<double>(clock_type::now() - start).count());
    if (sum != static_cast<long long>(batch) * (batch - 1) / 2) return 1;
  }

  std::printf(
      "{\"bench\":\"roundtrip\",\"workers\":%u,\"calls\":%d,\"p50_us\":%.2f,\"p99_us\":%.2f,"
      "\"batch\":%d,\"bursts\":%d,\"batch_tasks_per_s\":%.0f,\"first_batch_tasks_per_s\":%.0f,"
      "\"max_rss_mib\":%llu,\"heap_mib\":%zu,"
      "\"memory_restarts\":%llu}\n",
      workers, calls, percentile(latencies, 0.50), percentile(latencies, 0.99), batch, bursts,
      percentile(burst_rates, 0.5), burst_rates.front(),
      static_cast<unsigned long long>(max_rss_mib), heap_mib,
      static_cast<unsigned long long>(pool.stats().restarts_memory));
  return 0;
}
