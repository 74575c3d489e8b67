// A call's encoded arguments, as the task state holds them until the call is sent.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

#include "forkpool/detail/serialize.hpp"

namespace forkpool::detail {

/// Up to kInline bytes of arguments (a few numbers: what most calls carry) are kept in place;
/// more are kept in a byte_buffer. Kept in place, a call's arguments cost no allocation of their
/// own: a submit of a no-op spent ~350 of its ~3,200 master instructions in malloc and free of a
/// 4-byte vector, and 100k submitted calls left 100k small blocks in the heap.
class call_arguments {
 public:
  static constexpr std::size_t kInline = 32;

  call_arguments() = default;
  /// Takes `bytes` as they are (no copy): calls whose arguments were encoded elsewhere.
  call_arguments& operator=(byte_buffer&& bytes) noexcept {
    heap_ = std::move(bytes);
    inline_size_ = 0;
    return *this;
  }

  std::size_t size() const noexcept { return in_place() ? inline_size_ : heap_.size(); }
  bool empty() const noexcept { return size() == 0; }
  const std::byte* data() const noexcept { return in_place() ? inline_.data() : heap_.data(); }
  operator std::span<const std::byte>() const noexcept { return {data(), size()}; }

  /// Room for `n` more bytes at the end, in place while they fit: for encodings of known size.
  std::byte* extend(std::size_t n) {
    if (heap_.empty() && inline_size_ + n <= kInline) {
      std::byte* at = inline_.data() + inline_size_;
      inline_size_ += n;
      return at;
    }
    byte_buffer& out = buffer();
    out.resize(out.size() + n);
    return out.data() + out.size() - n;
  }
  /// The arguments as a byte_buffer, to append to; they move out of place if they were in it.
  byte_buffer& buffer() {
    if (inline_size_ != 0) {
      heap_.assign(inline_.begin(), inline_.begin() + static_cast<std::ptrdiff_t>(inline_size_));
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
  bool in_place() const noexcept { return inline_size_ != 0; }

  std::array<std::byte, kInline> inline_;
  std::size_t inline_size_ = 0;  ///< bytes in inline_; 0 when they are in heap_ (or none)
  byte_buffer heap_;
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
