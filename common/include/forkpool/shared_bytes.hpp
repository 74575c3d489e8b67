// forkpool::shared_bytes: a result that crosses from a worker to its caller without a copy.
//
// A task of a process_pool allocates it from its worker's shared area (pool_options::
// shared_bytes_per_worker), writes its bytes, and returns it; the caller's future holds the same
// pages, read and written in place. The pages go back to the worker when the caller drops the
// last copy. Anywhere else (a thread_pool, the caller's own code, a worker of forkpool-master,
// whose results travel on to a client) the bytes live on the heap and travel by copy, so a task
// returning shared_bytes runs unchanged in every pool.
//
//   forkpool::shared_bytes render(int frame) {
//     forkpool::shared_bytes image(width * height * 4);
//     draw(frame, image.data(), image.size());
//     return image;
//   }
//   forkpool::shared_bytes image = pool.submit(render, 7).get();  // no copy of the pixels
//
// Limits, per worker: the area's size, and kSharedBuffersPerWorker buffers held at once (by
// callers and by the worker's tasks together). Past either, the constructor throws
// shared_memory_exhausted in the task, and that call's future fails with it; nothing waits for
// room. Sizes are rounded up to whole pages in the area.
//
// Copies share their bytes (like std::shared_ptr); a copy is never made implicitly. A task must
// not write a buffer after returning it: the caller sees the same pages. Passing shared_bytes as
// a task's argument copies its bytes into the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace forkpool {

namespace detail {
struct shared_block;
class output_archive;
class input_archive;
}  // namespace detail

class shared_bytes {
 public:
  /// The most buffers of one worker's area held at once.
  static constexpr std::uint32_t kSharedBuffersPerWorker = 64;

  /// No bytes.
  shared_bytes() noexcept = default;
  /// `size` bytes, not zeroed: from this worker's shared area inside a process_pool's task,
  /// from the heap elsewhere. Throws shared_memory_exhausted (see above).
  explicit shared_bytes(std::size_t size);
  /// A buffer holding a copy of `bytes`.
  static shared_bytes copy_of(std::span<const std::byte> bytes);

  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<std::byte> bytes() noexcept { return {data_, size_}; }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  /// The bytes as characters.
  std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
  /// Whether the bytes are in a worker's shared area (read in place), not on the heap.
  bool in_shared_memory() const noexcept;

 private:
  explicit shared_bytes(std::shared_ptr<detail::shared_block> block) noexcept;
  friend void save(detail::output_archive& archive, const shared_bytes& value);
  friend void load(detail::input_archive& archive, shared_bytes& value);

  std::shared_ptr<detail::shared_block> block_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// How shared_bytes travels (forkpool's archives only): in the worker's reply, the name of its
/// block; anywhere else, its bytes.
void save(detail::output_archive& archive, const shared_bytes& value);
void load(detail::input_archive& archive, shared_bytes& value);

}  // namespace forkpool
