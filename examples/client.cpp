// client: connects to a running forkpool-master and submits a batch of prime-counting jobs,
// with a progress bar on stderr (map_options::on_progress: done/total, rate), then prints the
// results.
//
//   forkpool-master --workers 2 --tasks build/examples/plugin/libexample_tasks.so --socket
//   /tmp/fp.sock & build/examples/client [--socket /tmp/fp.sock] [--jobs 200]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <map>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  std::string socket = forkpool::default_socket_path();
  int jobs = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--socket")) socket = argv[i + 1];
    if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
  }
  try {
    forkpool::client master(socket);
    const long span = 20'000;
    std::vector<std::tuple<long, long>> ranges;
    for (long i = 0; i < jobs; ++i) ranges.emplace_back(i * span, (i + 1) * span);

    // A bar redrawn in place on a terminal; in a log (CI, a pipe), a line at each quarter.
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    std::size_t quarters_shown = 0;
    forkpool::map_options options;
    options.chunksize = 4;  // a report every 4 jobs
    options.on_progress = [&](const forkpool::progress& p) {
      const std::size_t total = p.total.value_or(0);
      const double seconds = std::chrono::duration<double>(p.elapsed).count();
      const double rate = seconds > 0 ? static_cast<double>(p.done) / seconds : 0.0;
      if (terminal) {
        const int filled = total == 0 ? 0 : static_cast<int>(p.done * 40 / total);
        std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu jobs, %.0f jobs/s", filled,
                     "########################################", 40 - filled, "", p.done, total,
                     rate);
      } else if (total != 0 && p.done * 4 / total > quarters_shown) {
        quarters_shown = p.done * 4 / total;
        std::fprintf(stderr, "%zu/%zu jobs, %.0f jobs/s\n", p.done, total, rate);
      }
    };
    const std::vector<long> counts = master.map<long>("count_primes", ranges, options);
    if (terminal) std::fprintf(stderr, "\n");
    const long total = std::accumulate(counts.begin(), counts.end(), 0L);
    std::printf("primes below %ld: %ld\n", jobs * span, total);

    auto words =
        master.submit<std::map<std::string, int>>("word_counts", "To be, or not to be").get();
    std::printf("word counts: to=%d be=%d or=%d not=%d\n", words["to"], words["be"], words["or"],
                words["not"]);
    const auto stats = master.stats();
    std::printf("master: %zu workers, %llu jobs completed\n", stats.workers_alive,
                static_cast<unsigned long long>(stats.completed));
  } catch (const forkpool::error& e) {
    std::fprintf(stderr, "client: %s\n", e.what());
    return 1;
  }
  return 0;
}
