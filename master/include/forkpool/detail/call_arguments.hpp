// A call's encoded arguments, as the task state holds them until the call is sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <utility>

#include "forkpool/detail/serialize.hpp"

namespace forkpool::detail {

/// Up to kInline (24) bytes of arguments (a few numbers: what most calls carry) are kept in place;
/// more are kept in a byte_buffer. Kept in place, a call's arguments cost no allocation of their
/// own: a submit of a no-op spent ~350 of its ~3,200 master instructions in malloc and free of a
/// 4-byte vector, and 100k submitted calls left 100k small blocks in the heap.
class call_arguments {
 public:
  /// Bytes kept in place: as many as the vector they share their memory with, so that a task
  /// state (and a thread_pool call, which never has arguments) grows by 8 bytes, not 40, and
  /// stays in its block size.
  static constexpr std::size_t kInline = sizeof(byte_buffer);

  call_arguments() noexcept {}
  ~call_arguments() {
    if (on_heap_) heap_.~byte_buffer();
  }
  call_arguments(const call_arguments&) = delete;
  call_arguments& operator=(const call_arguments&) = delete;

  /// Takes `bytes` as they are (no copy): calls whose arguments were encoded elsewhere.
  call_arguments& operator=(byte_buffer&& bytes) noexcept {
    buffer() = std::move(bytes);
    return *this;
  }

  std::size_t size() const noexcept { return on_heap_ ? heap_.size() : inline_size_; }
  bool empty() const noexcept { return size() == 0; }
  const std::byte* data() const noexcept { return on_heap_ ? heap_.data() : inline_; }
  operator std::span<const std::byte>() const noexcept { return {data(), size()}; }

  /// Room for `n` more bytes at the end, in place while they fit: for encodings of known size.
  std::byte* extend(std::size_t n) {
    if (!on_heap_ && inline_size_ + n <= kInline) {
      std::byte* at = inline_ + inline_size_;
      inline_size_ += static_cast<std::uint32_t>(n);
      return at;
    }
    byte_buffer& out = buffer();
    out.resize(out.size() + n);
    return out.data() + out.size() - n;
  }
  /// The arguments as a byte_buffer, to append to; they move out of place if they were in it.
  byte_buffer& buffer() {
    if (!on_heap_) {
      byte_buffer moved(inline_, inline_ + inline_size_);  // read before the vector overlays them
      new (&heap_) byte_buffer(std::move(moved));
      on_heap_ = true;
      inline_size_ = 0;
    }
    return heap_;
  }
  /// Moves the arguments out (a copy only of the few bytes kept in place); empty afterwards.
  byte_buffer take() {
    byte_buffer out = std::move(buffer());
    heap_.clear();
    return out;
  }

 private:
  union {
    byte_buffer heap_;  ///< alive while on_heap_
    std::byte inline_[kInline];
  };
  std::uint32_t inline_size_ = 0;  ///< bytes in inline_ while !on_heap_
  bool on_heap_ = false;
};

/// Appends the cereal encoding of `values` to `out`: in place for fixed-size values that fit.
template <class... T>
void encode_into(call_arguments& out, const T&... values) {
  if constexpr (fixed_codec_v<T...>) {
    put_fixed(out.extend(kFixedBytes<T...>), values...);
  } else {
    encode_into(out.buffer(), values...);
  }
}

}  // namespace forkpool::detail
