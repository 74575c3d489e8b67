#include "forkpool/detail/frame.hpp"

#include <cstring>

#include "checksum.hpp"

namespace forkpool::detail {
namespace {

bool known_kind(std::uint16_t kind) noexcept {
  switch (static_cast<frame_kind>(kind)) {
    case frame_kind::call:
    case frame_kind::call_chunk:
    case frame_kind::stop:
    case frame_kind::result:
    case frame_kind::error:
    case frame_kind::skipped: return true;
  }
  return false;
}

std::uint32_t frame_checksum(frame_header header, const std::byte* payload) noexcept {
  header.checksum = 0;
  const std::uint32_t crc = crc32c(0, &header, sizeof header);
  return crc32c(crc, payload, header.payload_size);
}

}  // namespace

const char* describe(frame_fault fault) noexcept {
  switch (fault) {
    case frame_fault::none: return "valid frame";
    case frame_fault::truncated: return "frame shorter than its header";
    case frame_fault::bad_magic: return "frame has a bad magic number";
    case frame_fault::bad_kind: return "frame has an unknown kind";
    case frame_fault::bad_length: return "frame length does not match its header";
    case frame_fault::bad_checksum: return "frame checksum mismatch";
  }
  return "unknown frame fault";
}

void seal_frame(std::byte* frame, std::size_t payload_size, frame_kind kind,
                std::uint64_t task_id) noexcept {
  frame_header header{};
  header.payload_size = static_cast<std::uint32_t>(payload_size);
  header.kind = static_cast<std::uint16_t>(kind);
  header.magic = kFrameMagic;
  header.task_id = task_id;
  header.checksum = frame_checksum(header, frame + sizeof(frame_header));
  std::memcpy(frame, &header, sizeof header);
}

frame_fault parse_frame(std::span<const std::byte> bytes, frame_view& out) noexcept {
  if (bytes.size() < sizeof(frame_header)) return frame_fault::truncated;
  frame_header header;
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.magic != kFrameMagic) return frame_fault::bad_magic;
  if (!known_kind(header.kind)) return frame_fault::bad_kind;
  if (bytes.size() != frame_size(header.payload_size)) return frame_fault::bad_length;
  const std::byte* payload = bytes.data() + sizeof header;
  if (frame_checksum(header, payload) != header.checksum) return frame_fault::bad_checksum;
  out.kind = static_cast<frame_kind>(header.kind);
  out.task_id = header.task_id;
  out.payload = {payload, header.payload_size};
  return frame_fault::none;
}

}  // namespace forkpool::detail
