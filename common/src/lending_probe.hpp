// Whether the master may read a worker's memory (process_vm_readv), so that the worker can leave
// a large result's contiguous runs where they are instead of copying them into the response
// area. The worker offers: it publishes its pid and the address of its own mapping of the
// channel. The master settles: it reads the channel's magic number through them once and says
// yes or no. Refused where ptrace rules (Yama, a seccomp filter, an undumpable worker) forbid
// the read. (The launcher may report a worker's pid later than its first reply.)
#pragma once

#include <atomic>
#include <cstdint>

namespace forkpool::detail {

enum class lending_state : std::uint32_t { unknown = 0, allowed = 1, refused = 2 };

/// The probe's words, inside the channel's header.
struct lending_words {
  std::atomic<lending_state> state;
  std::atomic<std::uint64_t> mapping;  ///< where the worker maps the header; 0 until offered
  std::atomic<std::int64_t> pid;       ///< the worker's pid, written before `mapping`
};

class lending_probe {
 public:
  /// `words` in the channel; `own_mapping` where this process maps the header, which starts
  /// with `magic`.
  lending_probe(lending_words& words, const void* own_mapping, std::uint64_t magic) noexcept
      : words_(&words), own_mapping_(own_mapping), magic_(magic) {}

  /// What the master has settled (both sides; the worker lends only once it says allowed).
  lending_state state() const noexcept { return words_->state.load(std::memory_order_acquire); }
  /// Worker side: publishes what the master's check reads.
  void offer() noexcept;
  /// Master side: the pid the worker published with its offer (0 before).
  int offered_pid() const noexcept;
  /// Master side: once the worker has offered, tries the read and settles state(). Returns the
  /// worker's pid if lending is allowed, else 0. `known_pid`, when not 0, must match it.
  int settle(int known_pid) noexcept;

 private:
  lending_words* words_;
  const void* own_mapping_;
  std::uint64_t magic_;
};

}  // namespace forkpool::detail
