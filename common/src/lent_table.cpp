#include "lent_table.hpp"

#include <algorithm>
#include <cstring>

namespace forkpool::detail {

void append_lent_table(byte_buffer& out, std::span<const lent_run> runs) {
  const lent_table table{static_cast<std::uint32_t>(runs.size()), 0};
  const auto* table_bytes = reinterpret_cast<const std::byte*>(&table);
  out.insert(out.end(), table_bytes, table_bytes + sizeof table);
  const auto run_bytes = std::as_bytes(runs);
  out.insert(out.end(), run_bytes.begin(), run_bytes.end());
}

bool take_lent_table(std::span<const std::byte>& body, lent_runs& out) noexcept {
  lent_table table{};
  if (body.size() < sizeof table) return false;
  std::memcpy(&table, body.data(), sizeof table);
  if (table.count == 0 || table.count > kMaxLentRuns ||
      body.size() - sizeof table < table.count * sizeof(lent_run))
    return false;
  std::memcpy(out.runs.data(), body.data() + sizeof table, table.count * sizeof(lent_run));
  out.count = table.count;
  body = body.subspan(sizeof table + table.count * sizeof(lent_run));
  return true;
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
