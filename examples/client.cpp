// client: connects to a running forkpool-master and submits a batch of prime-counting jobs,
// with a progress bar on stderr (done/total, rate), then prints the results.
//
//   forkpool-master --workers 2 --tasks build/examples/plugin/libexample_tasks.so --socket /tmp/fp.sock &
//   build/examples/client [--socket /tmp/fp.sock] [--jobs 200]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <map>
#include <string>

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
    std::vector<forkpool::future<long>> counts;
    for (int i = 0; i < jobs; ++i)
      counts.push_back(master.submit<long>("count_primes", i * span, (i + 1) * span));

    // A bar redrawn in place on a terminal; in a log (CI, a pipe), a line at each quarter.
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    const auto start = std::chrono::steady_clock::now();
    long total = 0;
    int done = 0;
    for (auto& f : forkpool::as_completed(counts)) {
      total += f.get();
      ++done;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double rate = seconds > 0 ? done / seconds : 0.0;
      if (terminal) {
        const int filled = done * 40 / jobs;
        std::fprintf(stderr, "\r[%.*s%*s] %d/%d jobs, %.0f jobs/s", filled,
                     "########################################", 40 - filled, "", done, jobs, rate);
      } else if (done * 4 / jobs != (done - 1) * 4 / jobs) {
        std::fprintf(stderr, "%d/%d jobs, %.0f jobs/s\n", done, jobs, rate);
      }
    }
    if (terminal) std::fprintf(stderr, "\n");
    std::printf("primes below %ld: %ld\n", jobs * span, total);

    auto words = master.submit<std::map<std::string, int>>("word_counts", "To be, or not to be").get();
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
