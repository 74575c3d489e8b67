// The four-byte lock inside every task's state: mutual exclusion under contention, try_lock.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "forkpool/detail/word_lock.hpp"

using forkpool::detail::word_lock;

TEST_CASE("word_lock: threads taking turns never overlap and every increment counts" *
          doctest::timeout(60)) {
  word_lock lock;
  long counter = 0;  // plain: only the lock keeps the increments apart
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  constexpr int kThreads = 4, kRounds = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard held(lock);
        if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlapped = true;
        ++counter;
        if (i % 1000 == 0) std::this_thread::yield();  // held while descheduled: others sleep
        inside.fetch_sub(1, std::memory_order_relaxed);
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK_FALSE(overlapped.load());
  CHECK(counter == long{kThreads} * kRounds);
}

TEST_CASE("word_lock: try_lock fails while another thread holds it and succeeds once released" *
          doctest::timeout(30)) {
  word_lock lock;
  lock.lock();
  bool taken_while_held = true;
  std::thread([&] { taken_while_held = lock.try_lock(); }).join();
  CHECK_FALSE(taken_while_held);
  lock.unlock();
  bool taken_after = false;
  std::thread([&] {
    taken_after = lock.try_lock();
    if (taken_after) lock.unlock();
  }).join();
  CHECK(taken_after);
  CHECK(lock.try_lock());
  lock.unlock();
}
