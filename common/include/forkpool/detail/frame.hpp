// The frame: the unit of every message between master and worker. A fixed header (length, kind,
// task id, checksum over header and payload) followed by a cereal binary payload. Every read
// validates the header before the payload is touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace forkpool::detail {

enum class frame_kind : std::uint16_t {
  // master -> worker
  call = 1,        ///< one task call
  call_chunk = 2,  ///< a map chunk: many calls of one task, one frame
  stop = 3,        ///< finish and exit
  // worker -> master
  result = 16,   ///< the task's result
  error = 17,    ///< the task failed (wire_error payload)
  skipped = 18,  ///< the task was cancelled before it started; its slot is free
};

struct frame_header {
  std::uint32_t payload_size;
  std::uint16_t kind;
  std::uint16_t magic;  ///< kFrameMagic: catches a read from a stale or misaligned position
  std::uint64_t task_id;
  std::uint32_t checksum;  ///< CRC-32C of this header (with checksum = 0) and the payload
  std::uint32_t reserved;
};
static_assert(sizeof(frame_header) == 24);

inline constexpr std::uint16_t kFrameMagic = 0xF0B1;

/// What was wrong with a frame that failed validation.
enum class frame_fault { none, truncated, bad_magic, bad_kind, bad_length, bad_checksum };
const char* describe(frame_fault fault) noexcept;

struct frame_view {
  frame_kind kind{};
  std::uint64_t task_id = 0;
  std::span<const std::byte> payload;
};

constexpr std::size_t frame_size(std::size_t payload_size) noexcept {
  return sizeof(frame_header) + payload_size;
}

/// Writes the header in front of a payload already at `frame + sizeof(frame_header)`.
void seal_frame(std::byte* frame, std::size_t payload_size, frame_kind kind,
                std::uint64_t task_id) noexcept;

/// Validates `bytes` as exactly one frame; on success fills `out`.
frame_fault parse_frame(std::span<const std::byte> bytes, frame_view& out) noexcept;

}  // namespace forkpool::detail
