// Waiting for a state on a busy machine: poll with a bound, never sleep a fixed time.
#pragma once

#include <chrono>
#include <thread>

/// Polls `condition` every 10 ms until it holds or `limit` passes; returns whether it held.
template <class Condition>
bool eventually(Condition condition,
                std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}
