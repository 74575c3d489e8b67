// respawn: what a fresh worker costs. With max_tasks_per_worker = 1 every task runs in a new
// worker. Per start method: the median round trip of a task that needs a fresh worker, minus the
// median plain round trip (= the time to replace a worker), and the throughput of a batch of such
// tasks. The same batch then runs through Python's ProcessPoolExecutor(max_tasks_per_child=1).
// Prints one JSON line.
//
//   ./respawn [--workers 2] [--tasks 300] [--no-python]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <string>
#include <vector>

int noop(int x) { return x; }
FORKPOOL_TASK(noop);

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double median_round_trip_us(forkpool::process_pool& pool, int calls) {
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    const auto start = clock_type::now();
    pool.submit(noop, i).get();
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  return median(us);
}

struct result {
  double replace_us;
  double tasks_per_s;
};

result measure(forkpool::start_method method, unsigned workers, int tasks) {
  forkpool::pool_options plain;
  plain.workers = 1;
  plain.start = method;
  double plain_us;
  {
    forkpool::process_pool pool(plain);
    median_round_trip_us(pool, 200);  // warm-up
    plain_us = median_round_trip_us(pool, 500);
  }
  forkpool::pool_options fresh = plain;
  fresh.max_tasks_per_worker = 1;
  double fresh_us;
  {
    forkpool::process_pool pool(fresh);
    median_round_trip_us(pool, 5);
    fresh_us = median_round_trip_us(pool, std::max(20, tasks / 3));
  }
  fresh.workers = workers;
  forkpool::process_pool pool(fresh);
  pool.submit(noop, 0).get();
  const auto start = clock_type::now();
  std::vector<forkpool::future<int>> fs;
  for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit(noop, i));
  for (auto& f : fs) f.get();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return {fresh_us - plain_us, tasks / seconds};
}

double python_tasks_per_s(unsigned workers, int tasks) {
  const std::string script =
      "import time\n"
      "from concurrent.futures import ProcessPoolExecutor\n"
      "def noop(x): return x\n"
      "if __name__ == '__main__':\n"
      "    with ProcessPoolExecutor(" +
      std::to_string(workers) +
      ", max_tasks_per_child=1) as ex:\n"
      "        ex.submit(noop, 0).result()\n"
      "        t = time.perf_counter()\n"
      "        list(ex.map(noop, range(" +
      std::to_string(tasks) +
      ")))\n"
      "        print(" +
      std::to_string(tasks) + " / (time.perf_counter() - t))\n";
  const std::string path = "/tmp/forkpool-respawn-bench.py";
  if (FILE* f = std::fopen(path.c_str(), "w")) {
    std::fputs(script.c_str(), f);
    std::fclose(f);
  }
  double rate = -1;
  if (FILE* p = ::popen(("python3 " + path).c_str(), "r")) {
    if (std::fscanf(p, "%lf", &rate) != 1) rate = -1;
    ::pclose(p);
  }
  std::remove(path.c_str());
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  unsigned workers = 2;
  int tasks = 300;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--workers") && i + 1 < argc)
      workers = static_cast<unsigned>(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--tasks") && i + 1 < argc)
      tasks = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--no-python"))
      python = false;
  }
  const result fork = measure(forkpool::start_method::fork, workers, tasks);
  const result forkserver = measure(forkpool::start_method::forkserver, workers, tasks);
  const result spawn = measure(forkpool::start_method::spawn, workers, tasks);
  const double py = python ? python_tasks_per_s(workers, tasks) : -1;
  std::printf(
      "{\"bench\":\"respawn\",\"workers\":%u,\"tasks\":%d,"
      "\"replace_us_median\":{\"fork\":%.0f,\"forkserver\":%.0f,\"spawn\":%.0f},"
      "\"fresh_worker_tasks_per_s\":{\"fork\":%.0f,\"forkserver\":%.0f,\"spawn\":%.0f},"
      "\"python_max_tasks_per_child_1_tasks_per_s\":%.1f,\"ratio_forkserver_vs_python\":%.1f}\n",
      workers, tasks, fork.replace_us, forkserver.replace_us, spawn.replace_us, fork.tasks_per_s,
      forkserver.tasks_per_s, spawn.tasks_per_s, py, py > 0 ? forkserver.tasks_per_s / py : 0.0);
  return 0;
}
