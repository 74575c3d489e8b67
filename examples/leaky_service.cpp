// leaky_service: a service whose request handler leaks memory (as real ones do, through a cache
// that never evicts or a library that never frees). Run twice: without a limit, the workers'
// resident memory grows without bound; with max_worker_rss_bytes, each worker is replaced after
// the request that takes it over the limit, and memory stays bounded. Prints the workers' RSS
// over time.
//
//   ./leaky_service [requests]
#include <cstdio>
#include <cstdlib>
#include <forkpool/forkpool.hpp>
#include <memory>
#include <vector>

// Leaks 512 KiB per request: a cache that is never evicted.
std::vector<std::unique_ptr<char[]>> cache;
int handle_request(int id) {
  auto entry = std::make_unique<char[]>(512 * 1024);
  for (int i = 0; i < 512 * 1024; i += 4096) entry[i] = static_cast<char>(id);  // resident
  cache.push_back(std::move(entry));
  return id;
}
FORKPOOL_TASK(handle_request);

void serve(int requests, std::uint64_t rss_limit) {
  forkpool::pool_options options;
  options.workers = 2;
  options.max_worker_rss_bytes = rss_limit;
  forkpool::process_pool pool(options);
  std::printf("\n%s\n", rss_limit ? "with max_worker_rss_bytes = 64 MiB" : "without a limit");
  std::printf("%9s  %s\n", "requests", "worker RSS (MiB)");
  std::uint64_t peak = 0;
  for (int done = 0; done < requests;) {
    std::vector<forkpool::future<int>> batch;
    for (int i = 0; i < 100 && done < requests; ++i, ++done)
      batch.push_back(pool.submit(handle_request, done));
    for (auto& f : batch) f.get();
    std::printf("%9d ", done);
    for (const auto& w : pool.stats().per_worker) {
      std::printf(" %6.1f", w.rss_bytes / 1048576.0);
      peak = std::max(peak, w.rss_bytes);
    }
    std::printf("\n");
  }
  const auto stats = pool.stats();
  std::printf("peak worker RSS %.1f MiB, %llu workers replaced for memory\n", peak / 1048576.0,
              static_cast<unsigned long long>(stats.restarts_memory));
}

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  const int requests = argc > 1 ? std::atoi(argv[1]) : 1000;
  serve(requests, 0);
  serve(requests, 64ull << 20);
  return 0;
}
