#include "lent_table.hpp"

#include "reply_table.hpp"

#include <algorithm>
#include <cstring>

namespace forkpool::detail {

void append_lent_table(byte_buffer& out, std::span<const lent_run> runs) {
  append_reply_table(out, runs);
}

bool take_lent_table(std::span<const std::byte>& body, lent_runs& out) noexcept {
  out.count = take_reply_table(body, kMaxLentRuns, out.runs.data());
  return out.count != 0;
}

bool lent_runs_fit(std::span<const lent_run> runs, std::size_t body_size,
                   std::size_t capacity) noexcept {
  std::uint64_t at = 0;
  std::uint64_t total = body_size;
  for (const lent_run& run : runs) {
    if (run.at < at || run.at > body_size || run.size == 0 ||
        run.size > capacity - std::min<std::uint64_t>(capacity, total))
      return false;
    at = run.at;
    total += run.size;
  }
  return true;
}

}  // namespace forkpool::detail
