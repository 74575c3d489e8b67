// forkpool::shared_bytes: a task's result read in place by its caller, given back when dropped;
// bad use is a typed error on one future, and the pool keeps serving.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <forkpool/shared_bytes.hpp>

#include "eventually.hpp"
#include "proc_status.hpp"
#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace shared_tasks {

std::byte pattern_at(std::size_t i, int seed) {
  return static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed)) & 0xff);
}

shared_bytes filled(std::size_t size, int seed) {
  shared_bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out.data()[i] = pattern_at(i, seed);
  return out;
}

bool has_pattern(const shared_bytes& bytes, int seed) {
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (bytes.data()[i] != pattern_at(i, seed)) return false;
  return true;
}

// The same buffer twice in one result.
std::pair<shared_bytes, shared_bytes> same_twice(std::size_t size) {
  shared_bytes one = filled(size, 4);
  return {one, one};
}

std::uint64_t sum_of_bytes(const shared_bytes& bytes) {
  std::uint64_t sum = 0;
  for (const std::byte b : bytes.bytes()) sum += static_cast<std::uint64_t>(b);
  return sum;
}

shared_bytes filled_3(std::size_t size) { return filled(size, 3); }

// Whether a task's own buffer comes from its worker's shared area.
bool allocated_in_shared_memory(std::size_t size) { return shared_bytes(size).in_shared_memory(); }

// Keeps the buffer it returns (a cache): the worker still refers to it after the reply.
shared_bytes cached() {
  static shared_bytes kept = filled(10000, 8);
  return kept;
}

// Allocates `count` buffers, keeps them all until it returns: the worker's own count toward the
// area's limits too.
std::size_t hold_many(std::size_t count) {
  std::vector<shared_bytes> held;
  for (std::size_t i = 0; i < count; ++i) held.emplace_back(4096);
  return held.size();
}

}  // namespace shared_tasks

FORKPOOL_TASK_NAMED(shared_tasks::filled, "shared.filled");
FORKPOOL_TASK_NAMED(shared_tasks::filled_3, "shared.filled_3");
FORKPOOL_TASK_NAMED(shared_tasks::same_twice, "shared.same_twice");
FORKPOOL_TASK_NAMED(shared_tasks::sum_of_bytes, "shared.sum_of_bytes");
FORKPOOL_TASK_NAMED(shared_tasks::allocated_in_shared_memory, "shared.allocated_in_shared_memory");
FORKPOOL_TASK_NAMED(shared_tasks::hold_many, "shared.hold_many");
FORKPOOL_TASK_NAMED(shared_tasks::cached, "shared.cached");

using namespace shared_tasks;

TEST_SUITE_BEGIN("shared_bytes");

namespace {

pool_options with_area(unsigned workers, std::size_t area_bytes) {
  pool_options o = options(workers);
  o.shared_bytes_per_worker = area_bytes;
  return o;
}

}  // namespace

TEST_CASE("shared_bytes: a task's buffer reaches its caller in place and intact" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  for (const std::size_t size :
       {std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{(3 << 20) + 17}}) {
    shared_bytes result = pool.submit(filled, size, 7).get();
    CHECK(result.size() == size);
    CHECK(result.in_shared_memory());
    CHECK(has_pattern(result, 7));
    // The caller's to write, too.
    result.data()[0] = std::byte{0x5a};
    CHECK(result.data()[0] == std::byte{0x5a});
  }
  CHECK(pool.submit(allocated_in_shared_memory, std::size_t{100}).get());
  const shared_bytes empty = pool.submit(filled, std::size_t{0}, 1).get();
  CHECK(empty.empty());
  CHECK_FALSE(empty.in_shared_memory());
}

TEST_CASE("shared_bytes: a dropped result gives its room back to the worker" *
          doctest::timeout(60)) {
  // Room for one 3 MiB buffer at a time: twenty in a row only fit if each comes back.
  process_pool pool(with_area(1, 4 << 20));
  for (int i = 0; i < 20; ++i) {
    const shared_bytes result = pool.submit(filled, std::size_t{3} << 20, i).get();
    REQUIRE(result.in_shared_memory());
    CHECK(has_pattern(result, i));
  }
}

TEST_CASE("shared_bytes: an area with no room fails that call alone with shared_memory_exhausted" *
          doctest::timeout(60)) {
  process_pool pool(with_area(1, 4 << 20));
  shared_bytes held = pool.submit(filled, std::size_t{3} << 20, 1).get();
  REQUIRE(held.in_shared_memory());
  auto refused = pool.submit(filled, std::size_t{3} << 20, 2);
  CHECK_THROWS_AS(refused.get(), shared_memory_exhausted);
  try {
    refused.get();
  } catch (const shared_memory_exhausted& e) {
    CHECK(std::string(e.what()).find("1 buffers of") != std::string::npos);
  }
  // Larger than the whole area: refused at once, whatever is held.
  CHECK_THROWS_AS(pool.submit(filled, std::size_t{5} << 20, 3).get(), shared_memory_exhausted);
  // The pool keeps serving; the held buffer is untouched; dropping it makes room.
  CHECK(pool.submit(square, 9).get() == 81);
  CHECK(has_pattern(held, 1));
  held = shared_bytes();
  CHECK(has_pattern(pool.submit(filled, std::size_t{3} << 20, 4).get(), 4));
  CHECK(pool.stats().failed == 2);
}

TEST_CASE("shared_bytes: at most kSharedBuffersPerWorker are held per worker" *
          doctest::timeout(60)) {
  process_pool pool(with_area(1, 16 << 20));
  std::vector<shared_bytes> held;
  for (std::uint32_t i = 0; i < shared_bytes::kSharedBuffersPerWorker; ++i)
    held.push_back(pool.submit(filled, std::size_t{100}, static_cast<int>(i)).get());
  for (const shared_bytes& b : held) REQUIRE(b.in_shared_memory());
  CHECK_THROWS_AS(pool.submit(filled, std::size_t{100}, 0).get(), shared_memory_exhausted);
  held.pop_back();
  CHECK(pool.submit(filled, std::size_t{100}, 5).get().in_shared_memory());
  // The worker's own buffers count as well: 64 held by callers leave it none.
  while (held.size() < shared_bytes::kSharedBuffersPerWorker)
    held.push_back(pool.submit(filled, std::size_t{100}, 0).get());
  CHECK_THROWS_AS(pool.submit(hold_many, std::size_t{1}).get(), shared_memory_exhausted);
  held.clear();
  CHECK(pool.submit(hold_many, std::size_t{shared_bytes::kSharedBuffersPerWorker}).get() ==
        shared_bytes::kSharedBuffersPerWorker);
}

TEST_CASE("shared_bytes: the same buffer twice in one result is one buffer in the caller" *
          doctest::timeout(60)) {
  process_pool pool(with_area(1, 8 << 20));
  auto [first, second] = pool.submit(same_twice, std::size_t{10000}).get();
  CHECK(first.in_shared_memory());
  CHECK(first.data() == second.data());
  CHECK(has_pattern(second, 4));
}

TEST_CASE("shared_bytes: a buffer the caller still holds goes out again as a copy" *
          doctest::timeout(60)) {
  process_pool pool(with_area(1, 8 << 20));
  shared_bytes first = pool.submit(cached).get();
  CHECK(first.in_shared_memory());
  // The caller holds the block: handing it over twice would let one release free it under the
  // other, so the second answer is a copy of the same bytes.
  const shared_bytes second = pool.submit(cached).get();
  CHECK_FALSE(second.in_shared_memory());
  CHECK(has_pattern(second, 8));
  first = shared_bytes();
  const shared_bytes third = pool.submit(cached).get();
  CHECK(third.in_shared_memory());
  CHECK(has_pattern(third, 8));
}

TEST_CASE("shared_bytes: stats count the buffers callers hold until they drop them" *
          doctest::timeout(60)) {
  process_pool pool(with_area(1, 8 << 20));
  CHECK(pool.stats().shared_buffers_held == 0);
  shared_bytes a = pool.submit(filled, std::size_t{1} << 20, 1).get();
  shared_bytes b = pool.submit(filled, std::size_t{1000}, 2).get();
  const shared_bytes copy_of_a = a;  // a copy is the same buffer
  pool_stats s = pool.stats();
  CHECK(s.shared_buffers_held == 2);
  CHECK(s.shared_bytes_held == (std::size_t{1} << 20) + 1000);
  b = shared_bytes();
  CHECK(pool.stats().shared_buffers_held == 1);
  // A buffer of a replaced worker still counts while its caller holds it.
  const int first_pid = wait_for_workers(pool, 1).per_worker.at(0).pid;
  pool.restart_workers();
  CHECK(eventually([&] {
    const pool_stats now = pool.stats();
    return now.workers_alive == 1 && now.workers_retiring == 0 &&
           now.per_worker.at(0).pid != first_pid;
  }));
  CHECK(pool.stats().shared_bytes_held == std::size_t{1} << 20);
  a = shared_bytes();
  CHECK(pool.stats().shared_buffers_held == 1);  // copy_of_a still holds it
}

TEST_CASE("shared_bytes: a held buffer outlives its worker and its pool" * doctest::timeout(90)) {
  const std::size_t descriptors_before = open_descriptors();
  shared_bytes kept;
  {
    process_pool pool(with_area(1, 8 << 20));
    kept = pool.submit(filled, std::size_t{1} << 20, 3).get();
    const int first_pid = wait_for_workers(pool, 1).per_worker.at(0).pid;
    pool.restart_workers();
    CHECK(eventually([&] {
      const pool_stats s = pool.stats();
      return s.workers_alive == 1 && s.workers_retiring == 0 &&
             s.per_worker.at(0).pid != first_pid && s.per_worker.at(0).pid != 0;
    }));
    CHECK(has_pattern(kept, 3));
    CHECK(has_pattern(pool.submit(filled, std::size_t{1} << 20, 8).get(), 8));
  }
  CHECK(kept.in_shared_memory());
  CHECK(has_pattern(kept, 3));
  // The buffer holds a mapping, not a descriptor.
  CHECK(open_descriptors() == descriptors_before);
  kept = shared_bytes();
}

TEST_CASE("shared_bytes: without a shared area and in a thread_pool the bytes travel by copy" *
          doctest::timeout(60)) {
  {
    process_pool pool(with_area(1, 0));
    const shared_bytes copied = pool.submit(filled, std::size_t{2} << 20, 6).get();
    CHECK_FALSE(copied.in_shared_memory());
    CHECK(copied.size() == std::size_t{2} << 20);
    CHECK(has_pattern(copied, 6));
    CHECK_FALSE(pool.submit(allocated_in_shared_memory, std::size_t{100}).get());
  }
  thread_pool threads(options(1));
  const shared_bytes local = threads.submit(filled, std::size_t{5000}, 2).get();
  CHECK_FALSE(local.in_shared_memory());
  CHECK(has_pattern(local, 2));
}

TEST_CASE("shared_bytes: a received buffer sent back as an argument arrives as a copy" *
          doctest::timeout(60)) {
  process_pool pool(options(1));
  const shared_bytes result = pool.submit(filled, std::size_t{300000}, 9).get();
  REQUIRE(result.in_shared_memory());
  CHECK(pool.submit(sum_of_bytes, result).get() == sum_of_bytes(result));
  const shared_bytes mine = shared_bytes::copy_of(result.bytes());
  CHECK_FALSE(mine.in_shared_memory());
  CHECK(pool.submit(sum_of_bytes, mine).get() == sum_of_bytes(result));
}

TEST_CASE("shared_bytes: map returns buffers in place" * doctest::timeout(60)) {
  process_pool pool(with_area(2, 16 << 20));
  std::vector<std::size_t> sizes(40, 5000);
  const std::vector<shared_bytes> results = pool.map(filled_3, sizes, map_options{.chunksize = 8});
  REQUIRE(results.size() == 40);
  for (const shared_bytes& b : results) {
    CHECK(b.in_shared_memory());
    CHECK(has_pattern(b, 3));
  }
}

TEST_CASE("shared_bytes: threads that take and drop results at once lose no room and no bytes" *
          doctest::timeout(90)) {
  // Room for 8 buffers of 1 MiB per worker: 4 threads x 40 results each only fit if every drop
  // (from any thread) gives its room back.
  process_pool pool(with_area(2, 8 << 20));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const int seed = t * 100 + i;
        try {
          shared_bytes a = pool.submit(filled, std::size_t{1} << 20, seed).get();
          if (!a.in_shared_memory() || !has_pattern(a, seed)) bad.fetch_add(1);
        } catch (const std::exception&) {
          bad.fetch_add(1);
        }
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(bad.load() == 0);
  CHECK(pool.stats().completed == 160);
}

TEST_SUITE_END();
