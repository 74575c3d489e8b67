// libexample_tasks.so: tasks for forkpool-master to serve.
//
//   forkpool-master --workers 2 --tasks build/examples/plugin/libexample_tasks.so
//
// A plugin links against forkpool's headers only (the forkpool::plugin CMake target): its
// FORKPOOL_TASK registrations run when the master loads it, into the master's registry.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <forkpool/task.hpp>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace example {

// CPU-heavy: how many primes lie in [from, to).
long count_primes(long from, long to) {
  long count = 0;
  for (long n = std::max(from, 2L); n < to; ++n) {
    bool prime = true;
    for (long d = 2; d * d <= n; ++d)
      if (n % d == 0) {
        prime = false;
        break;
      }
    count += prime;
  }
  return count;
}

// String processing: word frequencies of a text, lower-cased.
std::map<std::string, int> word_counts(const std::string& text) {
  std::map<std::string, int> counts;
  std::istringstream words(text);
  for (std::string word; words >> word;) {
    std::string clean;
    for (char c : word)
      if (std::isalnum(static_cast<unsigned char>(c)))
        clean += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!clean.empty()) ++counts[clean];
  }
  return counts;
}

// A large answer: a page of `bytes` bytes of text (bench/master_load --result-bytes).
std::string render_page(int bytes) {
  std::string page(static_cast<std::size_t>(std::max(bytes, 0)), ' ');
  for (std::size_t i = 0; i < page.size(); ++i) page[i] = static_cast<char>('a' + i % 26);
  return page;
}

// Deliberately leaky: keeps `kib` KiB per call, forever (see --max-worker-rss).
std::vector<std::unique_ptr<char[]>> hoard;
long leak(int kib) {
  auto block = std::make_unique<char[]>(static_cast<std::size_t>(kib) * 1024);
  for (int i = 0; i < kib * 1024; i += 4096) block[i] = 1;
  hoard.push_back(std::move(block));
  return static_cast<long>(hoard.size());
}

// Slow: sleeps, then says which worker answered (see --task-timeout).
int nap(int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  return static_cast<int>(::getpid());
}

}  // namespace example

FORKPOOL_TASK_NAMED(example::count_primes, "count_primes");
FORKPOOL_TASK_NAMED(example::word_counts, "word_counts");
FORKPOOL_TASK_NAMED(example::render_page, "render_page");
FORKPOOL_TASK_NAMED(example::leak, "leak");
FORKPOOL_TASK_NAMED(example::nap, "nap");
