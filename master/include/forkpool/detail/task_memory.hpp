// Memory for task states. A burst of submissions allocates a few hundred bytes per task; from
// the general heap, that faults in a fresh 4 KiB page every dozen tasks, and a first touch is
// slow on virtual machines (about 15 µs per page on the one this was measured on). Task states
// come instead from one region backed by huge pages, and freed ones are reused.
#pragma once

#include <cstddef>
#include <new>

namespace forkpool::detail {

/// At most this many bytes are served from the region; beyond, allocation falls back to the heap.
inline constexpr std::size_t kTaskMemoryBytes = std::size_t{64} << 20;

void* allocate_task_memory(std::size_t bytes);
void free_task_memory(void* memory, std::size_t bytes) noexcept;

/// An allocator for std::allocate_shared of task states (any thread).
template <class T>
struct task_allocator {
  using value_type = T;
  task_allocator() = default;
  template <class U>
  task_allocator(const task_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= 64, "task memory is 64-byte aligned");
    return static_cast<T*>(allocate_task_memory(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { free_task_memory(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const task_allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace forkpool::detail
