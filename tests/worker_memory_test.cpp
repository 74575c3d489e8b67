// What a worker's memory is: the pages only it maps (what replacing it gives back), not the
// master's heap it shares copy-on-write, nor the pool's shared memory it has touched.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

#include "eventually.hpp"
#include "proc_status.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
// A fresh worker's own memory at most: AddressSanitizer's shadow and allocator metadata make a
// spawned worker's about 60 MiB.
constexpr std::uint64_t kSmallWorker = (kSanitized ? 100 : 16) * kMiB;

// Filled by a test in the master before a fork-method pool starts, so its workers inherit it.
std::vector<char> inherited_heap;

// Writes one byte in every page of what the worker inherited: each write copies a page that was
// shared into the worker's own. Returns the bytes written to.
std::uint64_t dirty_inherited_heap() {
  for (std::size_t i = 0; i < inherited_heap.size(); i += 4096) inherited_heap[i] = 2;
  return inherited_heap.size();
}

std::vector<char> touched(std::uint64_t bytes) {
  std::vector<char> heap(bytes);
  std::memset(heap.data(), 1, heap.size());  // resident, as a loaded data set is
  return heap;
}

int own_oom_score_adj() {
  std::ifstream file("/proc/self/oom_score_adj");
  int value = -9999;
  file >> value;
  return value;
}

}  // namespace

FORKPOOL_TASK(dirty_inherited_heap);
FORKPOOL_TASK(own_oom_score_adj);

TEST_SUITE_BEGIN("pool");

TEST_CASE("pool: the OOM killer is offered a worker before the program that owns the pool") {
  for (const start_method start : {start_method::fork, start_method::forkserver}) {
    CAPTURE(static_cast<int>(start));
    pool_options o = options(1);
    o.start = start;
    process_pool pool(o);
    CHECK(pool.submit(own_oom_score_adj).get() == std::min(own_oom_score_adj() + 300, 1000));
  }
}

TEST_CASE("pool: a worker reports its own pages and what its tasks keep" * doctest::timeout(60)) {
  process_pool pool(options(1));
  // Every live process has some private pages (stack, its heap's first pages); the first exact
  // reading is spaced out after start, so ask until it has come.
  CHECK(eventually([&] {
    pool.submit(square, 3).get();
    const pool_stats s = pool.stats();
    return s.per_worker.size() == 1 && s.per_worker[0].rss_bytes > 64 * 1024;
  }));
  const std::uint64_t before = pool.stats().per_worker.at(0).rss_bytes;
  CHECK(before < kSmallWorker);
  pool.submit(leak_kib, 40 * 1024).get();
  pool.submit(square, 4).get();
  const std::uint64_t after = pool.stats().per_worker.at(0).rss_bytes;
  CHECK(after >= before + 39 * kMiB);
  CHECK(after < before + 48 * kMiB);
}

TEST_CASE("pool: a master's large heap is not its workers' memory" * doctest::timeout(90)) {
  // A service that loaded its data before making its pool, and limits its workers below that.
  const std::vector<char> heap = touched(256 * kMiB);
  pool_options o = options(2);
  o.max_worker_rss_bytes = 128 * kMiB;
  process_pool pool(o);
  std::vector<future<int>> results;
  for (int i = 0; i < 50; ++i) results.push_back(pool.submit(square, i));
  for (int i = 0; i < 50; ++i) CHECK(results[static_cast<std::size_t>(i)].get() == i * i);
  const pool_stats s = wait_for_workers(pool, 2);
  CHECK(s.restarts_memory == 0);
  CHECK(s.restarts() == 0);
  REQUIRE(s.per_worker.size() == 2);
  for (const auto& w : s.per_worker) CHECK(w.rss_bytes < kSmallWorker);
  if (start_method_under_test() == start_method::forkserver) {
    // The workers' parent, the fork server, is a fresh run of this program: small for real.
    const long long server = status_field(s.per_worker[0].pid, "PPid:");
    REQUIRE(server > 1);
    CHECK(server != ::getpid());
    // Far below the 256 MiB it would hold if forked from here (AddressSanitizer's own memory
    // makes any fresh process of this program about 115 MiB).
    CHECK(status_field(static_cast<int>(server), "VmRSS:") < (kSanitized ? 192 : 64) * 1024);
  }
  CHECK(heap[heap.size() / 2] == 1);
}

TEST_CASE("pool: memory a worker shares with its master counts once the worker has written it" *
          doctest::timeout(90)) {
  // Only a worker forked from the master itself inherits its heap.
  if (start_method_under_test() != start_method::fork) return;
  inherited_heap = touched(96 * kMiB);
  pool_options o = options(1);
  o.max_worker_rss_bytes = 64 * kMiB;
  process_pool pool(o);
  CHECK(pool.submit(square, 2).get() == 4);
  CHECK(pool.stats().restarts_memory == 0);
  // Writing copies each page: nothing new is allocated, so statm's anonymous count stays the
  // same; the exact readings, spaced out, find the copies, and the worker is replaced.
  CHECK(pool.submit(dirty_inherited_heap).get() == 96 * kMiB);
  CHECK(eventually([&] {
    pool.submit(square, 3).get();
    return pool.stats().restarts_memory >= 1;
  }));
  inherited_heap = {};
}

TEST_SUITE_END();

TEST_CASE("thread_pool: stats report the process's private memory" * doctest::timeout(60)) {
  thread_pool pool(pool_options{.workers = 2});
  pool.submit([] { return 1; }).get();
  const std::uint64_t before = pool.stats().per_worker.at(0).rss_bytes;
  CHECK(before > 64 * 1024);
  const std::vector<char> heap = touched(64 * kMiB);
  const std::uint64_t after = pool.stats().per_worker.at(0).rss_bytes;
  CHECK(after >= before + 63 * kMiB);
  CHECK(heap[heap.size() / 2] == 1);
}
