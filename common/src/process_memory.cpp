#include "process_memory.hpp"

#include <sys/uio.h>

#include <cerrno>

#include "two_halves.hpp"

namespace forkpool::detail {
namespace {

int read_in_one_thread(int pid, std::uint64_t address, std::byte* next, std::size_t size) noexcept {
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

}  // namespace

int read_process_memory(int pid, std::uint64_t address, void* out, std::size_t size) noexcept {
  auto* bytes = static_cast<std::byte*>(out);
  int first_half_error = 0, second_half_error = 0;  // each written by one thread
  in_two_halves(size, kPageBytes, [&](std::size_t at, std::size_t n) {
    (at == 0 ? first_half_error : second_half_error) =
        read_in_one_thread(pid, address + at, bytes + at, n);
  });
  return first_half_error != 0 ? first_half_error : second_half_error;
}

}  // namespace forkpool::detail
