// libFuzzer target: the decoders that read bytes from another process. Worker frames
// (parse_frame) and the master's socket messages (length prefix, then client_request or
// master_reply) must reject anything malformed without crashing, reading out of bounds, or
// allocating more than the input could justify. The table of lent runs at the front of a reply
// must be refused or fit its body.
#include <cstddef>
#include <cstdint>
#include <span>

#include "forkpool/detail/client_protocol.hpp"
#include "forkpool/detail/frame.hpp"
#include "lent_table.hpp"

using namespace forkpool::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  frame_view frame;
  if (parse_frame(bytes, frame) == frame_fault::none) {
    // A valid frame's payload lies inside the input.
    if (frame.payload.data() < bytes.data() ||
        frame.payload.data() + frame.payload.size() > bytes.data() + bytes.size())
      __builtin_trap();
  }

  std::span<const std::byte> body = bytes;
  lent_runs runs;
  if (take_lent_table(body, runs)) {
    if (runs.count == 0 || runs.count > kMaxLentRuns ||
        body.data() + body.size() != bytes.data() + bytes.size())
      __builtin_trap();
    if (lent_runs_fit(runs.view(), body.size(), std::size_t{1} << 30)) {
      std::uint64_t at = 0;
      for (const lent_run& run : runs.view()) {
        if (run.at < at || run.at > body.size() || run.size == 0) __builtin_trap();
        at = run.at;
      }
    }
  }

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
