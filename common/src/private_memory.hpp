// A process's private resident memory: the pages only it maps in its private mappings
// (Private_Clean + Private_Dirty of the mappings /proc/self/smaps marks "p"), which is what
// ending or replacing it gives back. A worker forked from a master that holds a large heap maps
// that heap too, shared copy-on-write: statm counts it as the worker's own anonymous memory,
// smaps does not. Pages of shared mappings (the channel's rings and bulk areas) that only this
// process has touched yet are left out: they belong to the pool and outlive the process.
//
// Reading smaps walks every page table (1.5 ms at 300 MiB, 140 us at 10 MiB), statm costs well
// under a microsecond, so the probe answers from statm whenever that decides:
//   - private memory is at most the resident set (statm's second field);
//   - since the last exact reading, private memory has grown by at least the anonymous memory
//     the process added (statm's resident - shared): sharing only shrinks in a process that does
//     not fork. Pages a copy-on-write break or the other sharer's exit made private are what the
//     anonymous count does not show, so while the last reading found shared anonymous memory,
//     exact readings are repeated now and then.
// Exact readings are kept below about 2% of the time (each waits at least 50 times its own
// cost), except the one that confirms a figure above a limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

class private_memory_probe {
 public:
  /// What the process's anonymous memory is at construction, so no exact reading is needed to
  /// start from: a child just forked shares all of it with its parent; a fresh run of a program
  /// (exec) owns all of it; otherwise the first call reads exactly.
  /// With `exact_at_start`, a small process (under 128 MiB resident) reads exactly at once
  /// (up to about 0.6 ms), so that a limit is judged from a true figure from the first task on.
  enum class start { forked_child, fresh_run, unknown };
  explicit private_memory_probe(start how = start::unknown, bool exact_at_start = false);

  /// Private resident bytes of this process, best known now. With `limit` != 0 the answer is
  /// above `limit` only when an exact reading taken in this call says so, so a caller may act on
  /// `bytes() > limit` at once. Call from one thread at a time.
  std::uint64_t bytes(std::uint64_t limit = 0);

 private:
  struct statm_reading {
    std::uint64_t resident = 0;
    std::uint64_t anonymous = 0;
  };
  bool read_statm(statm_reading& out) const;
  bool read_exact(const statm_reading& now);
  bool watch_shared(std::chrono::steady_clock::time_point now) const;
  void assume(std::uint64_t private_bytes, const statm_reading& now);

  unique_fd statm_;
  unique_fd smaps_;
  std::vector<char> text_;  ///< smaps's text, kept between readings
  std::uint64_t page_bytes_;
  bool have_exact_ = false;
  std::uint64_t private_at_exact_ = 0;
  std::uint64_t anonymous_at_exact_ = 0;
  std::uint64_t shared_anonymous_at_exact_ = 0;
  std::chrono::steady_clock::time_point next_exact_{};
};

}  // namespace forkpool::detail
