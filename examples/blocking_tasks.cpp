// blocking_tasks: six blocking tasks on a pool of three, each logging which worker runs it (a
// thread id, or a process id), results gathered with forkpool::wait. The same code runs on a
// thread_pool or a process_pool: switching is one line, in main.
//
//   ./blocking_tasks --threads
//   ./blocking_tasks --processes
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <forkpool/forkpool.hpp>
#include <functional>
#include <string>
#include <thread>

// A blocking task: sleeps, then says where it ran.
std::string slow_lookup(int key) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::size_t thread = std::hash<std::thread::id>{}(std::this_thread::get_id()) % 10000;
  return "key " + std::to_string(key) + " ran in pid " + std::to_string(::getpid()) + ", thread #" +
         std::to_string(thread);
}
FORKPOOL_TASK(slow_lookup);

// Written once, against the executor concept.
template <forkpool::executor Pool>
void run_six(Pool& pool) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<forkpool::future<std::string>> futures;
  for (int key = 1; key <= 6; ++key) futures.push_back(pool.submit(slow_lookup, key));
  auto [done, not_done] = forkpool::wait(futures, forkpool::return_when::all_completed);
  for (auto& f : futures) std::printf("  %s\n", f.get().c_str());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("%zu done, %zu not done, in %lld ms (6 x 300 ms on 3 workers)\n", done.size(),
              not_done.size(), static_cast<long long>(ms.count()));
}

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  const bool threads = argc > 1 && std::strcmp(argv[1], "--threads") == 0;
  std::printf("master pid %d, using %s\n", ::getpid(), threads ? "threads" : "processes");
  if (threads) {
    forkpool::thread_pool pool({.workers = 3});  // <- the one line that differs
    run_six(pool);
  } else {
    forkpool::process_pool pool({.workers = 3});
    run_six(pool);
  }
  return 0;
}
