// cereal binary encoding into growable byte buffers, and exact decoding out of byte spans.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cstddef>
#include <istream>
#include <ostream>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

namespace forkpool::detail {

using byte_buffer = std::vector<std::byte>;

/// Appends what is written to it to a byte_buffer.
class buffer_sink final : public std::streambuf {
 public:
  explicit buffer_sink(byte_buffer& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* data, std::streamsize n) override {
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    out_.insert(out_.end(), bytes, bytes + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof()))
      out_.push_back(static_cast<std::byte>(traits_type::to_char_type(c)));
    return traits_type::not_eof(c);
  }

 private:
  byte_buffer& out_;
};

/// Reads a span of bytes in place.
class span_source final : public std::streambuf {
 public:
  explicit span_source(std::span<const std::byte> in) {
    // streambuf's get area is non-const char*, but is only read from.
    char* begin = const_cast<char*>(reinterpret_cast<const char*>(in.data()));
    setg(begin, begin, begin + in.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// The span_source being decoded on this thread, for bounds checks (see checked_size).
inline thread_local const span_source* current_source = nullptr;

/// Thrown when a payload does not decode exactly into the expected types.
class decode_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs body(stream) with a `Stream` (std::istream or std::ostream) reading or writing `buffer`.
/// Each thread keeps one of each and rebinds it: constructing a stream (locale, facet lookups)
/// costs more than encoding a small call. A nested use gets a stream of its own.
template <class Stream, class Body>
void with_stream(std::streambuf& buffer, Body&& body) {
  thread_local Stream cached(nullptr);
  thread_local bool in_use = false;
  if (in_use) {
    Stream local(&buffer);
    body(local);
    return;
  }
  struct lease {
    lease(std::streambuf& buffer) {
      in_use = true;
      cached.rdbuf(&buffer);  // also clears the error state
    }
    ~lease() {
      cached.rdbuf(nullptr);
      in_use = false;
    }
  } leased(buffer);
  body(cached);
}

/// Writes the cereal encoding of `values` to `out`. A sink that takes fewer bytes than offered
/// makes cereal throw.
template <class... T>
void encode_to(std::streambuf& out, const T&... values) {
  with_stream<std::ostream>(out, [&](std::ostream& stream) {
    cereal::BinaryOutputArchive archive(stream);
    (archive(values), ...);
  });
}

/// Appends the cereal encoding of `values` to `out`.
template <class... T>
void encode_into(byte_buffer& out, const T&... values) {
  buffer_sink sink(out);
  encode_to(sink, values...);
}

/// Decodes `in` into `values`; throws decode_failure unless it consumes `in` exactly.
template <class... T>
void decode_exact(std::span<const std::byte> in, T&... values) {
  span_source source(in);
  struct scope {
    const span_source* previous;
    ~scope() { current_source = previous; }
  } restore{std::exchange(current_source, &source)};
  try {
    with_stream<std::istream>(source, [&](std::istream& stream) {
      cereal::BinaryInputArchive archive(stream);
      (archive(values), ...);
    });
  } catch (const cereal::Exception& e) {
    throw decode_failure(e.what());
  } catch (const std::length_error& e) {  // a corrupt length asked for an impossible size
    throw decode_failure(e.what());
  }
  if (source.remaining() != 0)
    throw decode_failure(std::to_string(source.remaining()) + " bytes left over after decoding");
}

/// Reads a size prefix and checks that `size * element_bytes` bytes are really left, so a lying
/// length cannot make the decoder allocate what the payload does not hold.
template <class Archive>
std::uint64_t checked_size(Archive& archive, std::size_t element_bytes) {
  cereal::size_type size = 0;
  archive(cereal::make_size_tag(size));
  if (current_source == nullptr || element_bytes == 0 ||
      size > current_source->remaining() / element_bytes)
    throw decode_failure("a length in the message exceeds the bytes it holds");
  return size;
}

/// Loads a string through checked_size.
template <class Archive>
void load_bounded(Archive& archive, std::string& text) {
  text.resize(checked_size(archive, 1));
  archive(cereal::binary_data(text.data(), text.size()));
}

}  // namespace forkpool::detail
