// Frame validation: every kind of damage is caught before the payload is used.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "forkpool/detail/frame.hpp"

using namespace forkpool::detail;

namespace {
std::vector<std::byte> make_frame(std::size_t payload_size, frame_kind kind, std::uint64_t id) {
  std::vector<std::byte> bytes(frame_size(payload_size));
  for (std::size_t i = 0; i < payload_size; ++i)
    bytes[sizeof(frame_header) + i] = static_cast<std::byte>(i);
  seal_frame(bytes.data(), payload_size, kind, id);
  return bytes;
}
}  // namespace

TEST_CASE("frame: a sealed frame parses back to its kind and id and payload" *
          doctest::timeout(5)) {
  auto bytes = make_frame(100, frame_kind::call, 77);
  frame_view f;
  REQUIRE(parse_frame(bytes, f) == frame_fault::none);
  CHECK(f.kind == frame_kind::call);
  CHECK(f.task_id == 77);
  CHECK(f.payload.size() == 100);
  CHECK(f.payload[99] == std::byte{99});
}

TEST_CASE("frame: damage is detected" * doctest::timeout(5)) {
  frame_view f;
  auto good = make_frame(64, frame_kind::result, 5);
  SUBCASE("too short for a header") {
    CHECK(parse_frame(std::span(good).first(10), f) == frame_fault::truncated);
  }
  SUBCASE("truncated payload") {
    CHECK(parse_frame(std::span(good).first(good.size() - 1), f) == frame_fault::bad_length);
  }
  SUBCASE("a flipped payload bit") {
    good.back() ^= std::byte{0x10};
    CHECK(parse_frame(good, f) == frame_fault::bad_checksum);
  }
  SUBCASE("a changed task id") {
    good[8] ^= std::byte{1};
    CHECK(parse_frame(good, f) == frame_fault::bad_checksum);
  }
  SUBCASE("an unknown kind") {
    const std::uint16_t kind = 999;
    std::memcpy(good.data() + 4, &kind, 2);
    CHECK(parse_frame(good, f) == frame_fault::bad_kind);
  }
  SUBCASE("garbage") {
    std::vector<std::byte> garbage(64, std::byte{0xAB});
    CHECK(parse_frame(garbage, f) == frame_fault::bad_magic);
  }
}
