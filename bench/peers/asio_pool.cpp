// asio_pool: boost::asio::thread_pool with a std::promise per task, the thread pool a C++ user
// reaches for, side by side with forkpool::thread_pool in the same run (same thread count, same
// no-op). Round trip p50 (submit one, wait for it) and bursts (submit all, then wait for each),
// the two pools' bursts alternating: the median and the first (the one that touches fresh memory).
// Prints one JSON line.
//
//   ./asio_pool [--threads 2] [--calls 20000] [--batch 100000] [--bursts 3] [--only
//   asio|thread_pool]
//
// --only measures one side (the other's figures print as 0): for a profiler.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <forkpool/thread_pool.hpp>
#include <future>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

int noop(int x) { return x; }

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

struct figures {
  double p50_us = 0;
  std::vector<double> bursts;  ///< tasks/s of each burst, in order
};

// `submit(i)` returns something with get() that yields i.
template <class Submit>
double round_trip_p50(Submit submit, int calls) {
  for (int i = 0; i < 2000; ++i) submit(i).get();
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto start = clock_type::now();
    if (submit(i).get() != i) std::exit(1);
    latencies.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  return percentile(latencies, 0.5);
}

// Tasks/s of `batch` submissions at once, then a wait for each.
template <class Submit>
double burst(Submit submit, int batch) {
  using future_type = decltype(submit(0));
  std::vector<future_type> futures;
  futures.reserve(static_cast<std::size_t>(batch));
  const auto start = clock_type::now();
  for (int i = 0; i < batch; ++i) futures.push_back(submit(i));
  long long sum = 0;
  for (auto& f : futures) sum += f.get();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  if (sum != static_cast<long long>(batch) * (batch - 1) / 2) std::exit(1);
  return batch / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, calls = 20000, batch = 100000, bursts = 3;
  bool run_asio = true, run_ours = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--only")) {
      run_asio = !std::strcmp(argv[i + 1], "asio");
      run_ours = !std::strcmp(argv[i + 1], "thread_pool");
    }
    const int value = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = value;
    if (!std::strcmp(argv[i], "--calls")) calls = value;
    if (!std::strcmp(argv[i], "--batch")) batch = value;
    if (!std::strcmp(argv[i], "--bursts")) bursts = std::max(1, value);
  }
  boost::asio::thread_pool asio_threads(static_cast<std::size_t>(threads));
  forkpool::thread_pool pool({.workers = static_cast<unsigned>(threads)});
  auto asio_submit = [&](int x) {
    std::promise<int> promise;
    std::future<int> result = promise.get_future();
    boost::asio::post(asio_threads,
                      [promise = std::move(promise), x]() mutable { promise.set_value(noop(x)); });
    return result;
  };
  auto our_submit = [&](int x) { return pool.submit(noop, x); };
  figures asio_figures, ours;
  if (run_asio) asio_figures.p50_us = round_trip_p50(asio_submit, calls);
  if (run_ours) ours.p50_us = round_trip_p50(our_submit, calls);
  // Alternating, so that a change in the machine's load falls on both.
  for (int round = 0; round < bursts; ++round) {
    if (run_asio) asio_figures.bursts.push_back(burst(asio_submit, batch));
    if (run_ours) ours.bursts.push_back(burst(our_submit, batch));
  }
  asio_threads.join();
  auto first = [](const figures& f) { return f.bursts.empty() ? 0.0 : f.bursts.front(); };
  auto median = [](const figures& f) { return f.bursts.empty() ? 0.0 : percentile(f.bursts, 0.5); };
  std::printf(
      "{\"bench\":\"asio_pool\",\"threads\":%d,\"bursts\":%d,\"asio_p50_us\":%.2f,"
      "\"asio_batch_tasks_per_s\":%.0f,\"asio_first_batch_tasks_per_s\":%.0f,"
      "\"thread_pool_p50_us\":%.2f,\"thread_pool_batch_tasks_per_s\":%.0f,"
      "\"thread_pool_first_batch_tasks_per_s\":%.0f}\n",
      threads, bursts, asio_figures.p50_us, median(asio_figures), first(asio_figures), ours.p50_us,
      median(ours), first(ours));
  return 0;
}
