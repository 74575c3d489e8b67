// cereal binary encoding into growable byte buffers (or any streambuf), and exact decoding out of
// byte spans, through forkpool's archives (archive.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/archive.hpp"

namespace forkpool::detail {

using byte_buffer = std::vector<std::byte>;

/// Appends what is written to it to a byte_buffer.
class buffer_sink final : public std::streambuf {
 public:
  explicit buffer_sink(byte_buffer& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* data, std::streamsize n) override {
    const auto count = static_cast<std::size_t>(n);
    if (out_.size() + count > out_.capacity()) grow(out_.size() + count);
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    out_.insert(out_.end(), bytes, bytes + count);
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof()))
      out_.push_back(static_cast<std::byte>(traits_type::to_char_type(c)));
    return traits_type::not_eof(c);
  }

 private:
  // Grows geometrically, as insert would, but into memory prepared for a large write.
  void grow(std::size_t needed) {
    const std::size_t capacity = std::max(needed, 2 * out_.capacity());
    if (capacity < kLargeDestination) return;  // insert grows it
    byte_buffer larger;
    larger.reserve(capacity);
    prepare_destination(larger.data(), capacity);
    larger.assign(out_.begin(), out_.end());
    out_.swap(larger);
  }

  byte_buffer& out_;
};

/// Writes fixed_codec values one after another at `out` (kFixedBytes<T...> bytes).
template <class... T>
void put_fixed([[maybe_unused]] std::byte* out, const T&... values) noexcept {
  ((out = fixed_codec<T>::put(out, values)), ...);
}

/// Writes the cereal encoding of `values` to `out`. A sink that takes fewer bytes than offered
/// makes cereal throw.
template <class... T>
void encode_to(std::streambuf& out, const T&... values) {
  // Numbers skip the archive (archive.hpp, fixed_codec): the same bytes, without building one.
  if constexpr (fixed_codec_v<T...> && kFixedBytes<T...> > 0) {
    std::byte bytes[kFixedBytes<T...>];
    put_fixed(bytes, values...);
    constexpr auto size = static_cast<std::streamsize>(sizeof bytes);
    if (out.sputn(reinterpret_cast<const char*>(bytes), size) != size)
      throw cereal::Exception("the encoding does not fit: " + std::to_string(size) +
                              " bytes refused");
  } else {
    output_archive archive(out);
    (archive(values), ...);
  }
}

/// A sink that can leave a value's large contiguous runs where they are, for the reader to copy
/// straight out of this process (the worker's reply body; see lent_run). The value must then
/// outlive the reader's copy: the sink keeps it until its owner has published the reply and seen
/// it read (drop_kept).
class lending_sink : public std::streambuf {
 public:
  /// Encodes `value`, lending what the sink can, and keeps `value` if runs of it were lent. Only
  /// for lendable types, whose runs are in heap storage the value owns, never in a temporary
  /// made while encoding: moving the value into the keeper leaves that storage where it is.
  template <class T>
    requires(!std::is_reference_v<T>)
  void encode_lending(T&& value) {
    lending_ = true;
    try {
      encode_to(*this, value);
    } catch (...) {
      lending_ = false;
      throw;
    }
    lending_ = false;
    if (lent_any()) kept_ = std::make_unique<kept<T>>(std::move(value));
  }

 protected:
  bool lending() const noexcept { return lending_; }
  /// True when the encoding left runs of the value where they are.
  virtual bool lent_any() const noexcept = 0;
  /// Drops the value kept by the last encoding: the reader is done with it.
  void drop_kept() noexcept { kept_.reset(); }

 private:
  struct kept_base {
    virtual ~kept_base() = default;
  };
  template <class T>
  struct kept final : kept_base {
    explicit kept(T&& v) : value(std::move(v)) {}
    T value;
  };

  bool lending_ = false;
  std::unique_ptr<kept_base> kept_;
};

template <class T>
struct is_lendable : std::false_type {};
template <class Char, class Traits, class Alloc>
struct is_lendable<std::basic_string<Char, Traits, Alloc>> : std::true_type {};
template <class T, class Alloc>
struct is_lendable<std::vector<T, Alloc>>
    : std::bool_constant<(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) ||
                         is_lendable<T>::value> {};
/// A number, or a lendable value: what a lendable pair may hold.
template <class T>
inline constexpr bool is_lendable_member = is_lendable<T>::value || std::is_arithmetic_v<T>;
template <class A, class B>
struct is_lendable<std::pair<A, B>>
    : std::bool_constant<is_lendable_member<A> && is_lendable_member<B>> {};

/// Standard containers whose large runs cereal writes straight from their own storage.
template <class T>
concept lendable = is_lendable<std::remove_cvref_t<T>>::value;

/// Encodes a task's result: lending its large runs when the sink and the type allow and the
/// result is the task's own (a value the sink can move and keep; a reference the task returned
/// may name memory that dies with its arguments, and a const value would be copied, not moved,
/// so those are copied into the body).
template <class R>
void encode_result(std::streambuf& out, R&& value) {
  if constexpr (lendable<R> && !std::is_lvalue_reference_v<R> &&
                !std::is_const_v<std::remove_reference_t<R>>) {
    if (auto* sink = dynamic_cast<lending_sink*>(&out))
      return sink->encode_lending(std::move(value));
  }
  encode_to(out, value);
}

/// Appends the cereal encoding of `values` to `out`.
template <class... T>
void encode_into(byte_buffer& out, const T&... values) {
  if constexpr (fixed_codec_v<T...>) {
    const std::size_t start = out.size();
    out.resize(start + kFixedBytes<T...>);
    put_fixed(out.data() + start, values...);
  } else {
    buffer_sink sink(out);
    encode_to(sink, values...);
  }
}

/// Appends what cereal writes for a std::vector<T> of these numbers (its size tag, then the
/// numbers' bytes), from a span: a map chunk's inputs, written from where they are.
template <plain_number T>
void encode_numbers_into(byte_buffer& out, std::span<const T> values) {
  encode_into(out, cereal::make_size_tag(static_cast<cereal::size_type>(values.size())),
              cereal::binary_data(values.data(), values.size_bytes()));
}

/// Decodes what `archive` reads into `values`; throws decode_failure unless that is all of it.
template <class... T>
void decode_all(input_archive& archive, T&... values) {
  try {
    (archive(values), ...);
  } catch (const cereal::Exception& e) {
    throw decode_failure(e.what());
  } catch (const std::length_error& e) {  // a corrupt length asked for an impossible size
    throw decode_failure(e.what());
  }
  if (archive.remaining() != 0)
    throw decode_failure(std::to_string(archive.remaining()) + " bytes left over after decoding");
}

/// Decodes `in` into `values`; throws decode_failure unless it consumes `in` exactly.
template <class... T>
void decode_exact(std::span<const std::byte> in, T&... values) {
  if constexpr (fixed_codec_v<T...>) {
    if (in.size() == kFixedBytes<T...>) {
      const std::byte* next = in.data();
      ((next = fixed_codec<T>::get(next, values)), ...);
      return;
    }
    // Short or long: the archive reads it and says what is wrong.
  }
  input_archive archive(in);
  decode_all(archive, values...);
}
template <class... T>
void decode_exact(const payload_view& in, T&... values) {
  if constexpr (fixed_codec_v<T...>) {
    if (in.lent.empty()) return decode_exact(in.bytes, values...);
  }
  input_archive archive(in);
  decode_all(archive, values...);
}

/// Decodes an encoded std::vector<T> of numbers straight into `out`, which must be exactly as
/// long as the vector was: map's results land in its output without a vector of their own.
/// Throws decode_failure.
template <plain_number T>
void decode_numbers_into(const payload_view& in, std::span<T> out) {
  number_slice<T> slice{out};
  decode_exact(in, slice);
}

}  // namespace forkpool::detail
