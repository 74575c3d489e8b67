// libFuzzer target: the decoders that read bytes from another process. Worker frames
// (parse_frame), the calls and replies inside them (parse_call, parse_reply) and the master's
// socket messages (length prefix, then client_request or master_reply) must reject anything
// malformed without crashing, reading out of bounds, or allocating more than the input could
// justify. What a parser accepts must lie inside the input and keep its promises: tables within
// their bounds, lent runs in order and within the bulk area, bulk sizes within it.
#include <cstddef>
#include <cstdint>
#include <span>

#include "forkpool/detail/client_protocol.hpp"
#include "forkpool/detail/frame.hpp"
#include "worker_messages.hpp"

using namespace forkpool::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  const auto inside = [&](std::span<const std::byte> part) {
    return part.empty() || (part.data() >= bytes.data() &&
                            part.data() + part.size() <= bytes.data() + bytes.size());
  };
  constexpr std::uint64_t kBulk = std::uint64_t{1} << 30;

  frame_view frame;
  if (parse_frame(bytes, frame) == frame_fault::none) {
    if (!inside(frame.payload)) __builtin_trap();
    call_message call;
    if (parse_call(frame, kBulk, call) == nullptr) {
      if (call.slot >= kChannelSlots || !inside(std::as_bytes(std::span(call.name))) ||
          !inside(call.arguments) || (call.bulk_size && *call.bulk_size > kBulk) ||
          (call.bulk_size && !call.arguments.empty()))
        __builtin_trap();
    }
  }

  // The worker's reply: with lending and a shared area allowed, so every table is read.
  reply_tables tables;
  reply_message reply;
  if (parse_reply(bytes, {kBulk, true, true}, tables, reply) == nullptr) {
    if (reply.slot >= kChannelSlots || !inside(reply.body) || reply.shared.size() > kSharedBlocks ||
        reply.lent.size() > kMaxLentRuns)
      __builtin_trap();
    if (reply.kind != frame_kind::result &&
        (!reply.shared.empty() || !reply.lent.empty() || reply.bulk_size))
      __builtin_trap();
    const std::uint64_t body_size = reply.bulk_size ? *reply.bulk_size : reply.body.size();
    std::uint64_t at = 0, total = body_size;
    for (const lent_run& run : reply.lent) {
      if (run.at < at || run.at > body_size || run.size == 0) __builtin_trap();
      at = run.at;
      total += run.size;
    }
    if (total > kBulk) __builtin_trap();
  }
  // Without lending, a reply that lends is refused.
  if (parse_reply(bytes, {kBulk, false, true}, tables, reply) == nullptr && !reply.lent.empty())
    __builtin_trap();

  if (size >= kLengthPrefix) {
    const std::uint32_t length = read_length(bytes.first<kLengthPrefix>());
    const auto payload = bytes.subspan(kLengthPrefix);
    if (length <= payload.size()) {
      const auto message = payload.first(length);
      if (auto request = decode_message<client_request>(message)) {
        // What decodes must encode back to the same bytes.
        byte_buffer again;
        append_message(again, *request);
        if (again.size() != length + kLengthPrefix) __builtin_trap();
      }
      (void)decode_message<master_reply>(message);
    }
  }
  return 0;
}
