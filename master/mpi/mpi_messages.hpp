// What travels between rank 0's mpi_pool and its agents, by MPI tag. Calls and replies are
// forkpool-master's messages (client_protocol.hpp), length-prefixed as on its socket, several to
// one MPI message (a batch) when several are ready at once: one MPI message costs a few µs, an
// encoded no-op call a few dozen bytes. The rest is small cereal structs.
#pragma once

#include <algorithm>
#include <cereal/types/string.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "forkpool/detail/client_protocol.hpp"
#include "forkpool/detail/serialize.hpp"
#include "forkpool/mpi.hpp"
#include "forkpool/options.hpp"

namespace forkpool::detail::mpi_wire {

enum tag : int {
  configure = 1,  ///< 0 -> agent: agent_config; start a pool
  ready = 2,      ///< agent -> 0: agent_hello; the pool runs
  call = 3,       ///< 0 -> agent: a batch of client_requests (submit or stats)
  chunk = 4,      ///< 0 -> agent: a batch of client_requests, each a map chunk
  reply = 5,      ///< agent -> 0: a batch of master_replies
  heartbeat = 6,  ///< either way, empty: still here
  shutdown = 7,   ///< 0 -> agent: shutdown_options; shut the pool down
  bye = 8,        ///< agent -> 0, empty: the pool is shut down
  leave = 9,      ///< 0 -> agent: rank 0 is leaving; exit (one byte: 1 to finalize MPI first)
  leaving = 10,   ///< agent -> 0, empty: SIGTERM; it finishes what it holds, takes no more, leaves
};

/// A batch is closed at this many bytes; a message larger than a quarter of it travels alone
/// (copying it into a batch would cost more than its own MPI message).
inline constexpr std::size_t kBatchBytes = std::size_t{1} << 20;

/// The largest message a side takes when payloads are at most `max_payload`: one payload with
/// its message's other fields, or a batch.
inline std::size_t largest_message(std::size_t max_payload) noexcept {
  return std::max(max_payload, kBatchBytes) + (std::size_t{1} << 16);
}

/// The messages of a batch, without their length prefixes. `torn` is what is left where a
/// length runs past the end (a message cut short); empty when the batch is whole.
struct batch_view {
  std::vector<std::span<const std::byte>> messages;
  std::span<const std::byte> torn;
};
batch_view split_batch(std::span<const std::byte> batch);

/// A result reply's id and encoded result, read in place (not copied out as decode_message
/// would); nullopt for any other reply. The fields after the result are empty in a result reply
/// (frame_result_reply) and not read.
struct result_in_place {
  std::uint64_t id = 0;
  std::span<const std::byte> result;
};
std::optional<result_in_place> read_result_reply(std::span<const std::byte> reply) noexcept;

/// The pool an agent is to run: what of pool_options can travel (an initializer by name only).
struct agent_config {
  std::uint32_t workers = 0;
  std::uint64_t max_tasks_per_worker = 0;
  std::uint64_t max_worker_rss_bytes = 0;
  std::int64_t task_timeout_ms = 0;
  std::uint32_t max_retries = 0;
  std::uint8_t start = 0;
  std::uint64_t ring_bytes = 0;
  std::uint64_t max_payload_bytes = 0;
  std::int64_t heartbeat_ms = 0;
  std::int64_t host_timeout_ms = 0;
  std::string initializer;  ///< a registered task's name; empty for none

  template <class Archive>
  void serialize(Archive& a) {
    a(workers, max_tasks_per_worker, max_worker_rss_bytes, task_timeout_ms, max_retries, start,
      ring_bytes, max_payload_bytes, heartbeat_ms, host_timeout_ms, initializer);
  }
};

struct agent_hello {
  std::string host;
  std::int32_t pid = 0;
  std::uint32_t workers = 0;
  std::string error;  ///< why its pool could not start; empty when it runs

  template <class Archive>
  void serialize(Archive& a) {
    a(host, pid, workers, error);
  }
};

struct shutdown_request {
  bool cancel_pending = false;
  bool kill_running = false;

  template <class Archive>
  void serialize(Archive& a) {
    a(cancel_pending, kill_running);
  }
};

/// An mpi_pool's options as its agents get them (throws std::invalid_argument for an initializer
/// that is not a registered task), and back into the pool an agent makes (throws unknown_task
/// when that task is not registered there).
agent_config config_for(const mpi_pool_options& options);
pool_options pool_options_of(const agent_config& config);

/// The cereal encoding of one message.
template <class T>
byte_buffer encoded(const T& message) {
  byte_buffer bytes;
  encode_into(bytes, message);
  return bytes;
}

/// The id a client_request or master_reply carries after its one-byte kind, read from bytes that
/// may not decode as a whole; 0 when there are too few.
inline std::uint64_t id_of(std::span<const std::byte> message) noexcept {
  std::uint64_t id = 0;
  if (message.size() < 1 + sizeof id) return 0;
  std::memcpy(&id, message.data() + 1, sizeof id);  // cereal's binary form: native order
  return id;
}

/// A leave message: whether the agent may call MPI_Finalize (not once a rank was lost).
inline byte_buffer leave_message(bool finalize) { return {finalize ? std::byte{1} : std::byte{0}}; }
inline bool may_finalize(std::span<const std::byte> leave) noexcept {
  return leave.size() == 1 && leave[0] == std::byte{1};
}

}  // namespace forkpool::detail::mpi_wire
