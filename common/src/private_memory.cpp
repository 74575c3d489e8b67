#include "private_memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace forkpool::detail {
namespace {

constexpr auto kMinimumExactInterval = std::chrono::milliseconds(1);
constexpr int kExactCostFactor = 50;  // one exact reading per 50 times its cost: under 2%
// What an exact reading costs per MiB of mapped memory here (1.5 ms at 300 MiB), to space the
// first one as if it had been taken.
constexpr auto kExactCostPerMiB = std::chrono::nanoseconds(5000);
constexpr std::uint64_t kExactAtStartBelow = std::uint64_t{128} << 20;

// The private pages of private mappings, in bytes, from /proc/self/smaps's text: pages of a
// shared mapping (the channel's rings and bulk areas) that only this process has touched so far
// are the pool's memory, not the process's, and survive it.
std::uint64_t private_bytes_of_private_mappings(std::string_view text) {
  std::uint64_t kib = 0;
  bool private_mapping = false;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.empty()) continue;
    const auto first = static_cast<unsigned char>(line[0]);
    if (std::isxdigit(first) && !std::isupper(first)) {
      // "start-end perms offset dev inode path": perms is "rwxp" or "rwxs".
      const std::size_t space = line.find(' ');
      private_mapping =
          space != std::string_view::npos && space + 4 < line.size() && line[space + 4] == 'p';
    } else if (private_mapping &&
               (line.starts_with("Private_Clean:") || line.starts_with("Private_Dirty:"))) {
      kib += std::strtoull(line.data() + line.find(':') + 1, nullptr, 10);
    }
  }
  return kib * 1024;
}

}  // namespace

private_memory_probe::private_memory_probe(start how, bool exact_at_start)
    : statm_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)),
      smaps_(::open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)),
      page_bytes_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))) {
  statm_reading now;
  if (how == start::unknown || !smaps_ || !read_statm(now)) return;
  // Later figures then move from a true one, not from an assumption that the first exact
  // reading would correct by a jump past a limit.
  if (exact_at_start && now.resident < kExactAtStartBelow && read_exact(now)) return;
  assume(how == start::forked_child ? 0 : now.anonymous, now);
  next_exact_ = std::chrono::steady_clock::now() +
                kExactCostFactor * kExactCostPerMiB * static_cast<long>(now.resident >> 20);
}

void private_memory_probe::assume(std::uint64_t private_bytes, const statm_reading& now) {
  have_exact_ = true;
  private_at_exact_ = private_bytes;
  anonymous_at_exact_ = now.anonymous;
  // Private memory also holds the process's private file pages, so this underestimates the
  // shared anonymous memory by those: a few pages of the program's own data.
  shared_anonymous_at_exact_ = now.anonymous - std::min(now.anonymous, private_bytes);
}

bool private_memory_probe::read_statm(statm_reading& out) const {
  char text[128];
  const ssize_t n = statm_ ? ::pread(statm_.get(), text, sizeof text - 1, 0) : -1;
  if (n <= 0) return false;
  text[n] = '\0';
  unsigned long size = 0, resident = 0, shared = 0;
  if (std::sscanf(text, "%lu %lu %lu", &size, &resident, &shared) != 3 || resident < shared)
    return false;
  out.resident = std::uint64_t{resident} * page_bytes_;
  out.anonymous = std::uint64_t{resident - shared} * page_bytes_;
  return true;
}

bool private_memory_probe::watch_shared(std::chrono::steady_clock::time_point now) const {
  // Shared anonymous memory may have turned private unseen (a copy-on-write break, the other
  // sharer's exit): read again, as often as the rate allows.
  return shared_anonymous_at_exact_ > 0 && smaps_ && now >= next_exact_;
}

bool private_memory_probe::read_exact(const statm_reading& now) {
  const auto started = std::chrono::steady_clock::now();
  // The text is generated afresh by each read from offset 0; it only comes whole from one
  // sequence of reads, so read to the end, growing the buffer as needed.
  std::size_t size = 0;
  for (;;) {
    if (text_.size() - size < 16384) text_.resize(std::max<std::size_t>(65536, text_.size() * 2));
    const ssize_t n = smaps_ ? ::pread(smaps_.get(), text_.data() + size, text_.size() - size,
                                       static_cast<off_t>(size))
                             : -1;
    if (n < 0) return false;
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  next_exact_ = started + std::max<std::chrono::steady_clock::duration>(kMinimumExactInterval,
                                                                        took * kExactCostFactor);
  if (size == 0) return false;
  assume(private_bytes_of_private_mappings(std::string_view(text_.data(), size)), now);
  return true;
}

std::uint64_t private_memory_probe::bytes(std::uint64_t limit) {
  statm_reading now;
  if (!read_statm(now)) return have_exact_ ? private_at_exact_ : 0;
  const auto clock = std::chrono::steady_clock::now();
  if (!have_exact_ && !read_exact(now)) return now.anonymous;  // no smaps: statm's figure
  // The last exact figure, moved by the anonymous memory added or given back since.
  auto estimate = [&] {
    const std::uint64_t grown = private_at_exact_ + now.anonymous;
    return std::min(now.resident, grown - std::min(grown, anonymous_at_exact_));
  };
  if (limit != 0 && now.resident > limit) {
    // The estimate above the limit: confirm before the caller replaces anything. Below it, the
    // shared memory may have turned private unseen; look when the rate allows.
    const bool exact = (estimate() > limit || watch_shared(clock)) && read_exact(now);
    return exact ? estimate() : std::min(estimate(), limit);
  }
  if (watch_shared(clock)) read_exact(now);
  return estimate();
}

}  // namespace forkpool::detail
