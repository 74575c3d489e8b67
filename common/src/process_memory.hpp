// Reading another process's memory (process_vm_readv): how the master copies a worker's lent
// result runs, and how it checks first that it may.
#pragma once

#include <cstddef>
#include <cstdint>

namespace forkpool::detail {

/// Copies `size` bytes at `address` in process `pid` to `out`: one kernel copy (continuing after
/// partial reads), or two at once on two threads for a large size (two_halves.hpp). Returns 0, or
/// the errno that stopped it: ESRCH when the process has gone, EPERM when ptrace rules forbid the
/// read, EFAULT for an address it does not map.
int read_process_memory(int pid, std::uint64_t address, void* out, std::size_t size) noexcept;

}  // namespace forkpool::detail
