// The messages between the master and a worker, inside frames (frame.hpp), written and read in
// one place: the master encodes calls and parses replies, the worker parses calls and encodes
// replies, and the fuzzer feeds both parsers.
//
//   call     call_header, the task's name, then the arguments (or, kArgumentsInBulk, their size:
//            the arguments are in the request bulk area)
//   reply    reply_header, then the body: a table of shared blocks (kBodyShared), a table of lent
//            runs (kBodyLent), then the result or wire_error bytes (or, kBodyInBulk, the result's
//            size: it is in the response bulk area)
//
// A parser checks everything the bytes alone can tell: sizes, tables, flags against kinds, slots
// in range. What needs the reader's state (is the slot's task this one, does a shared block lie
// in the area) stays with the reader.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "forkpool/detail/archive.hpp"
#include "forkpool/detail/frame.hpp"

namespace forkpool::detail {

/// Calls a worker holds at once: the slots of its channel.
inline constexpr std::uint32_t kChannelSlots = 64;

// ---- layouts -----------------------------------------------------------------------------------

/// Start of a call / call_chunk payload.
struct call_header {
  std::uint64_t argument_signature;
  std::uint64_t result_signature;
  std::uint32_t slot;  ///< index of the task's state word in the channel
  std::uint16_t name_size;
  std::uint16_t flags;  ///< kArgumentsInBulk or 0
};
static_assert(sizeof(call_header) == 24);
constexpr std::uint16_t kArgumentsInBulk = 1;

/// Start of a result / error / skipped payload.
struct reply_header {
  std::uint64_t rss_bytes;  ///< the worker's private memory after the task
  std::uint32_t slot;
  std::uint32_t flags;  ///< kBody* bits
};
static_assert(sizeof(reply_header) == 16);
constexpr std::uint32_t kBodyInBulk = 1;
constexpr std::uint32_t kBodyLent = 2;
constexpr std::uint32_t kBodyShared = 4;

/// Leads each table in front of a reply body: how many fixed-size entries follow.
struct reply_table_header {
  std::uint32_t count;
  std::uint32_t reserved;
};
static_assert(sizeof(reply_table_header) == 8);

/// A block of the worker's shared area, as a reply names it (shared_area.hpp).
struct shared_token {
  std::uint32_t slot;
  std::uint32_t generation;
  std::uint64_t offset;
  std::uint64_t size;
};
static_assert(sizeof(shared_token) == 24);

/// Blocks of one shared area that can be held at once (by the worker and by callers together).
inline constexpr std::uint32_t kSharedBlocks = 64;
inline constexpr std::uint32_t kMaxLentRuns = 64;
/// A contiguous run of at least this many bytes is lent rather than copied: below it, the
/// worker's wait for the master's read would cost more than the copy it saves.
constexpr std::size_t kLendAtLeast = std::size_t{1} << 20;

// ---- calls: master -> worker -------------------------------------------------------------------

struct call_message {
  frame_kind kind = frame_kind::call;  ///< call or call_chunk
  std::uint64_t task_id = 0;
  std::uint32_t slot = 0;
  std::uint64_t argument_signature = 0;
  std::uint64_t result_signature = 0;
  std::string_view name;
  /// The encoded arguments in the frame; empty when they are in the request bulk area.
  std::span<const std::byte> arguments;
  /// Set when the arguments are in the request bulk area: their size.
  std::optional<std::uint64_t> bulk_size;
};

/// The frame size of a call: `name_size` bytes of name and `argument_bytes` of arguments in the
/// frame, or, `in_bulk`, only their size.
std::size_t call_frame_size(std::size_t name_size, std::size_t argument_bytes,
                            bool in_bulk) noexcept;
/// Writes `call` as a sealed frame at `frame`, which has call_frame_size() bytes of room. The
/// name must fit a std::uint16_t.
void encode_call(std::byte* frame, const call_message& call) noexcept;
/// Reads a checked frame (parse_frame) as a call whose bulk arguments fit `bulk_capacity`. Null,
/// or what is wrong with it; `out`'s spans point into the frame.
const char* parse_call(const frame_view& frame, std::uint64_t bulk_capacity,
                       call_message& out) noexcept;

// ---- replies: worker -> master -----------------------------------------------------------------

struct reply_message {
  frame_kind kind = frame_kind::result;  ///< result, error or skipped
  std::uint64_t task_id = 0;
  std::uint32_t slot = 0;
  std::uint64_t rss_bytes = 0;
  std::span<const shared_token> shared;  ///< blocks the result names (a result only)
  std::span<const lent_run> lent;        ///< runs left in the worker's memory (a result only)
  /// The result or wire_error bytes in the frame; empty when the result is in the bulk area.
  std::span<const std::byte> body;
  /// Set when the result is in the response bulk area (a result only): its size.
  std::optional<std::uint64_t> bulk_size;
};

/// A reply with no tables and its body (if any) in the frame.
inline reply_message plain_reply(frame_kind kind, std::uint64_t task_id, std::uint32_t slot,
                                 std::span<const std::byte> body = {}) noexcept {
  reply_message reply;
  reply.kind = kind;
  reply.task_id = task_id;
  reply.slot = slot;
  reply.body = body;
  return reply;
}

/// The frame size of `reply` (its tables, and its body or bulk size).
std::size_t reply_frame_size(const reply_message& reply) noexcept;
/// Writes `reply` as a sealed frame at `frame`, which has reply_frame_size() bytes of room. At
/// most kSharedBlocks shared blocks and kMaxLentRuns lent runs.
void encode_reply(std::byte* frame, const reply_message& reply) noexcept;

/// What the master allows a worker's replies.
struct reply_limits {
  std::uint64_t bulk_capacity = 0;  ///< of the response bulk area
  bool may_lend = false;            ///< the master can read the worker's memory
  bool has_shared_area = false;
};
/// Where a parsed reply's tables are copied (the frame is not aligned for them).
struct reply_tables {
  std::array<shared_token, kSharedBlocks> shared;
  std::array<lent_run, kMaxLentRuns> lent;
};
/// Reads `bytes` as one reply frame (parse_frame included). Null, or what is wrong with it, in
/// words for the worker's fault; `out`'s spans point into `bytes` and `tables`.
const char* parse_reply(std::span<const std::byte> bytes, const reply_limits& limits,
                        reply_tables& tables, reply_message& out) noexcept;

}  // namespace forkpool::detail
