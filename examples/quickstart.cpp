// quickstart: register two tasks, start a process pool, submit, map, print the results and stats.
//
//   ./quickstart [workers]      (default: one per core)
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <forkpool/forkpool.hpp>
#include <string>

// A CPU-heavy task: how many primes are below `limit`.
long count_primes(long limit) {
  long count = 0;
  for (long n = 2; n < limit; ++n) {
    bool prime = true;
    for (long d = 2; d * d <= n; ++d) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    count += prime;
  }
  return count;
}
FORKPOOL_TASK(count_primes);

// A task with strings: which worker process answered.
std::string who_am_i(const std::string& caller) {
  return caller + " was answered by worker pid " + std::to_string(::getpid());
}
FORKPOOL_TASK(who_am_i);

int main(int argc, char** argv) {
  forkpool::init(argc, argv);  // first line of main

  forkpool::pool_options options;
  options.workers = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 0;
  forkpool::process_pool pool(options);

  // submit: one call, one future.
  forkpool::future<std::string> greeting = pool.submit(who_am_i, "quickstart");
  std::printf("%s\n", greeting.get().c_str());

  // map: many calls, results in input order; 2 inputs travel per frame.
  std::vector<long> limits{100'000, 200'000, 300'000, 400'000, 500'000, 600'000, 700'000, 800'000};
  std::vector<long> counts = pool.map(count_primes, limits, {.chunksize = 2});
  for (std::size_t i = 0; i < limits.size(); ++i)
    std::printf("primes below %7ld: %ld\n", limits[i], counts[i]);

  // Errors arrive typed, on the one future concerned.
  try {
    pool.submit<long>("count_primes", std::string("not a number")).get();
  } catch (const forkpool::bad_arguments& e) {
    std::printf("bad_arguments, as expected: %s\n", e.what());
  }

  const forkpool::pool_stats stats = pool.stats();
  std::printf("stats: %zu workers, %llu submitted, %llu completed, %llu failed\n",
              stats.workers_alive, static_cast<unsigned long long>(stats.submitted),
              static_cast<unsigned long long>(stats.completed),
              static_cast<unsigned long long>(stats.failed));
  for (const auto& w : stats.per_worker)
    std::printf("  worker %d: %llu tasks, %.1f MiB resident\n", w.pid,
                static_cast<unsigned long long>(w.tasks_run), w.rss_bytes / 1048576.0);
  return counts[0] == 9592 ? 0 : 1;  // a wrong answer is a failed run
}
