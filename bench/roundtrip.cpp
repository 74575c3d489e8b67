// roundtrip: no-op round-trip latency (one task at a time, after a warm-up) and the throughput of
// many no-op tasks submitted at once. Prints one JSON line.
//
//   ./roundtrip [--workers N] [--calls N] [--batch N]
#include <algorithm>
#include <chrono>
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
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--workers")) workers = static_cast<unsigned>(std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--calls")) calls = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
  }

  forkpool::pool_options options;
  options.workers = workers;
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
  const auto start = clock_type::now();
  for (int i = 0; i < batch; ++i) futures.push_back(pool.submit(noop, i));
  long long sum = 0;
  for (auto& f : futures) sum += f.get();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  if (sum != static_cast<long long>(batch) * (batch - 1) / 2) return 1;

  std::printf(
      "{\"bench\":\"roundtrip\",\"workers\":%u,\"calls\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"batch\":%d,\"batch_tasks_per_s\":%.0f}\n",
      workers, calls, percentile(latencies, 0.50), percentile(latencies, 0.99), batch,
      batch / seconds);
  return 0;
}
