// big_heap: a master that holds a large heap when it makes its pool (a service that loaded its
// data first). Per start method: the worker memory the pool reports, the restarts a memory limit
// below the heap causes in 50 tasks, the time to replace a worker, and (forkserver) the fork
// server's resident and private memory. Prints one JSON line.
//
//   ./big_heap [--heap-mib 300] [--limit-mib 200] [--tasks 50]
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <string>
#include <vector>

int touch_kib(int kib) {
  std::vector<char> v(static_cast<std::size_t>(kib) << 10, 1);
  return v[v.size() / 2];
}
FORKPOOL_TASK(touch_kib);

namespace {

using clock_type = std::chrono::steady_clock;

// A field of /proc/PID/smaps_rollup, in MiB (-1 when unreadable).
double rollup_mib(pid_t pid, const char* field) {
  const std::string path = "/proc/" + std::to_string(pid) + "/smaps_rollup";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char line[256];
  long long total = 0;
  bool found = false;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, std::strlen(field)) == 0) {
      total += std::atoll(line + std::strlen(field));
      found = true;
    }
  }
  std::fclose(f);
  return found ? static_cast<double>(total) / 1024 : -1;
}

pid_t parent_of(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  char text[512];
  const std::size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  text[n] = '\0';
  const char* after_name = std::strrchr(text, ')');
  int ppid = -1;
  if (after_name == nullptr || std::sscanf(after_name + 1, " %*c %d", &ppid) != 1) return -1;
  return ppid;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct result {
  std::uint64_t memory_restarts = 0;
  double worker_reported_mib = 0;
  double server_rss_mib = -1;
  double server_private_mib = -1;
  double replace_us = 0;
  double first_result_ms = 0;
};

void run_tasks(forkpool::process_pool& pool, int tasks, std::vector<double>* us = nullptr) {
  for (int i = 0; i < tasks; ++i) {
    const auto t = clock_type::now();
    pool.submit(touch_kib, 64).get();
    if (us) us->push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t).count());
  }
}

result measure(forkpool::start_method method, std::uint64_t limit, int tasks) {
  result r;
  forkpool::pool_options options;
  options.workers = 1;
  options.start = method;
  {
    forkpool::pool_options limited = options;
    limited.max_worker_rss_bytes = limit;
    forkpool::process_pool pool(limited);
    run_tasks(pool, tasks);
    r.memory_restarts = pool.stats().restarts_memory;
  }
  std::vector<double> plain_us;
  {
    const auto start = clock_type::now();
    forkpool::process_pool pool(options);
    pool.submit(touch_kib, 1).get();
    r.first_result_ms =
        std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    run_tasks(pool, tasks, &plain_us);
    const forkpool::pool_stats s = pool.stats();
    for (const auto& w : s.per_worker)
      r.worker_reported_mib =
          std::max(r.worker_reported_mib, static_cast<double>(w.rss_bytes) / (1 << 20));
    if (method == forkpool::start_method::forkserver && !s.per_worker.empty()) {
      const pid_t server = parent_of(s.per_worker.front().pid);
      r.server_rss_mib = rollup_mib(server, "Rss:");
      r.server_private_mib =
          rollup_mib(server, "Private_Clean:") + rollup_mib(server, "Private_Dirty:");
    }
  }
  options.max_tasks_per_worker = 1;
  forkpool::process_pool pool(options);
  pool.submit(touch_kib, 1).get();
  std::vector<double> fresh_us;
  run_tasks(pool, tasks, &fresh_us);
  r.replace_us = median(fresh_us) - median(plain_us);
  return r;
}

std::string json(const result& r) {
  char text[320];
  std::snprintf(text, sizeof text,
                "{\"memory_restarts\":%llu,\"worker_reported_mib\":%.1f,\"server_rss_mib\":%.1f,"
                "\"server_private_mib\":%.1f,\"replace_us_median\":%.0f,\"first_result_ms\":%.2f}",
                static_cast<unsigned long long>(r.memory_restarts), r.worker_reported_mib,
                r.server_rss_mib, r.server_private_mib, r.replace_us, r.first_result_ms);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  std::size_t heap_mib = 300;
  std::uint64_t limit_mib = 200;
  int tasks = 50;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--heap-mib") && i + 1 < argc)
      heap_mib = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--limit-mib") && i + 1 < argc)
      limit_mib = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--tasks") && i + 1 < argc)
      tasks = std::atoi(argv[++i]);
  }
  std::vector<char> heap(heap_mib << 20);
  std::memset(heap.data(), 1, heap.size());  // touched: resident, as a loaded data set is
  const std::uint64_t limit = limit_mib << 20;
  const result fork = measure(forkpool::start_method::fork, limit, tasks);
  const result forkserver = measure(forkpool::start_method::forkserver, limit, tasks);
  const result spawn = measure(forkpool::start_method::spawn, limit, tasks);
  std::printf(
      "{\"bench\":\"big_heap\",\"heap_mib\":%zu,\"limit_mib\":%llu,\"tasks\":%d,"
      "\"fork\":%s,\"forkserver\":%s,\"spawn\":%s}\n",
      heap_mib, static_cast<unsigned long long>(limit_mib), tasks, json(fork).c_str(),
      json(forkserver).c_str(), json(spawn).c_str());
  return heap.empty() || heap[heap.size() / 2] == 1 ? 0 : 1;
}
