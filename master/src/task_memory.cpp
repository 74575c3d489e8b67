#include "forkpool/detail/task_memory.hpp"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "forkpool/detail/pages.hpp"

namespace forkpool::detail {
namespace {

constexpr std::size_t kUnit = 64;     // sizes are rounded up to this; it is also the alignment
constexpr std::size_t kClasses = 16;  // of kUnit, 2 kUnit, ... : up to 1 KiB from the region

/// Class n holds blocks of (n + 1) * kUnit bytes. `bytes` > 0.
constexpr std::size_t size_class_of(std::size_t bytes) noexcept { return (bytes - 1) / kUnit; }

struct free_block {
  free_block* next;
};

// One region of address space, reserved at the first task and used from the bottom up. Pages
// are touched (and backed) only as tasks need them.
class task_region {
 public:
  void* allocate(std::size_t size_class) {
    std::lock_guard lock(mutex_);
    if (free_block* block = free_[size_class]) {
      free_[size_class] = block->next;
      return block;
    }
    const std::size_t bytes = (size_class + 1) * kUnit;
    if (next_ == nullptr && (failed_ || !reserve())) return nullptr;
    if (static_cast<std::size_t>(limit_.load(std::memory_order_relaxed) - next_) < bytes)
      return nullptr;
    void* block = next_;
    next_ += bytes;
    return block;
  }

  void free(void* memory, std::size_t size_class) noexcept {
    std::lock_guard lock(mutex_);
    auto* block = static_cast<free_block*>(memory);
    block->next = free_[size_class];
    free_[size_class] = block;
  }

  bool owns(const void* memory) const noexcept {
    // Written once, before the first block from the region is handed out (and so freed).
    const auto* p = static_cast<const std::byte*>(memory);
    return p >= base_.load(std::memory_order_relaxed) && p < limit_.load(std::memory_order_relaxed);
  }

 private:
  bool reserve() {
    // Aligned to huge pages, so every 2 MiB of it can be one.
    const std::size_t span = kTaskMemoryBytes + kHugePageBytes;
    void* mapped = ::mmap(nullptr, span, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped == MAP_FAILED) {
      failed_ = true;
      return false;
    }
    auto* start = static_cast<std::byte*>(mapped);
    auto* aligned = start + (page_ceil(reinterpret_cast<std::uintptr_t>(start), kHugePageBytes) -
                             reinterpret_cast<std::uintptr_t>(start));
    if (aligned > start) ::munmap(start, static_cast<std::size_t>(aligned - start));
    std::byte* end = aligned + kTaskMemoryBytes;
    if (end < start + span) ::munmap(end, static_cast<std::size_t>(start + span - end));
    ::madvise(aligned, kTaskMemoryBytes, MADV_HUGEPAGE);  // advice only: fine if refused
    next_ = aligned;
    base_.store(aligned, std::memory_order_relaxed);
    limit_.store(end, std::memory_order_relaxed);
    return true;
  }

  std::mutex mutex_;
  std::array<free_block*, kClasses> free_{};
  std::atomic<std::byte*> base_{nullptr};
  std::atomic<std::byte*> limit_{nullptr};
  std::byte* next_ = nullptr;
  bool failed_ = false;
};

// Never destroyed: a task may be freed after static destruction began.
task_region& region() {
  static task_region* const the_region = new task_region;
  return *the_region;
}

// Made at load time, so that its guard is never held when a worker is forked (see registry.cpp).
[[maybe_unused]] task_region& region_made_at_load = region();

}  // namespace

// Under AddressSanitizer every task state comes from the heap, where a use after free is caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseRegion = false;
#else
constexpr bool kUseRegion = true;
#endif

void* allocate_task_memory(std::size_t bytes) {
  if (kUseRegion && bytes != 0 && size_class_of(bytes) < kClasses) {
    if (void* memory = region().allocate(size_class_of(bytes))) return memory;
  }
  return ::operator new(bytes, std::align_val_t{kUnit});
}

void free_task_memory(void* memory, std::size_t bytes) noexcept {
  if (memory == nullptr) return;
  if (kUseRegion && region().owns(memory)) {
    region().free(memory, size_class_of(bytes));
    return;
  }
  ::operator delete(memory, bytes, std::align_val_t{kUnit});
}

}  // namespace forkpool::detail
