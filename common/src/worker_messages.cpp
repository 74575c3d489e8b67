#include "worker_messages.hpp"

#include <algorithm>
#include <cstring>

namespace forkpool::detail {
namespace {

// Tables are copied in and out: the bytes are not aligned for their entries.
template <class Entry>
std::byte* write_table(std::byte* at, std::span<const Entry> entries) noexcept {
  const reply_table_header header{static_cast<std::uint32_t>(entries.size()), 0};
  std::memcpy(at, &header, sizeof header);
  at += sizeof header;
  if (!entries.empty()) std::memcpy(at, entries.data(), entries.size_bytes());
  return at + entries.size_bytes();
}

// Copies the table at the front of `body` into `room` and moves `body` past it. Empty when the
// table is malformed: no entries, more than the room, cut short.
template <class Entry, std::size_t N>
std::span<const Entry> take_table(std::span<const std::byte>& body,
                                  std::array<Entry, N>& room) noexcept {
  reply_table_header header{};
  if (body.size() < sizeof header) return {};
  std::memcpy(&header, body.data(), sizeof header);
  if (header.count == 0 || header.count > N ||
      (body.size() - sizeof header) / sizeof(Entry) < header.count)
    return {};
  std::memcpy(room.data(), body.data() + sizeof header, header.count * sizeof(Entry));
  body = body.subspan(sizeof header + header.count * sizeof(Entry));
  return {room.data(), header.count};
}

// The last part of a call or reply, then the frame's seal: the size of the bytes in the bulk
// area, or the bytes themselves.
void finish_frame(std::byte* frame, std::byte* p, const std::optional<std::uint64_t>& bulk_size,
                  std::span<const std::byte> bytes, frame_kind kind,
                  std::uint64_t task_id) noexcept {
  if (bulk_size) {
    std::memcpy(p, &*bulk_size, sizeof(std::uint64_t));
    p += sizeof(std::uint64_t);
  } else if (!bytes.empty()) {
    std::memcpy(p, bytes.data(), bytes.size());
    p += bytes.size();
  }
  seal_frame(frame, static_cast<std::size_t>(p - (frame + sizeof(frame_header))), kind, task_id);
}

template <class Entry>
std::size_t table_size(std::span<const Entry> entries) noexcept {
  return entries.empty() ? 0 : sizeof(reply_table_header) + entries.size_bytes();
}

// Whether the runs follow one another within a body of `body_size` copied bytes, none empty,
// and all the bytes together (copied and lent) stay within `capacity`.
bool lent_runs_fit(std::span<const lent_run> runs, std::uint64_t body_size,
                   std::uint64_t capacity) noexcept {
  std::uint64_t at = 0;
  std::uint64_t total = body_size;
  for (const lent_run& run : runs) {
    if (run.at < at || run.at > body_size || run.size == 0 ||
        run.size > capacity - std::min(capacity, total))
      return false;
    at = run.at;
    total += run.size;
  }
  return true;
}

}  // namespace

// ---- calls
// ---------------------------------------------------------------------------------------

std::size_t call_frame_size(std::size_t name_size, std::size_t argument_bytes,
                            bool in_bulk) noexcept {
  return frame_size(sizeof(call_header) + name_size +
                    (in_bulk ? sizeof(std::uint64_t) : argument_bytes));
}

void encode_call(std::byte* frame, const call_message& call) noexcept {
  const call_header header{call.argument_signature, call.result_signature, call.slot,
                           static_cast<std::uint16_t>(call.name.size()),
                           call.bulk_size ? kArgumentsInBulk : std::uint16_t{0}};
  std::byte* p = frame + sizeof(frame_header);
  std::memcpy(p, &header, sizeof header);
  p += sizeof header;
  std::memcpy(p, call.name.data(), call.name.size());
  p += call.name.size();
  finish_frame(frame, p, call.bulk_size, call.arguments, call.kind, call.task_id);
}

const char* parse_call(const frame_view& frame, std::uint64_t bulk_capacity,
                       call_message& out) noexcept {
  if (frame.kind != frame_kind::call && frame.kind != frame_kind::call_chunk)
    return "a frame that is not a call";
  call_header header;
  if (frame.payload.size() < sizeof header) return "a call shorter than its header";
  std::memcpy(&header, frame.payload.data(), sizeof header);
  if (header.slot >= kChannelSlots) return "a call naming a slot that does not exist";
  if ((header.flags & ~kArgumentsInBulk) != 0) return "a call with unknown flags";
  std::span<const std::byte> rest = frame.payload.subspan(sizeof header);
  if (rest.size() < header.name_size) return "a call whose name is cut short";
  out.kind = frame.kind;
  out.task_id = frame.task_id;
  out.slot = header.slot;
  out.argument_signature = header.argument_signature;
  out.result_signature = header.result_signature;
  out.name = std::string_view(reinterpret_cast<const char*>(rest.data()), header.name_size);
  rest = rest.subspan(header.name_size);
  out.arguments = {};
  out.bulk_size.reset();
  if ((header.flags & kArgumentsInBulk) != 0) {
    std::uint64_t size = 0;
    if (rest.size() != sizeof size) return "a call with a malformed size of bulk arguments";
    std::memcpy(&size, rest.data(), sizeof size);
    if (size > bulk_capacity) return "a call whose bulk arguments exceed the bulk area";
    out.bulk_size = size;
  } else {
    out.arguments = rest;
  }
  return nullptr;
}

// ---- replies
// -------------------------------------------------------------------------------------

std::size_t reply_frame_size(const reply_message& reply) noexcept {
  return frame_size(sizeof(reply_header) + table_size(reply.shared) + table_size(reply.lent) +
                    (reply.bulk_size ? sizeof(std::uint64_t) : reply.body.size()));
}

void encode_reply(std::byte* frame, const reply_message& reply) noexcept {
  std::uint32_t flags = 0;
  if (!reply.shared.empty()) flags |= kBodyShared;
  if (!reply.lent.empty()) flags |= kBodyLent;
  if (reply.bulk_size) flags |= kBodyInBulk;
  const reply_header header{reply.rss_bytes, reply.slot, flags};
  std::byte* p = frame + sizeof(frame_header);
  std::memcpy(p, &header, sizeof header);
  p += sizeof header;
  if (!reply.shared.empty()) p = write_table(p, reply.shared);  // the shared table comes first
  if (!reply.lent.empty()) p = write_table(p, reply.lent);
  finish_frame(frame, p, reply.bulk_size, reply.body, reply.kind, reply.task_id);
}

const char* parse_reply(std::span<const std::byte> bytes, const reply_limits& limits,
                        reply_tables& tables, reply_message& out) noexcept {
  frame_view frame;
  if (const frame_fault fault = parse_frame(bytes, frame); fault != frame_fault::none)
    return describe(fault);
  reply_header header;
  if (frame.payload.size() < sizeof header) return "reply shorter than its header";
  std::memcpy(&header, frame.payload.data(), sizeof header);
  if (header.slot >= kChannelSlots) return "reply names a slot that does not exist";
  if (frame.kind != frame_kind::result && frame.kind != frame_kind::error &&
      frame.kind != frame_kind::skipped)
    return "unexpected frame kind from worker";
  if ((header.flags & ~(kBodyInBulk | kBodyLent | kBodyShared)) != 0)
    return "a reply with unknown flags";
  const bool result = frame.kind == frame_kind::result;
  out = reply_message{};
  out.kind = frame.kind;
  out.task_id = frame.task_id;
  out.slot = header.slot;
  out.rss_bytes = header.rss_bytes;
  std::span<const std::byte> body = frame.payload.subspan(sizeof header);
  if ((header.flags & kBodyShared) != 0) {
    if (!result || !limits.has_shared_area)
      return "a reply with a malformed table of shared buffers";
    out.shared = take_table(body, tables.shared);
    if (out.shared.empty()) return "a reply with a malformed table of shared buffers";
  }
  if ((header.flags & kBodyLent) != 0) {
    if (!limits.may_lend) return "a reply lends memory the master was not allowed to read";
    if (result) out.lent = take_table(body, tables.lent);
    if (out.lent.empty()) return "a reply with a malformed table of lent runs";
  }
  std::uint64_t body_size = body.size();
  if ((header.flags & kBodyInBulk) != 0) {
    std::uint64_t size = 0;
    if (body.size() == sizeof size) std::memcpy(&size, body.data(), sizeof size);
    if (!result || body.size() != sizeof size || size > limits.bulk_capacity)
      return "a large reply with a malformed size";
    out.bulk_size = size;
    body_size = size;
  } else {
    out.body = body;
  }
  if (!lent_runs_fit(out.lent, body_size, limits.bulk_capacity))
    return "a reply whose lent runs do not fit its body";
  return nullptr;
}

}  // namespace forkpool::detail
