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
  /// A block of the class: one freed before (with up to `batch` more of them moved to `*spare`,
  /// a chain of `*moved` blocks, for the caller's thread to use next), else a fresh one.
  void* allocate(std::size_t size_class, std::size_t batch, free_block** spare,
                 std::size_t* moved) {
    std::lock_guard lock(mutex_);
    if (free_block* block = free_[size_class]) {
      free_block* rest = block->next;
      free_block* last = nullptr;
      std::size_t count = 0;
      for (free_block* b = rest; b != nullptr && count < batch; b = b->next, ++count) last = b;
      if (count != 0) {
        free_[size_class] = last->next;
        last->next = nullptr;
        *spare = rest;
      } else {
        free_[size_class] = nullptr;
      }
      *moved = count;
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

  /// Takes back the chain `first` .. `last` of freed blocks of the class.
  void free(free_block* first, free_block* last, std::size_t size_class) noexcept {
    std::lock_guard lock(mutex_);
    last->next = free_[size_class];
    free_[size_class] = first;
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

// Each thread keeps freed blocks of each class for its next tasks, so that a burst of
// submissions allocates and frees without the region's lock; blocks move between a thread and
// the region kBatch at a time. A thread that only frees (the pool's, dropping the last reference
// to a task) gives its surplus back for the submitting threads.
constexpr std::size_t kBatch = 32;
constexpr std::size_t kCacheMost = 2 * kBatch;

struct thread_cache {
  std::array<free_block*, kClasses> head{};
  std::array<std::size_t, kClasses> count{};

  ~thread_cache() {
    for (std::size_t c = 0; c < kClasses; ++c)
      if (head[c] != nullptr) region().free(head[c], last_of(head[c]), c);
  }
  static free_block* last_of(free_block* block) noexcept {
    while (block->next != nullptr) block = block->next;
    return block;
  }
};
thread_local thread_cache this_threads_blocks;

void* allocate_block(std::size_t size_class) {
  thread_cache& cache = this_threads_blocks;
  if (free_block* block = cache.head[size_class]) {
    cache.head[size_class] = block->next;
    --cache.count[size_class];
    return block;
  }
  std::size_t moved = 0;
  void* block = region().allocate(size_class, kBatch, &cache.head[size_class], &moved);
  cache.count[size_class] = moved;
  return block;
}

void free_block_of(void* memory, std::size_t size_class) noexcept {
  thread_cache& cache = this_threads_blocks;
  auto* block = static_cast<free_block*>(memory);
  block->next = cache.head[size_class];
  cache.head[size_class] = block;
  if (++cache.count[size_class] <= kCacheMost) return;
  // Gives back the kBatch blocks behind the first kCacheMost - kBatch.
  free_block* keep_last = block;
  for (std::size_t i = 1; i < kCacheMost + 1 - kBatch; ++i) keep_last = keep_last->next;
  free_block* first = keep_last->next;
  keep_last->next = nullptr;
  cache.count[size_class] = kCacheMost + 1 - kBatch;
  region().free(first, thread_cache::last_of(first), size_class);
}

}  // namespace

// Under AddressSanitizer every task state comes from the heap, where a use after free is caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseRegion = false;
#else
constexpr bool kUseRegion = true;
#endif

void* allocate_task_memory(std::size_t bytes) {
  if (kUseRegion && bytes != 0 && size_class_of(bytes) < kClasses) {
    if (void* memory = allocate_block(size_class_of(bytes))) return memory;
  }
  return ::operator new(bytes, std::align_val_t{kUnit});
}

void free_task_memory(void* memory, std::size_t bytes) noexcept {
  if (memory == nullptr) return;
  if (kUseRegion && region().owns(memory)) {
    free_block_of(memory, size_class_of(bytes));
    return;
  }
  ::operator delete(memory, bytes, std::align_val_t{kUnit});
}

}  // namespace forkpool::detail
