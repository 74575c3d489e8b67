// workloads: the forkpool side of bench/compare. Runs one workload and prints one JSON line.
//
//   ./workloads map        [--workers 2] [--items 200000] [--chunksize 1000] [--repeat 5]
//   ./workloads imap       [--workers 2] [--items 200000] [--chunksize 1000] [--big-items 10000000]
//                          [--window 0 (the default: twice the workers)]
//   ./workloads payload    [--workers 2] [--mib 64] [--repeat 3] [--argument 1]
//   ./workloads shared_payload [--workers 2] [--mib 64] [--repeat 5]   (forkpool::shared_bytes)
//   ./workloads startup    [--workers 2] [--repeat 5]
//   ./workloads scaling    [--workers 2] [--tasks 8] [--limit 2000000]
//   ./workloads contention [--workers 2] [--tasks 8] [--rounds 20000]
//   ./workloads noops      [--workers 1] [--tasks 1000]   (for bench/callgrind_noop)
//
// Every figure is a best or median of repeats; compare them with Python's only within one run.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <map>
#include <mutex>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs `tasks` calls of task(argument) one after another, each on the next CPU in turn, and
// returns {seconds, sum of results}. The two vCPUs of a small VM can differ in speed by more
// than 1.5x from one minute to the next; a serial baseline taken on one of them alone would make
// a speed-up over it say more about that CPU than about the pool.
template <class Task>
std::pair<double, long> serial_on_every_cpu(Task task, long tasks, long argument) {
  cpu_set_t all;
  CPU_ZERO(&all);
  ::sched_getaffinity(0, sizeof all, &all);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &all)) cpus.push_back(cpu);
  double seconds = 0;
  long total = 0;
  for (long i = 0; i < tasks; ++i) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<std::size_t>(i) % cpus.size()], &one);
    ::sched_setaffinity(0, sizeof one, &one);
    const auto start = clock_type::now();
    total += task(argument);
    seconds += seconds_since(start);
  }
  ::sched_setaffinity(0, sizeof all, &all);  // before any pool: workers inherit it
  return {seconds, total};
}

long option(int argc, char** argv, const char* name, long fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return std::atol(argv[i + 1]);
  return fallback;
}

forkpool::pool_options with_workers(unsigned workers) {
  forkpool::pool_options o;
  o.workers = workers;
  return o;
}

}  // namespace

// ---- tasks -------------------------------------------------------------------------------------

int twice(int x) { return 2 * x; }
FORKPOOL_TASK(twice);

int noop(int x) { return x; }
FORKPOOL_TASK(noop);

std::string make_bytes(std::uint64_t size) { return std::string(size, 'x'); }
FORKPOOL_TASK(make_bytes);

std::uint64_t byte_count(const std::string& data) { return data.size(); }
FORKPOOL_TASK(byte_count);

// The same bytes, written where the caller reads them in place.
forkpool::shared_bytes make_shared_bytes(std::uint64_t size) {
  forkpool::shared_bytes out(size);
  std::memset(out.data(), 'x', size);
  return out;
}
FORKPOOL_TASK(make_shared_bytes);

// Primes below `limit`, by trial division: pure CPU, no memory traffic.
long count_primes(long limit) {
  long count = 0;
  for (long n = 2; n < limit; ++n) {
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
FORKPOOL_TASK(count_primes);

// What legacy code does: many small heap objects, and every call into a helper that is not
// thread-safe, so it is guarded by one global mutex and does its work while holding it. Threads of
// one process share that allocator and that lock; processes each have their own.
std::mutex legacy_lock;
long legacy_helper(long x) {
  std::lock_guard lock(legacy_lock);
  std::uint64_t state = static_cast<std::uint64_t>(x) | 1;
  for (int i = 0; i < 64; ++i) state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return static_cast<long>(state >> 54);
}
long allocation_and_lock_heavy(long rounds) {
  long total = 0;
  for (long r = 0; r < rounds; ++r) {
    std::map<long, std::string> index;
    for (long i = 0; i < 64; ++i) index.emplace(i * r % 997, std::string(24, 'k'));
    for (const auto& [key, value] : index)
      total += legacy_helper(key) + static_cast<long>(value.size());
  }
  return total;
}
FORKPOOL_TASK(allocation_and_lock_heavy);

// ---- workloads ---------------------------------------------------------------------------------

namespace {

int run_map(unsigned workers, long items, long chunksize, int repeat) {
  forkpool::process_pool pool(with_workers(workers));
  pool.submit(noop, 0).get();
  std::vector<int> inputs(static_cast<std::size_t>(items));
  for (long i = 0; i < items; ++i) inputs[static_cast<std::size_t>(i)] = static_cast<int>(i);
  // One untimed run first: the first maps fault in the heap and the workers' areas, which a
  // long-running program pays once (bench/peers/zmq_farm does the same).
  std::vector<double> rates;
  for (int rep = 0; rep <= repeat; ++rep) {
    const auto start = clock_type::now();
    const std::vector<int> out =
        pool.map(twice, inputs, {.chunksize = static_cast<std::size_t>(chunksize)});
    if (rep > 0) rates.push_back(static_cast<double>(items) / seconds_since(start));
    if (out.size() != inputs.size() || out.back() != 2 * inputs.back()) return 1;
  }
  std::printf(
      "{\"bench\":\"map\",\"workers\":%u,\"items\":%ld,\"chunksize\":%ld,\"items_per_s\":%.0f}\n",
      workers, items, chunksize, median(rates));
  return 0;
}

// The master's peak resident memory so far (VmHWM), in KiB.
long peak_rss_kib() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, status) != nullptr)
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  std::fclose(status);
  return kib;
}

// imap against map in one run: 15 pairs run back to back, the median of each and of the pairs'
// ratios, then what each costs in the
// master's peak memory over a large input: imap over a generator that is never stored, map over
// the same inputs in a vector.
int run_imap(unsigned workers, long items, long chunksize, long big_items, long window) {
  forkpool::process_pool pool(with_workers(workers));
  pool.submit(noop, 0).get();
  std::vector<int> inputs(static_cast<std::size_t>(items));
  for (long i = 0; i < items; ++i) inputs[static_cast<std::size_t>(i)] = static_cast<int>(i);
  forkpool::map_options options{.chunksize = static_cast<std::size_t>(chunksize)};
  if (window > 0) options.window = static_cast<std::size_t>(window);       // else the default
  const long long expected = static_cast<long long>(items) * (items - 1);  // sum of twice(i)
  std::vector<double> map_rates, imap_rates, ratios;
  // Both times include the caller's loop over the results: imap's loop is where it waits, and a
  // map's caller reads its vector too.
  const auto time_map = [&] {
    const auto start = clock_type::now();
    const std::vector<int> out = pool.map(twice, inputs, options);
    long long sum = 0;
    for (int r : out) sum += r;
    const double rate = static_cast<double>(items) / seconds_since(start);
    return sum == expected ? rate : -1.0;
  };
  const auto time_imap = [&] {
    const auto start = clock_type::now();
    long long sum = 0;
    for (int r : pool.imap(twice, inputs, options)) sum += r;
    const double rate = static_cast<double>(items) / seconds_since(start);
    return sum == expected ? rate : -1.0;
  };
  for (int rep = 0; rep < 15; ++rep) {
    // Which goes first alternates: neither always inherits the other's freed memory.
    if (rep % 2 == 0) {
      map_rates.push_back(time_map());
      imap_rates.push_back(time_imap());
    } else {
      imap_rates.push_back(time_imap());
      map_rates.push_back(time_map());
    }
    if (map_rates.back() < 0 || imap_rates.back() < 0) return 1;
    ratios.push_back(imap_rates.back() / map_rates.back());  // a pair run back to back
  }
  const long before = peak_rss_kib();
  long long lazy_sum = 0;
  for (int r : pool.imap(twice, std::views::iota(0, static_cast<int>(big_items)), options))
    lazy_sum += r % 7;
  const long after_imap = peak_rss_kib();
  std::vector<int> big(static_cast<std::size_t>(big_items));
  for (long i = 0; i < big_items; ++i) big[static_cast<std::size_t>(i)] = static_cast<int>(i);
  const std::vector<int> big_out = pool.map(twice, big, options);
  const long after_map = peak_rss_kib();
  if (big_out.size() != big.size() || lazy_sum < 0) return 1;
  std::printf(
      "{\"bench\":\"imap\",\"workers\":%u,\"items\":%ld,\"chunksize\":%ld,"
      "\"map_items_per_s\":%.0f,\"imap_items_per_s\":%.0f,\"imap_to_map\":%.3f,"
      "\"big_items\":%ld,\"imap_generator_peak_growth_kib\":%ld,"
      "\"map_vector_peak_growth_kib\":%ld}\n",
      workers, items, chunksize, median(map_rates), median(imap_rates), median(ratios), big_items,
      after_imap - before, after_map - after_imap);
  return 0;
}

int run_payload(unsigned workers, long mib, int repeat, bool argument) {
  forkpool::process_pool pool(with_workers(workers));
  pool.submit(noop, 0).get();
  const std::uint64_t size = static_cast<std::uint64_t>(mib) << 20;
  std::vector<double> result_s, argument_s, alone_s;
  std::string error;
  for (int rep = 0; rep < repeat; ++rep) {
    try {
      auto start = clock_type::now();
      std::string result = pool.submit(make_bytes, size).get();
      result_s.push_back(seconds_since(start));
      if (result.size() != size) return 1;
      if (argument) {
        start = clock_type::now();
        if (pool.submit(byte_count, result).get() != size) return 1;
        argument_s.push_back(seconds_since(start));
      }
      result = {};
      // The task alone, here: its own cost (writing fresh memory), which no pool can remove.
      start = clock_type::now();
      if (make_bytes(size).size() != size) return 1;
      alone_s.push_back(seconds_since(start));
    } catch (const forkpool::error& e) {
      error = e.what();
      break;
    }
  }
  if (!error.empty()) {
    std::printf("{\"bench\":\"payload\",\"workers\":%u,\"mib\":%ld,\"error\":\"%s\"}\n", workers,
                mib, error.c_str());
    return 0;
  }
  const double gb = static_cast<double>(size) / 1e9;
  if (!argument) {
    std::printf(
        "{\"bench\":\"payload\",\"workers\":%u,\"mib\":%ld,\"result_ms\":%.1f,\"result_gb_per_s\":%.2f,"
        "\"task_alone_ms\":%.1f}\n",
        workers, mib, median(result_s) * 1e3, gb / median(result_s), median(alone_s) * 1e3);
    return 0;
  }
  std::printf(
      "{\"bench\":\"payload\",\"workers\":%u,\"mib\":%ld,\"result_ms\":%.1f,\"result_gb_per_s\":%.2f,"
      "\"argument_ms\":%.1f,\"argument_gb_per_s\":%.2f,\"task_alone_ms\":%.1f}\n",
      workers, mib, median(result_s) * 1e3, gb / median(result_s), median(argument_s) * 1e3,
      gb / median(argument_s), median(alone_s) * 1e3);
  return 0;
}

// A shared_bytes result against one pre-faulted memcpy of the same size, in this process.
int run_shared_payload(unsigned workers, long mib, int repeat) {
  forkpool::process_pool pool(with_workers(workers));
  pool.submit(noop, 0).get();
  const std::uint64_t size = static_cast<std::uint64_t>(mib) << 20;
  std::vector<double> result_s, memcpy_s;
  bool in_place = true;
  for (int rep = 0; rep < repeat; ++rep) {
    const auto start = clock_type::now();
    const forkpool::shared_bytes result = pool.submit(make_shared_bytes, size).get();
    result_s.push_back(seconds_since(start));
    if (result.size() != size || result.data()[size - 1] != std::byte{'x'}) return 1;
    in_place = in_place && result.in_shared_memory();
  }
  std::vector<char> from(size, 'a'), to(size, 'b');  // both pre-faulted
  for (int rep = 0; rep < std::max(repeat, 3); ++rep) {
    from[static_cast<std::size_t>(rep)] = static_cast<char>(rep);
    const auto start = clock_type::now();
    std::memcpy(to.data(), from.data(), size);
    memcpy_s.push_back(seconds_since(start));
    if (to[static_cast<std::size_t>(rep)] != static_cast<char>(rep)) return 1;
  }
  std::printf(
      "{\"bench\":\"shared_payload\",\"workers\":%u,\"mib\":%ld,\"in_place\":%s,\"result_ms\":%.1f,"
      "\"memcpy_prefaulted_ms\":%.1f,\"ratio_to_memcpy\":%.2f}\n",
      workers, mib, in_place ? "true" : "false", median(result_s) * 1e3, median(memcpy_s) * 1e3,
      median(result_s) / median(memcpy_s));
  return 0;
}

int run_startup(unsigned workers, int repeat) {
  std::vector<double> ms;
  for (int rep = 0; rep < repeat; ++rep) {
    const auto start = clock_type::now();
    forkpool::process_pool pool(with_workers(workers));
    if (pool.submit(noop, 7).get() != 7) return 1;
    ms.push_back(seconds_since(start) * 1e3);
  }
  std::printf("{\"bench\":\"startup\",\"workers\":%u,\"first_result_ms\":%.2f}\n", workers,
              median(ms));
  return 0;
}

// Runs `tasks` calls of task(argument) on the pool; the sum of the results must be `expected`.
template <class Pool>
double pooled_seconds(Pool& pool, auto task, long tasks, long argument, long expected) {
  const auto start = clock_type::now();
  std::vector<forkpool::future<long>> futures;
  for (long i = 0; i < tasks; ++i) futures.push_back(pool.submit(task, argument));
  long total = 0;
  for (auto& f : futures) total += f.get();
  const double elapsed = seconds_since(start);
  if (total != expected) {
    std::fprintf(stderr, "wrong results: %ld, expected %ld\n", total, expected);
    std::exit(1);
  }
  return elapsed;
}

int run_scaling(unsigned workers, long tasks, long limit) {
  const auto [serial, expected] = serial_on_every_cpu(count_primes, tasks, limit);
  forkpool::process_pool pool(with_workers(workers));
  pool.submit(noop, 0).get();
  const double pooled = pooled_seconds(pool, count_primes, tasks, limit, expected);
  std::printf(
      "{\"bench\":\"scaling\",\"workers\":%u,\"tasks\":%ld,\"serial_s\":%.3f,\"pooled_s\":%.3f,"
      "\"efficiency\":%.3f}\n",
      workers, tasks, serial, pooled, serial / (pooled * workers));
  return 0;
}

int run_contention(unsigned workers, long tasks, long rounds) {
  const auto [serial, expected] = serial_on_every_cpu(allocation_and_lock_heavy, tasks, rounds);
  // The process pool first, as a program creates it at start-up: its fork server then forks from
  // a process that has never had a second thread, and glibc keeps its single-thread fast paths
  // (malloc without atomic operations) in the workers. A fork server forked after threads have
  // run makes workers that are some 20% slower at this workload.
  forkpool::process_pool processes(with_workers(workers));
  processes.submit(noop, 0).get();
  const double pooled =
      pooled_seconds(processes, allocation_and_lock_heavy, tasks, rounds, expected);
  forkpool::thread_pool threads(with_workers(workers));
  const double threaded =
      pooled_seconds(threads, allocation_and_lock_heavy, tasks, rounds, expected);
  std::printf(
      "{\"bench\":\"contention\",\"workers\":%u,\"tasks\":%ld,\"serial_s\":%.3f,\"thread_pool_s\":%.3f,"
      "\"process_pool_s\":%.3f,\"thread_pool_speedup\":%.2f,\"process_pool_speedup\":%.2f}\n",
      workers, tasks, serial, threaded, pooled, serial / threaded, serial / pooled);
  return 0;
}

// Submits `tasks` no-ops at once and gathers them: the steady state of the hot path, for
// instruction counts (no timing).
int run_noops(unsigned workers, long tasks) {
  forkpool::process_pool pool(with_workers(workers));
  pool.submit(noop, 0).get();
  std::vector<forkpool::future<int>> futures;
  futures.reserve(static_cast<std::size_t>(tasks));
  for (long i = 0; i < tasks; ++i) futures.push_back(pool.submit(noop, static_cast<int>(i)));
  long total = 0;
  for (auto& f : futures) total += f.get();
  if (total != tasks * (tasks - 1) / 2) return 1;
  std::printf("{\"bench\":\"noops\",\"workers\":%u,\"tasks\":%ld}\n", workers, tasks);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  const std::string workload = argc > 1 ? argv[1] : "";
  const auto workers = static_cast<unsigned>(option(argc, argv, "--workers", 2));
  if (workload == "map")
    return run_map(workers, option(argc, argv, "--items", 200000),
                   option(argc, argv, "--chunksize", 1000),
                   static_cast<int>(option(argc, argv, "--repeat", 5)));
  if (workload == "imap")
    return run_imap(workers, option(argc, argv, "--items", 200000),
                    option(argc, argv, "--chunksize", 1000),
                    option(argc, argv, "--big-items", 10000000), option(argc, argv, "--window", 0));
  if (workload == "payload")
    return run_payload(workers, option(argc, argv, "--mib", 64),
                       static_cast<int>(option(argc, argv, "--repeat", 3)),
                       option(argc, argv, "--argument", 1) != 0);
  if (workload == "shared_payload")
    return run_shared_payload(workers, option(argc, argv, "--mib", 64),
                              static_cast<int>(option(argc, argv, "--repeat", 5)));
  if (workload == "startup")
    return run_startup(workers, static_cast<int>(option(argc, argv, "--repeat", 5)));
  if (workload == "scaling")
    return run_scaling(workers, option(argc, argv, "--tasks", 8),
                       option(argc, argv, "--limit", 2000000));
  if (workload == "contention")
    return run_contention(workers, option(argc, argv, "--tasks", 8),
                          option(argc, argv, "--rounds", 20000));
  if (workload == "noops")
    return run_noops(static_cast<unsigned>(option(argc, argv, "--workers", 1)),
                     option(argc, argv, "--tasks", 1000));
  std::fprintf(
      stderr,
      "usage: workloads map|imap|payload|shared_payload|startup|scaling|contention|noops [--option value]...\n");
  return 2;
}
