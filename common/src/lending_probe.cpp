#include "lending_probe.hpp"

#include <unistd.h>

#include "process_memory.hpp"

namespace forkpool::detail {

void lending_probe::offer() noexcept {
  words_->pid.store(::getpid(), std::memory_order_relaxed);
  words_->mapping.store(reinterpret_cast<std::uintptr_t>(own_mapping_), std::memory_order_release);
}

int lending_probe::offered_pid() const noexcept {
  if (words_->mapping.load(std::memory_order_acquire) == 0) return 0;
  return static_cast<int>(words_->pid.load(std::memory_order_relaxed));
}

int lending_probe::settle(int known_pid) noexcept {
  const std::uint64_t mapping = words_->mapping.load(std::memory_order_acquire);
  const auto pid = static_cast<int>(words_->pid.load(std::memory_order_relaxed));
  if (mapping == 0) return 0;
  lending_state state = words_->state.load(std::memory_order_relaxed);
  if (state == lending_state::unknown) {
    std::uint64_t magic = 0;
    const bool readable = pid > 0 && (known_pid == 0 || known_pid == pid) &&
                          read_process_memory(pid, mapping, &magic, sizeof magic) == 0 &&
                          magic == magic_;
    state = readable ? lending_state::allowed : lending_state::refused;
    words_->state.store(state, std::memory_order_release);
  }
  return state == lending_state::allowed ? pid : 0;
}

}  // namespace forkpool::detail
