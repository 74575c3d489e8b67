// The memory task states come from (forkpool/detail/task_memory.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "forkpool/detail/task_memory.hpp"
#include "test_tasks.hpp"

using namespace forkpool::detail;

TEST_CASE("task memory: blocks are aligned and separate and a freed block is reused" *
          doctest::timeout(5)) {
  constexpr std::size_t kBytes = 200;
  std::vector<std::byte*> blocks;
  for (int i = 0; i < 1000; ++i) {
    auto* block = static_cast<std::byte*>(allocate_task_memory(kBytes));
    REQUIRE(block != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(block) % 64 == 0);
    std::memset(block, i & 0xff, kBytes);
    blocks.push_back(block);
  }
  std::sort(blocks.begin(), blocks.end());
  for (std::size_t i = 1; i < blocks.size(); ++i) CHECK(blocks[i] - blocks[i - 1] >= 200);
  std::byte* freed = blocks[500];
  free_task_memory(freed, kBytes);
#if !defined(__SANITIZE_ADDRESS__)  // the heap, under AddressSanitizer, need not hand it back
  void* again = allocate_task_memory(kBytes + 50);  // the same size class (193 to 256 bytes)
  CHECK(again == freed);
  blocks[500] = static_cast<std::byte*>(again);
#else
  blocks[500] = static_cast<std::byte*>(allocate_task_memory(kBytes));
#endif
  for (std::byte* block : blocks) free_task_memory(block, kBytes);
}

// Blocks one thread frees (the pool's thread drops the last reference to a task) are given back
// in batches for another thread (the submitting one) to reuse, and a thread that ends returns
// the blocks it kept: a steady stream of tasks across threads keeps reusing the same blocks.
TEST_CASE("task memory: blocks freed on one thread are reused by another" * doctest::timeout(20)) {
  constexpr std::size_t kBytes = 300;
  constexpr int kRounds = 50, kPerRound = 200;
  std::vector<std::byte*> all_seen;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::byte*> blocks;
    for (int i = 0; i < kPerRound; ++i) {
      auto* block = static_cast<std::byte*>(allocate_task_memory(kBytes));
      REQUIRE(block != nullptr);
      std::memset(block, round & 0xff, kBytes);
      blocks.push_back(block);
    }
    all_seen.insert(all_seen.end(), blocks.begin(), blocks.end());
    std::thread freer([&] {
      for (std::byte* block : blocks) free_task_memory(block, kBytes);
    });
    freer.join();
  }
  std::sort(all_seen.begin(), all_seen.end());
  all_seen.erase(std::unique(all_seen.begin(), all_seen.end()), all_seen.end());
#if !defined(__SANITIZE_ADDRESS__)  // the heap, under AddressSanitizer, need not reuse anything
  // 10,000 allocations; without reuse across threads every one would be a block of its own.
  CHECK(all_seen.size() <= 4 * kPerRound);
#else
  CHECK(!all_seen.empty());
#endif
}

TEST_CASE("task memory: a block larger than the size classes comes from the heap" *
          doctest::timeout(5)) {
  void* large = allocate_task_memory(5000);
  REQUIRE(large != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(large) % 64 == 0);
  std::memset(large, 1, 5000);
  free_task_memory(large, 5000);
}

TEST_SUITE_BEGIN("pool");

// More task states at once than the region holds: the rest come from the heap, and every
// state, from either place, is freed to where it came from.
TEST_CASE("pool: more tasks in flight than the task memory region holds all complete" *
          doctest::timeout(120)) {
  forkpool::process_pool pool(test_tasks::options(2));
  const std::size_t count = kTaskMemoryBytes / 256 + 20000;
  std::vector<forkpool::future<int>> futures;
  futures.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    futures.push_back(pool.submit(test_tasks::add, static_cast<int>(i), 1));
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < count; ++i)
    if (futures[i].get() != static_cast<int>(i) + 1) ++wrong;
  CHECK(wrong == 0);
  futures.clear();
  CHECK(pool.submit(test_tasks::add, 2, 3).get() == 5);  // reused blocks work as new ones
}

TEST_SUITE_END();
