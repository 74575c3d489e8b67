// asio_pool: boost::asio::thread_pool with a std::promise per task, the thread pool a C++ user
// reaches for, side by side with forkpool::thread_pool in the same run (same thread count, same
// no-op). Round trip p50 (submit one, wait for it) and a burst (submit all, then wait for each).
// Prints one JSON line.
//
//   ./asio_pool [--threads 2] [--calls 20000] [--batch 100000]
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
  double burst_per_s = 0;
};

// `submit(i)` returns something with get() that yields i.
template <class Submit>
figures measure(Submit submit, int calls, int batch) {
  for (int i = 0; i < 2000; ++i) submit(i).get();
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(calls));
  for (int i = 0; i < calls; ++i) {
    const auto start = clock_type::now();
    if (submit(i).get() != i) std::exit(1);
    latencies.push_back(
        std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  using future_type = decltype(submit(0));
  std::vector<future_type> futures;
  futures.reserve(static_cast<std::size_t>(batch));
  const auto start = clock_type::now();
  for (int i = 0; i < batch; ++i) futures.push_back(submit(i));
  long long sum = 0;
  for (auto& f : futures) sum += f.get();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  if (sum != static_cast<long long>(batch) * (batch - 1) / 2) std::exit(1);
  return {percentile(latencies, 0.5), batch / seconds};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, calls = 20000, batch = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = value;
    if (!std::strcmp(argv[i], "--calls")) calls = value;
    if (!std::strcmp(argv[i], "--batch")) batch = value;
  }
  figures asio_figures, ours;
  {
    boost::asio::thread_pool pool(static_cast<std::size_t>(threads));
    asio_figures = measure(
        [&](int x) {
          std::promise<int> promise;
          std::future<int> result = promise.get_future();
          boost::asio::post(
              pool, [promise = std::move(promise), x]() mutable { promise.set_value(noop(x)); });
          return result;
        },
        calls, batch);
    pool.join();
  }
  {
    forkpool::thread_pool pool({.workers = static_cast<unsigned>(threads)});
    ours = measure([&](int x) { return pool.submit(noop, x); }, calls, batch);
  }
  std::printf(
      "{\"bench\":\"asio_pool\",\"threads\":%d,\"asio_p50_us\":%.2f,\"asio_batch_tasks_per_s\":%.0f,"
      "\"thread_pool_p50_us\":%.2f,\"thread_pool_batch_tasks_per_s\":%.0f}\n",
      threads, asio_figures.p50_us, asio_figures.burst_per_s, ours.p50_us, ours.burst_per_s);
  return 0;
}
