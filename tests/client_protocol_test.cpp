// The messages between forkpool-master and its clients: a result reply written around its
// result is byte for byte the reply append_message writes, and the byte fields keep the
// encoding they had as strings, so clients and masters of either form understand each other.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "forkpool/detail/client_protocol.hpp"

using namespace forkpool;
using detail::byte_buffer;

namespace {

byte_buffer some_bytes(std::size_t size) {
  byte_buffer bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>(i * 7 + 3);
  return bytes;
}

// The reply as the master framed it: the result placed after room for the header.
byte_buffer framed_in_place(const byte_buffer& result, std::uint64_t id) {
  byte_buffer message(detail::kResultReplyHead);
  message.reserve(detail::kResultReplyHead + result.size() + detail::kResultReplyTail);
  message.insert(message.end(), result.begin(), result.end());
  detail::frame_result_reply(message, id);
  return message;
}

// The earlier form of the two messages, whose byte fields were strings.
struct string_request {
  detail::client_request::kind_t kind = detail::client_request::kind_t::submit;
  std::uint64_t id = 0;
  std::string task;
  std::uint64_t argument_signature = 0;
  std::uint64_t result_signature = 0;
  std::string arguments;
  template <class Archive>
  void serialize(Archive& a) {
    a(kind, id, task, argument_signature, result_signature, arguments);
  }
};

}  // namespace

TEST_CASE("client protocol: a result reply framed around its result equals the encoded reply") {
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{3} << 20}) {
    CAPTURE(size);
    const byte_buffer result = some_bytes(size);
    detail::master_reply reply;
    reply.kind = detail::master_reply::kind_t::result;
    reply.id = 0x1122334455667788u + size;
    reply.result = result;
    byte_buffer expected;
    detail::append_message(expected, reply);
    const byte_buffer framed = framed_in_place(result, reply.id);
    CHECK(framed == expected);
    // And it decodes to the same reply.
    const auto decoded = detail::decode_message<detail::master_reply>(
        std::span(framed).subspan(detail::kLengthPrefix));
    REQUIRE(decoded);
    CHECK(decoded->id == reply.id);
    CHECK(decoded->kind == detail::master_reply::kind_t::result);
    CHECK(decoded->result == result);
  }
}

TEST_CASE("client protocol: the room kept after a result holds the rest of its reply") {
  const byte_buffer result = some_bytes(1000);
  byte_buffer message(detail::kResultReplyHead);
  message.reserve(detail::kResultReplyHead + result.size() + detail::kResultReplyTail);
  message.insert(message.end(), result.begin(), result.end());
  const std::byte* storage = message.data();
  detail::frame_result_reply(message, 7);
  CHECK(message.data() == storage);  // not moved: the result was not copied again
}

TEST_CASE("client protocol: a request's arguments have the bytes they had as a string") {
  detail::client_request request;
  request.id = 42;
  request.task = "square";
  request.argument_signature = 5;
  request.result_signature = 6;
  request.arguments = some_bytes(300);
  string_request old;
  old.id = request.id;
  old.task = request.task;
  old.argument_signature = request.argument_signature;
  old.result_signature = request.result_signature;
  old.arguments.assign(reinterpret_cast<const char*>(request.arguments.data()),
                       request.arguments.size());
  byte_buffer now;
  byte_buffer before;
  detail::append_message(now, request);
  detail::append_message(before, old);
  CHECK(now == before);
  const auto decoded =
      detail::decode_message<detail::client_request>(std::span(now).subspan(detail::kLengthPrefix));
  REQUIRE(decoded);
  CHECK(decoded->arguments == request.arguments);
  CHECK(decoded->task == "square");
}

TEST_CASE("client protocol: arguments longer than their message are refused") {
  detail::client_request request;
  request.arguments = some_bytes(64);
  byte_buffer bytes;
  detail::append_message(bytes, request);
  bytes.resize(bytes.size() - 1);  // one byte short of what the size says
  CHECK_FALSE(detail::decode_message<detail::client_request>(
      std::span(bytes).subspan(detail::kLengthPrefix)));
}

TEST_CASE("client protocol: a call framed as a head and its arguments is the whole call") {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{3} << 20}) {
    CAPTURE(size);
    detail::client_request request;
    request.id = 77;
    request.task = "render_page";
    request.argument_signature = 0x1234;
    request.result_signature = 0x5678;
    request.arguments = some_bytes(size);
    byte_buffer whole;
    detail::append_message(whole, request);
    byte_buffer parts = detail::frame_request_head(request, size);
    parts.insert(parts.end(), request.arguments.begin(), request.arguments.end());
    CHECK(parts == whole);
    // Read back in place: the fields, and the arguments where they lie.
    const std::span<const std::byte> payload = std::span(whole).subspan(detail::kLengthPrefix);
    const auto read = detail::read_request_in_place(payload);
    REQUIRE(read.has_value());
    CHECK(read->fields.id == 77);
    CHECK(read->fields.task == "render_page");
    CHECK(read->fields.argument_signature == 0x1234);
    CHECK(read->fields.result_signature == 0x5678);
    CHECK(read->fields.arguments.empty());
    CHECK(payload.size() - read->arguments_offset == size);
    CHECK(std::equal(payload.begin() + static_cast<std::ptrdiff_t>(read->arguments_offset),
                     payload.end(), request.arguments.begin()));
    // One byte short or one too many: not one request.
    CHECK_FALSE(detail::read_request_in_place(payload.first(payload.size() - 1)).has_value());
    byte_buffer longer(payload.begin(), payload.end());
    longer.push_back(std::byte{0});
    CHECK_FALSE(detail::read_request_in_place(longer).has_value());
  }
}
