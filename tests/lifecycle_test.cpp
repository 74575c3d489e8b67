// Worker lifecycle: replacement after N tasks or above an RSS limit, task timeouts, rolling
// restarts, initializers, crash loops. Nothing is lost or run twice.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "eventually.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

// A file in /tmp that tasks append to, removed when the test ends.
struct run_log {
  std::string path = "/tmp/forkpool-test-runs-" + std::to_string(::getpid()) + "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  ~run_log() { std::remove(path.c_str()); }
  std::map<int, int> counts() const {
    std::map<int, int> seen;
    std::ifstream in(path);
    for (int id; in >> id;) ++seen[id];
    return seen;
  }
};

std::uint64_t max_worker_rss(const pool_stats& s) {
  std::uint64_t most = 0;
  for (const auto& w : s.per_worker) most = std::max(most, w.rss_bytes);
  return most;
}

}  // namespace

TEST_SUITE_BEGIN("pool");

TEST_CASE("lifecycle: max_tasks_per_worker replaces a worker after N tasks and loses none" *
          doctest::timeout(60)) {
  pool_options o = options(1);
  o.max_tasks_per_worker = 5;
  process_pool pool(o);
  run_log log;
  std::vector<future<int>> runs;
  std::vector<future<int>> pids;
  for (int i = 0; i < 23; ++i) {
    runs.push_back(pool.submit(record_run, log.path, i));
    pids.push_back(pool.submit(pid_of_worker));
  }
  std::map<int, int> tasks_per_pid;
  for (int i = 0; i < 23; ++i) {
    CHECK(runs[i].get() == i);
    ++tasks_per_pid[pids[i].get()];
  }
  // 46 tasks, at most 5 per worker: at least 10 workers, none over its budget.
  CHECK(tasks_per_pid.size() >= 10);
  for (auto [pid, n] : tasks_per_pid) CHECK(n <= 5);
  const auto counts = log.counts();
  CHECK(counts.size() == 23);
  for (auto [id, n] : counts) CHECK(n == 1);  // each ran exactly once
  CHECK(pool.stats().restarts_task_count >= 9);
  CHECK(pool.stats().restarts_crash == 0);
}

TEST_CASE("lifecycle: max_worker_rss_bytes bounds the RSS of workers running a leaky task" *
          doctest::timeout(120)) {
  constexpr int kTasks = 1000, kLeakKib = 256;  // 250 MiB leaked in all
  auto run_leaky = [&](std::uint64_t limit) {
    pool_options o = options(2);
    o.max_worker_rss_bytes = limit;
    process_pool pool(o);
    std::uint64_t peak = 0;
    for (int batch = 0; batch < kTasks / 50; ++batch) {
      std::vector<future<void>> fs;
      for (int i = 0; i < 50; ++i) fs.push_back(pool.submit(leak_kib, kLeakKib));
      for (auto& f : fs) f.get();
      peak = std::max(peak, max_worker_rss(pool.stats()));
    }
    return std::make_pair(peak, pool.stats());
  };
  // The limit sits above what an idle worker uses (more under sanitizers), so only the leak
  // can cross it.
  std::uint64_t baseline;
  {
    process_pool pool(options(1));
    pool.submit(square, 1).get();
    baseline = max_worker_rss(pool.stats());
  }
  const std::uint64_t limit = baseline + (32ull << 20);
  auto [unlimited_peak, unlimited] = run_leaky(0);
  auto [limited_peak, limited] = run_leaky(limit);
  MESSAGE("baseline " << (baseline >> 20) << " MiB; peak without limit " << (unlimited_peak >> 20)
                      << " MiB; with a " << (limit >> 20) << " MiB limit " << (limited_peak >> 20)
                      << " MiB (" << (static_cast<std::int64_t>(limited_peak - limit) >> 10)
                      << " KiB over) after " << limited.restarts_memory << " memory restarts");
  CHECK(unlimited.restarts_memory == 0);
  CHECK(unlimited_peak > baseline + (100ull << 20));  // each worker leaked ~125 MiB
  CHECK(limited.restarts_memory >= 3);
  // A worker runs no task after the first one that leaves it above the limit: it overshoots by
  // at most one task's leak (plus a page table page or two). Under AddressSanitizer one task's
  // leak costs more than its bytes: their shadow, redzones and the allocator's own pages.
  const std::uint64_t one_leak = (kLeakKib << 10) * (kSanitized ? 2 : 1);
  CHECK(limited_peak <= limit + one_leak + (64u << 10));
  CHECK(limited.failed == 0);
  CHECK(limited.completed == kTasks);
}

TEST_CASE("lifecycle: a task that overruns task_timeout fails with task_timeout and others run" *
          doctest::timeout(60)) {
  pool_options o = options(2);
  o.task_timeout = std::chrono::milliseconds(300);
  process_pool pool(o);
  auto hung = pool.submit(sleep_ms, 20000);
  auto stubborn = pool.submit(ignore_sigterm_and_sleep, 20000);  // needs SIGKILL
  std::vector<future<int>> others;
  for (int i = 0; i < 50; ++i) others.push_back(pool.submit(square, i));
  CHECK_THROWS_AS(hung.get(), task_timeout);
  CHECK_THROWS_AS(stubborn.get(), task_timeout);
  for (int i = 0; i < 50; ++i) CHECK(others[i].get() == i * i);
  CHECK(pool.submit(sleep_ms, 10).get() > 0);  // under the limit: fine
  const pool_stats s = pool.stats();
  CHECK(s.restarts_timeout == 2);
  CHECK(s.restarts_crash == 0);
}

TEST_CASE("lifecycle: restart_workers replaces every worker while tasks run and loses nothing" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  const auto before = wait_for_workers(pool, 2);
  run_log log;
  std::vector<future<int>> fs;
  for (int i = 0; i < 300; ++i) {
    fs.push_back(pool.submit(record_run, log.path, i));
    if (i % 100 == 50) pool.restart_workers();
  }
  for (int i = 0; i < 300; ++i) CHECK(fs[i].get() == i);
  const auto counts = log.counts();
  CHECK(counts.size() == 300);
  CHECK(std::all_of(counts.begin(), counts.end(), [](auto& c) { return c.second == 1; }));
  // The last retired workers may still be finishing their exit when the last result arrives:
  // wait (bounded) until the pool lists only replacements.
  const auto has_old_worker = [&](const pool_stats& s) {
    for (const auto& w : s.per_worker)
      for (const auto& old : before.per_worker)
        if (w.pid == old.pid) return true;
    return false;
  };
  auto after = wait_for_workers(pool, 2);
  for (int i = 0; i < 2000 && has_old_worker(after); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = wait_for_workers(pool, 2);
  }
  CHECK(after.restarts_requested >= 2);
  CHECK(after.failed == 0);
  CHECK_FALSE(has_old_worker(after));
}

TEST_CASE("lifecycle: calls submitted after restart_workers returns never run on a retired worker" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  for (int round = 0; round < 20; ++round) {
    // The last restart over (requests made during one are done together after it), and the
    // workers serving now.
    pool_stats before;
    REQUIRE(eventually([&] {
      before = pool.stats();
      return before.workers_retiring == 0 && before.workers_alive == 2 &&
             before.restarts_requested == 2u * round;
    }));
    std::vector<int> old_pids;
    for (const auto& w : before.per_worker) old_pids.push_back(w.pid);
    pool.restart_workers();
    std::vector<future<int>> calls;
    for (int i = 0; i < 8; ++i) calls.push_back(pool.submit(pid_of_worker));
    for (auto& f : calls) {
      const int pid = f.get(std::chrono::seconds(30));
      CHECK(std::find(old_pids.begin(), old_pids.end(), pid) == old_pids.end());
    }
  }
  CHECK(pool.stats().restarts_requested == 40);
}

TEST_CASE("lifecycle: the initializer runs in every worker including replacements" *
          doctest::timeout(60)) {
  pool_options o = options(2);
  o.initializer = mark_initialized;
  o.max_tasks_per_worker = 3;  // many replacements
  process_pool pool(o);
  for (int i = 0; i < 20; ++i)
    CHECK(pool.submit(environment_variable, "FORKPOOL_TEST_INITIALIZED").get() == "yes");
  CHECK(std::getenv("FORKPOOL_TEST_INITIALIZED") == nullptr);  // not in the master
  CHECK(pool.stats().restarts_task_count >= 5);
}

TEST_CASE(
    "lifecycle: a throwing initializer fails tasks with its message and is not retried in a loop" *
    doctest::timeout(60)) {
  pool_options o = options(2);
  o.initializer = failing_initializer;
  process_pool pool(o);
  std::vector<future<int>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(pool.submit(square, i));
  for (auto& f : fs) {
    try {
      f.get();
      FAIL("expected remote_error");
    } catch (const remote_error& e) {
      CHECK(std::string(e.what()).find("no database") != std::string::npos);
      CHECK(std::string(e.what()).find("initializer") != std::string::npos);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last exits are noticed
  const auto failures = pool.stats().initializer_failures;
  CHECK(failures >= 1);
  CHECK(failures <= 6);  // one per task at most: a failing worker answers one call and goes
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(pool.stats().initializer_failures == failures);  // idle: no retries in the background
}

TEST_CASE("lifecycle: a crash loop forks one replacement per crash and the pool stays usable" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  std::vector<future<int>> crashes, fine;
  for (int i = 0; i < 30; ++i) {
    crashes.push_back(pool.submit(aborts, i));
    fine.push_back(pool.submit(square, i));
  }
  for (auto& f : crashes) CHECK_THROWS_AS(f.get(), worker_died);
  for (int i = 0; i < 30; ++i) CHECK(fine[i].get() == i * i);
  // Only crashes: replacements back off, but each crash is replaced once and no more.
  std::vector<future<int>> only_crashes;
  for (int i = 0; i < 10; ++i) only_crashes.push_back(pool.submit(segfaults, i));
  for (auto& f : only_crashes) CHECK_THROWS_AS(f.get(), worker_died);
  CHECK(pool.submit(square, 9).get() == 81);
  CHECK(pool.stats().restarts_crash == 40);
}

TEST_CASE("lifecycle: stats report per-worker pid and tasks and RSS and start time" *
          doctest::timeout(30)) {
  const auto before = std::chrono::system_clock::now();
  process_pool pool(options(2));
  for (int i = 0; i < 20; ++i) pool.submit(square, i).get();
  const auto s = wait_for_workers(pool, 2);
  std::uint64_t total = 0;
  for (const auto& w : s.per_worker) {
    CHECK(w.pid > 0);
    CHECK(w.started >= before);
    CHECK(w.started <= std::chrono::system_clock::now());
    total += w.tasks_run;
  }
  CHECK(total == 20);
}

TEST_SUITE_END();

TEST_CASE("spawn: workers are fresh runs of the program" * doctest::timeout(30)) {
  master_marker_value = 7;  // set in the master after the program started
  pool_options o;
  o.workers = 1;
  o.start = start_method::spawn;
  process_pool spawned(o);
  CHECK(spawned.submit(master_marker).get() == 0);  // a fresh program never saw it
  o.start = start_method::fork;
  process_pool forked(o);
  CHECK(forked.submit(master_marker).get() == 7);  // a fork copies it
  master_marker_value = 0;
}

TEST_CASE("spawn: an initializer that is a closure is refused with a clear error" *
          doctest::timeout(30)) {
  pool_options o;
  o.workers = 1;
  o.start = start_method::spawn;
  o.initializer = [] {};
  CHECK_THROWS_AS(process_pool{o}, std::invalid_argument);
}

TEST_CASE("chaos: workers SIGKILLed every few milliseconds while 100000 tasks run" *
          doctest::timeout(120)) {
  process_pool pool(options(2));
  std::atomic<bool> stop{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    unsigned seed = 12345;
    while (!stop) {
      // Under the sanitizers tasks run about ten times slower: killing less often keeps the
      // tasks run between kills about the same.
      std::this_thread::sleep_for(std::chrono::milliseconds(kSanitized ? 10 : 3));
      // Only workers that have finished a task: on a busy machine a worker can take longer than
      // the interval to start, and a killer faster than every start starves any pool (each death
      // before a first task is a failed start, and failed starts back off to one worker per
      // 100 ms, each killed in turn).
      std::vector<pid_t> ran;
      for (const auto& w : pool.stats().per_worker)
        if (w.tasks_run > 0) ran.push_back(w.pid);
      if (ran.empty()) continue;
      seed = seed * 1103515245 + 12345;
      if (::kill(ran[seed % ran.size()], SIGKILL) == 0) ++kills;
    }
  });
  // The full size in the plain build; under the sanitizers (about ten times slower) a fifth.
  constexpr int kTasks = kSanitized ? 20000 : 100000;
  std::vector<future<int>> fs;
  fs.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) fs.push_back(pool.submit(add, i, 1));
  int correct = 0, died = 0, wrong = 0, other = 0;
  for (int i = 0; i < kTasks; ++i) {
    try {
      (fs[i].get() == i + 1 ? correct : wrong)++;
    } catch (const worker_died&) {
      ++died;
    } catch (...) {
      ++other;
    }
  }
  stop = true;
  killer.join();
  MESSAGE("tasks " << kTasks << ", kills " << kills.load() << ", worker_died " << died
                   << ", correct " << correct);
  CHECK(correct + died == kTasks);
  CHECK(wrong == 0);
  CHECK(other == 0);
  CHECK(kills > 0);
  CHECK(died <= kills);  // a kill fails at most the one task that was running
  CHECK(pool.submit(add, 1, 1).get() == 2);
}
