// What travels between forkpool-master and its clients over the Unix socket. Every message is
// [u32 length, little-endian][cereal binary payload of one client_request or master_reply].
// The length is checked against a maximum before anything is allocated, and a payload must
// decode exactly; anything else is a protocol error and the connection is closed.
#pragma once

#include <algorithm>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/wire.hpp"
#include "forkpool/options.hpp"

namespace forkpool::detail {

inline constexpr std::size_t kLengthPrefix = 4;
/// The default largest message either side accepts.
inline constexpr std::uint32_t kDefaultMaxMessage = 64u << 20;

/// A byte_buffer as cereal writes a std::string: a 64-bit size, then the bytes.
template <class Archive>
void save_bytes(Archive& a, const byte_buffer& bytes) {
  a(cereal::make_size_tag(static_cast<cereal::size_type>(bytes.size())));
  a(cereal::binary_data(bytes.data(), bytes.size()));
}

struct client_request {
  enum class kind_t : std::uint8_t { submit = 1, stats = 2, restart_workers = 3, info = 4 };
  kind_t kind = kind_t::submit;
  std::uint64_t id = 0;  ///< chosen by the client; echoed in the reply
  std::string task;
  std::uint64_t argument_signature = 0;
  std::uint64_t result_signature = 0;
  byte_buffer arguments;  ///< cereal-encoded, as in a worker call

  template <class Archive>
  void save(Archive& a) const {
    a(kind, id, task, argument_signature, result_signature);
    save_bytes(a, arguments);
  }
  void load(input_archive& a) {
    a(kind, id, task, argument_signature, result_signature);
    load_contiguous(a, arguments);
  }
};

struct master_reply {
  enum class kind_t : std::uint8_t { result = 1, error = 2, stats = 3, restarted = 4, info = 5 };
  kind_t kind = kind_t::result;
  std::uint64_t id = 0;
  byte_buffer result;  ///< cereal-encoded result
  wire_error error;
  pool_stats stats;
  master_info info;

  template <class Archive>
  void save(Archive& a) const {
    a(kind, id);
    save_bytes(a, result);
    save_after_result(a);
  }
  void load(input_archive& a) {
    a(kind, id);
    load_contiguous(a, result);
    a(error.code, error.type_name, error.message, stats, info);
  }
  /// The fields after the result (see frame_result_reply).
  template <class Archive>
  void save_after_result(Archive& a) const {
    a(error.code, error.type_name, error.message, stats, info);
  }
};

/// Room a result reply needs before its result: the length prefix, the kind, the id and the
/// result's size.
inline constexpr std::size_t kResultReplyHead = kLengthPrefix + 1 + 8 + 8;
/// Room it needs after: the other fields, all empty (a reply larger than this only reallocates).
inline constexpr std::size_t kResultReplyTail = 256;

/// Turns `message`, a result's encoded bytes after kResultReplyHead bytes of room, into the
/// length-prefixed reply that carries it, without moving the result: the same bytes as
/// append_message(master_reply{.kind = result, .id = id, .result = those bytes}).
inline void frame_result_reply(byte_buffer& message, std::uint64_t id) {
  const std::size_t result_size = message.size() - kResultReplyHead;
  {
    buffer_sink sink(message);
    output_archive tail(sink);
    master_reply{}.save_after_result(tail);
  }
  byte_buffer head;
  head.reserve(kResultReplyHead - kLengthPrefix);
  encode_into(head, master_reply::kind_t::result, id, std::uint64_t{result_size});
  std::copy(head.begin(), head.end(), message.begin() + kLengthPrefix);
  const auto length = static_cast<std::uint32_t>(message.size() - kLengthPrefix);
  for (std::size_t i = 0; i < kLengthPrefix; ++i)
    message[i] = static_cast<std::byte>((length >> (8 * i)) & 0xff);
}

/// A large call in two parts, sent one after the other without joining them: the length prefix
/// and every field of `request` but its arguments, then `arguments_size` bytes of arguments.
/// head + arguments are the bytes append_message writes for the request with those arguments.
inline byte_buffer frame_request_head(const client_request& request, std::size_t arguments_size) {
  byte_buffer head(kLengthPrefix);
  encode_into(head, request.kind, request.id, request.task, request.argument_signature,
              request.result_signature, std::uint64_t{arguments_size});
  const auto length = static_cast<std::uint32_t>(head.size() - kLengthPrefix + arguments_size);
  for (std::size_t i = 0; i < kLengthPrefix; ++i)
    head[i] = static_cast<std::byte>((length >> (8 * i)) & 0xff);
  return head;
}

/// A request read without copying its arguments out: its other fields, and where in `payload`
/// (a request without its length prefix) its arguments start; they run to its end. nullopt when
/// the payload is not one request.
struct request_in_place {
  client_request fields;  ///< arguments empty
  std::size_t arguments_offset = 0;
};
inline std::optional<request_in_place> read_request_in_place(
    std::span<const std::byte> payload) noexcept {
  // cereal's binary layout: kind (1), id (8), the task's size (8) and bytes, the two signatures
  // (8 each), the arguments' size (8) and bytes.
  constexpr std::size_t before_task = 1 + 8;
  std::uint64_t task_size = 0;
  if (payload.size() < before_task + 8) return std::nullopt;
  std::memcpy(&task_size, payload.data() + before_task, sizeof task_size);
  if (task_size > payload.size()) return std::nullopt;
  const std::size_t head = before_task + 8 + task_size + 8 + 8 + 8;
  if (payload.size() < head) return std::nullopt;
  try {
    request_in_place found;
    std::uint64_t arguments_size = 0;
    decode_exact(payload.first(head), found.fields.kind, found.fields.id, found.fields.task,
                 found.fields.argument_signature, found.fields.result_signature, arguments_size);
    if (arguments_size != payload.size() - head) return std::nullopt;
    found.arguments_offset = head;
    return found;
  } catch (...) {  // decode_failure, bad_alloc
    return std::nullopt;
  }
}

/// Appends one length-prefixed message to `out`.
template <class Message>
void append_message(byte_buffer& out, const Message& message) {
  const std::size_t start = out.size();
  out.resize(start + kLengthPrefix);
  encode_into(out, message);
  const auto length = static_cast<std::uint32_t>(out.size() - start - kLengthPrefix);
  for (std::size_t i = 0; i < kLengthPrefix; ++i)
    out[start + i] = static_cast<std::byte>((length >> (8 * i)) & 0xff);
}

/// The length in a prefix.
inline std::uint32_t read_length(std::span<const std::byte, kLengthPrefix> prefix) {
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kLengthPrefix; ++i)
    length |= static_cast<std::uint32_t>(prefix[i]) << (8 * i);
  return length;
}

/// Decodes one payload (without its prefix); nullopt if it is not exactly one Message.
template <class Message>
std::optional<Message> decode_message(std::span<const std::byte> payload) noexcept {
  try {
    Message message;
    decode_exact(payload, message);
    return message;
  } catch (...) {  // decode_failure, or bad_alloc from a hostile length inside the payload
    return std::nullopt;
  }
}

}  // namespace forkpool::detail

namespace forkpool {

namespace detail {
/// A point in time as microseconds since the epoch, in either direction.
template <class Archive>
void serialize_time(Archive& a, std::chrono::system_clock::time_point& t) {
  std::int64_t micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  a(micros);
  t = std::chrono::system_clock::time_point(std::chrono::microseconds(micros));
}
}  // namespace detail

template <class Archive>
void serialize(Archive& a, worker_stats& w) {
  a(w.pid, w.tasks_run, w.rss_bytes);
  detail::serialize_time(a, w.started);
}

template <class Archive>
void serialize(Archive& a, master_info& m) {
  a(m.pid, m.version);
  detail::serialize_time(a, m.started);
  a(m.tasks);
}

template <class Archive>
void save(Archive& a, const pool_stats& s) {
  a(s.workers_alive, s.submitted, s.completed, s.failed, s.cancelled, s.queue_depth,
    s.restarts_task_count, s.restarts_memory, s.restarts_timeout, s.restarts_crash,
    s.restarts_requested, s.initializer_failures, s.result_bytes_read_in_place, s.workers_retiring,
    s.retries, s.per_worker);
}

template <class Archive>
void load(Archive& a, pool_stats& s) {
  a(s.workers_alive, s.submitted, s.completed, s.failed, s.cancelled, s.queue_depth,
    s.restarts_task_count, s.restarts_memory, s.restarts_timeout, s.restarts_crash,
    s.restarts_requested, s.initializer_failures, s.result_bytes_read_in_place, s.workers_retiring,
    s.retries);
  s.per_worker.resize(detail::checked_size(a, 4 + 8 + 8 + 8));
  for (auto& w : s.per_worker) a(w);
}

}  // namespace forkpool
