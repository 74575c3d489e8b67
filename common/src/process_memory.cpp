#include "process_memory.hpp"

#include <sys/uio.h>

#include <cerrno>

namespace forkpool::detail {

int read_process_memory(int pid, std::uint64_t address, void* out, std::size_t size) noexcept {
  auto* next = static_cast<std::byte*>(out);
  while (size != 0) {
    const iovec local{next, size};
    const iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), size};
    const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0) return errno;
    if (n == 0) return EFAULT;
    const auto done = static_cast<std::size_t>(n);  // a partial read stops at an unmapped page
    next += done;
    address += done;
    size -= done;
  }
  return 0;
}

}  // namespace forkpool::detail
