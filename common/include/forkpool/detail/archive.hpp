// The cereal archives every call and result travels in. The bytes are those of cereal's
// BinaryOutputArchive; the archives are forkpool's own so that decoding can do better than the
// generic code:
//   - it reads straight from the received bytes (no std::istream), and knows how many are left,
//     so a corrupt length fails with decode_failure instead of allocating what the bytes cannot
//     hold;
//   - a large string or vector of numbers is decoded into memory requested as huge pages and
//     populated in one system call: touching fresh 4 KiB pages one fault at a time costs about
//     3.5 ms per MiB on a host like this one (NOTES.md), several times the copy itself.
// Serialization functions written for cereal (`template <class Archive> void serialize(Archive&)`)
// work unchanged.
#pragma once

#include <algorithm>
#include <cereal/cereal.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/pages.hpp"

namespace forkpool::detail {

struct shared_receipt;

/// Thrown when a payload does not decode exactly into the expected types.
class decode_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class output_archive
    : public cereal::OutputArchive<output_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit output_archive(std::streambuf& out) : OutputArchive(this), out_(out) {}

  /// Where the bytes go: a worker's reply names its shared blocks instead of copying them.
  const std::streambuf& sink() const noexcept { return out_; }

  void saveBinary(const void* data, std::size_t size) {
    if (size == 0) return;
    const auto written =
        out_.sputn(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (written != static_cast<std::streamsize>(size))
      throw cereal::Exception("the encoding does not fit: " + std::to_string(size) +
                              " bytes refused");
  }

 private:
  std::streambuf& out_;
};

/// A run of a payload's bytes that its writer left in its own memory instead of copying it next
/// to the rest ("lent"): the reader copies it from there with process_vm_readv. `at` is where
/// the run belongs among the bytes that were copied.
struct lent_run {
  std::uint64_t at;
  std::uint64_t address;
  std::uint64_t size;
};

/// An encoded payload as a reader receives it: its bytes, the runs still in another process,
/// and the shared blocks its reply named (shared_bytes).
struct payload_view {
  std::span<const std::byte> bytes;
  std::span<const lent_run> lent = {};  ///< in order of `at`, each `at` within `bytes`
  int owner_pid = 0;                    ///< the process holding the lent runs
  shared_receipt* shared = nullptr;

  payload_view() = default;
  payload_view(std::span<const std::byte> in) : bytes(in) {}  // NOLINT: a span is a payload
  payload_view(std::span<const std::byte> in, std::span<const lent_run> runs, int pid,
               shared_receipt* named = nullptr)
      : bytes(in), lent(runs), owner_pid(pid), shared(named) {}
};

class input_archive : public cereal::InputArchive<input_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit input_archive(std::span<const std::byte> in)
      : InputArchive(this),
        begin_(in.data()),
        next_(begin_),
        end_(begin_ + in.size()),
        plain_end_(end_),
        next_lent_(nullptr),
        lent_end_(nullptr),
        owner_pid_(0) {}
  explicit input_archive(const payload_view& in)
      : InputArchive(this),
        begin_(in.bytes.data()),
        next_(begin_),
        end_(begin_ + in.bytes.size()),
        next_lent_(in.lent.data()),
        lent_end_(in.lent.data() + in.lent.size()),
        lent_left_(in.lent.empty() ? 0 : total_size(in.lent)),
        owner_pid_(in.owner_pid),
        shared_(in.shared) {
    find_plain_end();
  }

  void loadBinary(void* data, std::size_t size) {
    if (size > static_cast<std::size_t>(plain_end_ - next_)) return load_slow(data, size);
    if (size != 0) std::memcpy(data, next_, size);
    next_ += size;
  }
  std::size_t remaining() const noexcept {
    return static_cast<std::size_t>(end_ - next_) + lent_left_;
  }
  /// The shared blocks the payload's reply named; null where no reply named any.
  shared_receipt* shared() const noexcept { return shared_; }

 private:
  std::size_t position() const noexcept { return static_cast<std::size_t>(next_ - begin_); }
  static std::size_t total_size(std::span<const lent_run> runs) noexcept;
  // A read that reaches a lent run, or past the end: copies the payload's bytes and the runs',
  // in order, or throws decode_failure.
  void load_slow(void* data, std::size_t size);
  // Where the bytes that can be copied without meeting a lent run end.
  void find_plain_end() noexcept {
    plain_end_ = next_lent_ != lent_end_ ? begin_ + next_lent_->at : end_;
  }

  const std::byte* begin_;
  const std::byte* next_;
  const std::byte* end_;
  const std::byte* plain_end_;
  const lent_run* next_lent_;
  const lent_run* lent_end_;
  std::size_t lent_done_ = 0;  ///< bytes of *next_lent_ already read
  std::size_t lent_left_ = 0;  ///< bytes of all the runs not read yet
  int owner_pid_;
  shared_receipt* shared_ = nullptr;
};

/// Reads a size prefix and checks that `size * element_bytes` bytes are really left, so a lying
/// length cannot make the decoder allocate what the payload does not hold.
inline std::size_t checked_size(input_archive& archive, std::size_t element_bytes) {
  cereal::size_type size = 0;
  archive(cereal::make_size_tag(size));
  if (element_bytes == 0 || size > archive.remaining() / element_bytes)
    throw decode_failure("a length in the message exceeds the bytes it holds");
  return static_cast<std::size_t>(size);
}

/// Destinations at least this large get huge pages and are populated before they are written.
inline constexpr std::size_t kLargeDestination = std::size_t{4} << 20;

inline void prepare_destination(void* data, std::size_t bytes) noexcept {
  if (bytes >= kLargeDestination) prepare_pages_inside(data, bytes);
}

// The primitives cereal's binary format is made of, as in <cereal/archives/binary.hpp>.
template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(output_archive& archive, const T& value) {
  archive.saveBinary(std::addressof(value), sizeof value);
}
template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_LOAD_FUNCTION_NAME(input_archive& archive, T& value) {
  archive.loadBinary(std::addressof(value), sizeof value);
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(output_archive& archive, const cereal::BinaryData<T>& data) {
  archive.saveBinary(data.data, static_cast<std::size_t>(data.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(input_archive& archive, cereal::BinaryData<T>& data) {
  archive.loadBinary(data.data, static_cast<std::size_t>(data.size));
}
// Names and size tags are not written: a value is its bytes, a size tag a 64-bit count.
template <class Archive>
concept forkpool_archive =
    std::same_as<Archive, input_archive> || std::same_as<Archive, output_archive>;
template <forkpool_archive Archive, class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(Archive& archive, cereal::NameValuePair<T>& pair) {
  archive(pair.value);
}
template <forkpool_archive Archive, class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(Archive& archive, cereal::SizeTag<T>& tag) {
  archive(tag.size);
}

// More specialized than cereal's loads for strings and vectors of numbers (which resize first,
// faulting in every page, then copy): checked length, prepared memory, then one copy.
template <class Contiguous>
void load_contiguous(input_archive& archive, Contiguous& values) {
  using element = typename Contiguous::value_type;
  const std::size_t size = checked_size(archive, sizeof(element));
  if (size > values.capacity()) {
    values.clear();
    values.reserve(size);
    prepare_destination(values.data(), size * sizeof(element));
  }
  values.resize(size);
  archive.loadBinary(values.data(), size * sizeof(element));
}
template <class Char, class Traits, class Alloc>
void CEREAL_LOAD_FUNCTION_NAME(input_archive& archive,
                               std::basic_string<Char, Traits, Alloc>& text) {
  load_contiguous(archive, text);
}
template <class T, class Alloc>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(input_archive& archive, std::vector<T, Alloc>& values) {
  load_contiguous(archive, values);
}
// Each string carries at least its own 8-byte size: a count larger than the message can hold
// is refused before the vector is allocated.
template <class Char, class Traits, class StringAlloc, class Alloc>
void CEREAL_LOAD_FUNCTION_NAME(
    input_archive& archive,
    std::vector<std::basic_string<Char, Traits, StringAlloc>, Alloc>& values) {
  values.resize(checked_size(archive, sizeof(cereal::size_type)));
  for (auto& text : values) archive(text);
}

// ---- numbers, and tuples and pairs of numbers, as fixed runs of bytes ----------------------
// cereal's binary encoding of a number is its bytes, and of a tuple or pair its fields'
// encodings one after another: a memcpy per field writes the same bytes as the archive without
// a call into the stream for each. A call's arguments and result (serialize.hpp) and a map
// chunk's inputs (below) are written this way. bool is left out: not every byte is a bool.
template <class T>
concept plain_number = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

/// Decodes as a std::vector<T> of numbers would, into memory that is already there (map's
/// output): the count must be the span's.
template <plain_number T>
struct number_slice {
  std::span<T> values;
};
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(input_archive& archive, number_slice<T>& slice) {
  const std::size_t size = checked_size(archive, sizeof(T));
  if (size != slice.values.size())
    throw decode_failure("a chunk of " + std::to_string(slice.values.size()) +
                         " inputs came back with " + std::to_string(size) + " results");
  archive.loadBinary(slice.values.data(), slice.values.size_bytes());
}

/// Whether T's encoding is a fixed run of `size` bytes, and how to write and read it.
template <class T>
struct fixed_codec : std::false_type {};
template <plain_number T>
struct fixed_codec<T> : std::true_type {
  static constexpr std::size_t size = sizeof(T);
  static std::byte* put(std::byte* out, const T& value) noexcept {
    std::memcpy(out, &value, sizeof value);
    return out + sizeof value;
  }
  static const std::byte* get(const std::byte* in, T& value) noexcept {
    std::memcpy(&value, in, sizeof value);
    return in + sizeof value;
  }
};
template <class... P>
  requires(fixed_codec<P>::value && ...)
struct fixed_codec<std::tuple<P...>> : std::true_type {
  static constexpr std::size_t size = (std::size_t{0} + ... + fixed_codec<P>::size);
  static std::byte* put(std::byte* out, const std::tuple<P...>& value) noexcept {
    std::apply([&](const P&... field) { ((out = fixed_codec<P>::put(out, field)), ...); }, value);
    return out;
  }
  static const std::byte* get(const std::byte* in, std::tuple<P...>& value) noexcept {
    std::apply([&](P&... field) { ((in = fixed_codec<P>::get(in, field)), ...); }, value);
    return in;
  }
};
template <class A, class B>
  requires(fixed_codec<A>::value && fixed_codec<B>::value)
struct fixed_codec<std::pair<A, B>> : std::true_type {
  static constexpr std::size_t size = fixed_codec<A>::size + fixed_codec<B>::size;
  static std::byte* put(std::byte* out, const std::pair<A, B>& value) noexcept {
    return fixed_codec<B>::put(fixed_codec<A>::put(out, value.first), value.second);
  }
  static const std::byte* get(const std::byte* in, std::pair<A, B>& value) noexcept {
    return fixed_codec<B>::get(fixed_codec<A>::get(in, value.first), value.second);
  }
};

template <class... T>
inline constexpr bool fixed_codec_v = (fixed_codec<T>::value && ...);
/// The bytes a fixed_codec type takes; 0 for other types, so a test of both can be written in one
/// condition.
template <class T>
constexpr std::size_t fixed_size() noexcept {
  if constexpr (fixed_codec<T>::value)
    return fixed_codec<T>::size;
  else
    return 0;
}
/// The bytes `T...` take one after another.
template <class... T>
inline constexpr std::size_t kFixedBytes = (std::size_t{0} + ... + fixed_size<T>());

// A map chunk's inputs for a task whose parameters are all numbers
// (std::vector<std::tuple<int, double>>; a one-number task's chunk is a plain vector of numbers,
// see chunk_item_t): gathered into blocks, so a chunk of a thousand pairs is a few copies instead
// of a thousand calls into the stream, each way.
inline constexpr std::size_t kBlockBytes = 4096;

template <plain_number... T, class Alloc>
  requires(sizeof...(T) > 0)
void CEREAL_SAVE_FUNCTION_NAME(output_archive& archive,
                               const std::vector<std::tuple<T...>, Alloc>& values) {
  archive(cereal::make_size_tag(static_cast<cereal::size_type>(values.size())));
  using record = fixed_codec<std::tuple<T...>>;
  std::byte block[kBlockBytes / record::size * record::size];
  std::byte* next = block;
  for (const std::tuple<T...>& value : values) {
    next = record::put(next, value);
    if (next == std::end(block)) {
      archive.saveBinary(block, sizeof block);
      next = block;
    }
  }
  archive.saveBinary(block, static_cast<std::size_t>(next - block));
}

template <plain_number... T, class Alloc>
  requires(sizeof...(T) > 0)
void CEREAL_LOAD_FUNCTION_NAME(input_archive& archive,
                               std::vector<std::tuple<T...>, Alloc>& values) {
  using record = fixed_codec<std::tuple<T...>>;
  values.resize(checked_size(archive, record::size));
  std::byte block[kBlockBytes / record::size * record::size];
  for (std::size_t done = 0; done < values.size();) {
    const std::size_t count = std::min(values.size() - done, sizeof block / record::size);
    archive.loadBinary(block, count * record::size);
    const std::byte* next = block;
    for (std::size_t i = 0; i < count; ++i) next = record::get(next, values[done + i]);
    done += count;
  }
}

}  // namespace forkpool::detail

CEREAL_REGISTER_ARCHIVE(forkpool::detail::output_archive)
CEREAL_REGISTER_ARCHIVE(forkpool::detail::input_archive)
CEREAL_SETUP_ARCHIVE_TRAITS(forkpool::detail::input_archive, forkpool::detail::output_archive)
