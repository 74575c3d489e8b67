// The tables that can lead a reply body (wire.hpp: kBodyShared, kBodyLent): a count and a reserved
// word, then that many fixed-size entries. Entries are copied in and out: the body is not aligned
// for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/wire.hpp"

namespace forkpool::detail {

template <class Entry>
void append_reply_table(byte_buffer& out, std::span<const Entry> entries) {
  const reply_table_header header{static_cast<std::uint32_t>(entries.size()), 0};
  const auto* header_bytes = reinterpret_cast<const std::byte*>(&header);
  out.insert(out.end(), header_bytes, header_bytes + sizeof header);
  const auto entry_bytes = std::as_bytes(entries);
  out.insert(out.end(), entry_bytes.begin(), entry_bytes.end());
}

/// Copies the table at the front of `body` into `out` (room for `most` entries) and moves `body`
/// past it. Returns the entry count, or 0 when the table is malformed (empty, more than `most`
/// entries, cut short).
template <class Entry>
std::uint32_t take_reply_table(std::span<const std::byte>& body, std::uint32_t most,
                               Entry* out) noexcept {
  reply_table_header header{};
  if (body.size() < sizeof header) return 0;
  std::memcpy(&header, body.data(), sizeof header);
  if (header.count == 0 || header.count > most ||
      body.size() - sizeof header < header.count * sizeof(Entry))
    return 0;
  std::memcpy(out, body.data() + sizeof header, header.count * sizeof(Entry));
  body = body.subspan(sizeof header + header.count * sizeof(Entry));
  return header.count;
}

}  // namespace forkpool::detail
