#include "forkpool/detail/archive.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "process_memory.hpp"

namespace forkpool::detail {
namespace {

// Copies a lent run from its owner, or says why it could not.
void read_lent(int pid, std::uint64_t address, std::byte* out, std::size_t size) {
  const int error = read_process_memory(pid, address, out, size);
  if (error == ESRCH) throw decode_failure("the worker exited before its result was read");
  if (error != 0)
    throw decode_failure("the result could not be read from the worker's memory: " +
                         std::string(std::strerror(error)));
}

}  // namespace

std::size_t input_archive::total_size(std::span<const lent_run> runs) noexcept {
  std::size_t total = 0;
  for (const lent_run& run : runs) total += run.size;
  return total;
}

void input_archive::load_slow(void* data, std::size_t size) {
  if (size > remaining()) throw decode_failure("the message ends inside a value");
  auto* out = static_cast<std::byte*>(data);
  while (size != 0) {
    if (next_lent_ != lent_end_ && position() == next_lent_->at) {
      const std::size_t n = std::min<std::size_t>(size, next_lent_->size - lent_done_);
      read_lent(owner_pid_, next_lent_->address + lent_done_, out, n);
      lent_done_ += n;
      lent_left_ -= n;
      out += n;
      size -= n;
      if (lent_done_ == next_lent_->size) {
        ++next_lent_;
        lent_done_ = 0;
        find_plain_end();
      }
      continue;
    }
    const std::size_t until_run = next_lent_ != lent_end_
                                      ? static_cast<std::size_t>(next_lent_->at - position())
                                      : static_cast<std::size_t>(end_ - next_);
    const std::size_t n = std::min(size, until_run);
    std::memcpy(out, next_, n);
    next_ += n;
    out += n;
    size -= n;
  }
}

}  // namespace forkpool::detail
