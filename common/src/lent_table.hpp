// The table of lent runs at the front of a reply body flagged kBodyLent (wire.hpp): how the
// worker writes it and how the master reads and checks it before reading any run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "forkpool/detail/archive.hpp"
#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/wire.hpp"

namespace forkpool::detail {

/// Appends the table for `runs` (at most kMaxLentRuns) to `out`.
void append_lent_table(byte_buffer& out, std::span<const lent_run> runs);

/// The runs of one reply, as read from its table.
struct lent_runs {
  std::array<lent_run, kMaxLentRuns> runs;
  std::uint32_t count = 0;
  std::span<const lent_run> view() const noexcept { return {runs.data(), count}; }
};

/// Reads the table at the front of `body` into `out` and moves `body` past it. False when the
/// table is malformed (empty, too many runs, cut short).
bool take_lent_table(std::span<const std::byte>& body, lent_runs& out) noexcept;

/// Whether the runs follow one another within a body of `body_size` copied bytes, none empty, and
/// all the bytes together (copied and lent) stay within `capacity`.
bool lent_runs_fit(std::span<const lent_run> runs, std::size_t body_size,
                   std::size_t capacity) noexcept;

}  // namespace forkpool::detail
