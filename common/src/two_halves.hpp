// Large page work split over this thread and one helper thread where a CPU is free for it. The
// kernel zeroing fresh pages and copying tens of MiB are each bound by one core: decoding a
// 64 MiB result otherwise keeps one CPU busy for ~20 ms while the other waits for it.
#pragma once

#include <cstddef>
#include <system_error>
#include <thread>

#include "forkpool/detail/pages.hpp"
#include "forkpool/detail/spin.hpp"

namespace forkpool::detail {

/// Work smaller than this stays on one thread: starting a thread costs ~50 µs.
inline constexpr std::size_t kSplitBytes = std::size_t{16} << 20;

/// Calls work(offset, length) over [0, bytes): in two pieces when `split`, the second on a
/// helper thread and the first here, divided at a multiple of `unit` (a power of two); in one
/// piece here otherwise, or when no thread can be started. Returns once all the work is done.
template <class Work>
void in_two_halves(std::size_t bytes, std::size_t unit, Work work, bool split) noexcept {
  const std::size_t half = page_floor(bytes / 2, unit);
  if (!split || half == 0) {
    work(std::size_t{0}, bytes);
    return;
  }
  std::thread helper;
  try {
    helper = std::thread([&work, half, bytes] { work(half, bytes - half); });
  } catch (const std::system_error&) {  // out of threads or memory: do it all here
    work(std::size_t{0}, bytes);
    return;
  }
  work(std::size_t{0}, half);
  helper.join();
}

/// Whether work of `bytes` is worth a second thread: at least kSplitBytes, and a second CPU
/// usable and free (cpu_to_spare).
inline bool worth_two_threads(std::size_t bytes) noexcept {
  return bytes >= kSplitBytes && cpu_to_spare() && usable_cpus() >= 2;
}

/// As above, split where worth_two_threads says so.
template <class Work>
void in_two_halves(std::size_t bytes, std::size_t unit, Work work) noexcept {
  in_two_halves(bytes, unit, work, worth_two_threads(bytes));
}

}  // namespace forkpool::detail
