// The messages between master and worker: what one side encodes the other parses back, and what
// the bytes alone can tell is wrong is refused, each with its reason.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "forkpool/detail/frame.hpp"
#include "worker_messages.hpp"

using namespace forkpool::detail;

namespace {

constexpr std::uint64_t kBulk = 4 << 20;
constexpr reply_limits kAllowEverything{kBulk, true, true};

std::vector<std::byte> encoded(const call_message& call) {
  std::vector<std::byte> frame(
      call_frame_size(call.name.size(), call.arguments.size(), call.bulk_size.has_value()));
  encode_call(frame.data(), call);
  return frame;
}

std::vector<std::byte> encoded(const reply_message& reply) {
  std::vector<std::byte> frame(reply_frame_size(reply));
  encode_reply(frame.data(), reply);
  return frame;
}

const char* parsed_call(std::span<const std::byte> bytes, call_message& out) {
  frame_view frame;
  REQUIRE(parse_frame(bytes, frame) == frame_fault::none);
  return parse_call(frame, kBulk, out);
}

// The frame again with its payload changed by `damage`, resealed so only the message is wrong.
template <class Damage>
std::vector<std::byte> resealed(std::vector<std::byte> frame, Damage damage) {
  frame_view view;
  REQUIRE(parse_frame(frame, view) == frame_fault::none);
  std::vector<std::byte> payload(view.payload.begin(), view.payload.end());
  damage(payload);
  std::vector<std::byte> out(frame_size(payload.size()));
  std::memcpy(out.data() + sizeof(frame_header), payload.data(), payload.size());
  seal_frame(out.data(), payload.size(), view.kind, view.task_id);
  return out;
}

std::string fault_of(const char* fault) { return fault == nullptr ? "" : fault; }

// Why parse_reply refuses `reply` with everything allowed ("" when it accepts it).
std::string reply_fault(const reply_message& reply) {
  reply_tables tables;
  reply_message back;
  return fault_of(parse_reply(encoded(reply), kAllowEverything, tables, back));
}

}  // namespace

TEST_SUITE_BEGIN("messages");

TEST_CASE("messages: a call parses back as it was encoded with its arguments inline or in bulk" *
          doctest::timeout(5)) {
  const std::vector<std::byte> arguments = {std::byte{1}, std::byte{2}, std::byte{3}};
  call_message call{frame_kind::call_chunk, 77, 5, 0x1111, 0x2222, "task.name", arguments, {}};
  call_message back;
  const std::vector<std::byte> frame = encoded(call);  // back's spans point into it
  REQUIRE(parsed_call(frame, back) == nullptr);
  CHECK(back.kind == frame_kind::call_chunk);
  CHECK(back.task_id == 77);
  CHECK(back.slot == 5);
  CHECK(back.argument_signature == 0x1111);
  CHECK(back.result_signature == 0x2222);
  CHECK(back.name == "task.name");
  CHECK(std::vector<std::byte>(back.arguments.begin(), back.arguments.end()) == arguments);
  CHECK_FALSE(back.bulk_size);

  call.arguments = {};
  call.bulk_size = 3 << 20;
  const std::vector<std::byte> in_bulk = encoded(call);
  REQUIRE(parsed_call(in_bulk, back) == nullptr);
  CHECK(back.bulk_size == std::uint64_t{3} << 20);
  CHECK(back.arguments.empty());
}

TEST_CASE("messages: a call that is cut short or names what does not exist is refused" *
          doctest::timeout(5)) {
  const call_message call{frame_kind::call, 1, 2, 3, 4, "square", {}, std::uint64_t{100}};
  const std::vector<std::byte> good = encoded(call);
  call_message back;
  CHECK(fault_of(parsed_call(resealed(good, [](auto& p) { p.resize(sizeof(call_header) - 1); }),
                             back)) == "a call shorter than its header");
  CHECK(fault_of(parsed_call(resealed(good, [](auto& p) { p.resize(sizeof(call_header) + 3); }),
                             back)) == "a call whose name is cut short");
  CHECK(fault_of(parsed_call(resealed(good, [](auto& p) { p.pop_back(); }), back)) ==
        "a call with a malformed size of bulk arguments");
  CHECK(fault_of(parsed_call(resealed(good,
                                      [](auto& p) {
                                        const std::uint32_t slot = kChannelSlots;
                                        std::memcpy(p.data() + offsetof(call_header, slot), &slot,
                                                    4);
                                      }),
                             back)) == "a call naming a slot that does not exist");
  CHECK(fault_of(parsed_call(resealed(good,
                                      [](auto& p) {
                                        const std::uint64_t size = kBulk + 1;
                                        std::memcpy(p.data() + p.size() - 8, &size, 8);
                                      }),
                             back)) == "a call whose bulk arguments exceed the bulk area");
  CHECK(fault_of(parsed_call(resealed(good,
                                      [](auto& p) {
                                        const std::uint16_t flags = 0x8001;
                                        std::memcpy(p.data() + offsetof(call_header, flags), &flags,
                                                    2);
                                      }),
                             back)) == "a call with unknown flags");
  // A reply frame is no call.
  std::vector<std::byte> reply = encoded(plain_reply(frame_kind::result, 0, 2));
  frame_view frame;
  REQUIRE(parse_frame(reply, frame) == frame_fault::none);
  CHECK(fault_of(parse_call(frame, kBulk, back)) == "a frame that is not a call");
}

TEST_CASE("messages: a reply with shared blocks and lent runs parses back with its tables" *
          doctest::timeout(5)) {
  const std::vector<shared_token> shared = {{1, 7, 4096, 100}, {2, 9, 8192, 5000}};
  const std::vector<lent_run> lent = {{0, 0x1000, 5}, {8, 0x9000, 3 << 20}, {8, 0x7000, 1}};
  const std::vector<std::byte> body(12, std::byte{7});
  const reply_message reply{frame_kind::result, 42, 3, 123456, shared, lent, body, {}};
  const std::vector<std::byte> bytes = encoded(reply);
  reply_tables tables;
  reply_message back;
  REQUIRE(parse_reply(bytes, kAllowEverything, tables, back) == nullptr);
  CHECK(back.kind == frame_kind::result);
  CHECK(back.task_id == 42);
  CHECK(back.slot == 3);
  CHECK(back.rss_bytes == 123456);
  REQUIRE(back.shared.size() == 2);
  CHECK(back.shared[1].offset == 8192);
  CHECK(back.shared[1].size == 5000);
  REQUIRE(back.lent.size() == 3);
  CHECK(back.lent[1].address == 0x9000);
  CHECK(back.lent[1].size == std::uint64_t{3} << 20);
  CHECK(std::vector<std::byte>(back.body.begin(), back.body.end()) == body);

  SUBCASE("lent runs a master may not read") {
    CHECK(fault_of(parse_reply(bytes, {kBulk, false, true}, tables, back)) ==
          "a reply lends memory the master was not allowed to read");
  }
  SUBCASE("shared blocks without a shared area") {
    CHECK(fault_of(parse_reply(bytes, {kBulk, true, false}, tables, back)) ==
          "a reply with a malformed table of shared buffers");
  }
  SUBCASE("runs more than the bulk area holds") {
    CHECK(fault_of(parse_reply(bytes, {std::uint64_t{3} << 20, true, true}, tables, back)) ==
          "a reply whose lent runs do not fit its body");
  }
  SUBCASE("a table cut short, empty or too long") {
    const std::size_t shared_table = sizeof(reply_table_header) + 2 * sizeof(shared_token);
    const auto cut =
        resealed(bytes, [&](auto& p) { p.resize(sizeof(reply_header) + shared_table - 1); });
    CHECK(fault_of(parse_reply(cut, kAllowEverything, tables, back)) ==
          "a reply with a malformed table of shared buffers");
    for (const std::uint32_t count : {0u, kMaxLentRuns + 1}) {
      const auto damaged = resealed(bytes, [&](auto& p) {
        std::memcpy(p.data() + sizeof(reply_header) + shared_table, &count, sizeof count);
      });
      CHECK(fault_of(parse_reply(damaged, kAllowEverything, tables, back)) ==
            "a reply with a malformed table of lent runs");
    }
  }
}

TEST_CASE("messages: lent runs out of order or placed past the body are refused" *
          doctest::timeout(5)) {
  const std::vector<std::byte> body(12);
  for (const std::vector<lent_run>& runs :
       {std::vector<lent_run>{{8, 0x1000, 5}, {0, 0x2000, 5}},
        std::vector<lent_run>{{0, 0x1000, 0}}, std::vector<lent_run>{{13, 0x1000, 5}},
        std::vector<lent_run>{{0, 0x1000, ~std::uint64_t{0}}}}) {
    const reply_message reply{frame_kind::result, 1, 0, 0, {}, runs, body, {}};
    CHECK(reply_fault(reply) == "a reply whose lent runs do not fit its body");
  }
}

TEST_CASE(
    "messages: a result in the bulk area parses back with its size and an error may not claim one" *
    doctest::timeout(5)) {
  reply_tables tables;
  reply_message back;
  reply_message reply = plain_reply(frame_kind::result, 9, 1);
  reply.bulk_size = 2 << 20;
  const std::vector<std::byte> frame = encoded(reply);  // back's spans point into it
  REQUIRE(parse_reply(frame, kAllowEverything, tables, back) == nullptr);
  CHECK(back.bulk_size == std::uint64_t{2} << 20);
  CHECK(back.body.empty());

  reply.bulk_size = kBulk + 1;
  CHECK(reply_fault(reply) == "a large reply with a malformed size");
  reply.kind = frame_kind::error;
  reply.bulk_size = 16;
  CHECK(reply_fault(reply) == "a large reply with a malformed size");
  const std::vector<lent_run> lent = {{0, 0x1000, 5}};
  const reply_message lent_error{frame_kind::error, 1, 0, 0, {}, lent, {}, {}};
  CHECK(reply_fault(lent_error) == "a reply with a malformed table of lent runs");
}

TEST_CASE("messages: a reply of a kind a worker never sends or with unknown flags is refused" *
          doctest::timeout(5)) {
  reply_tables tables;
  reply_message back;
  const std::vector<std::byte> call =
      encoded(call_message{frame_kind::call, 1, 0, 0, 0, "x", {}, {}});
  CHECK(fault_of(parse_reply(call, kAllowEverything, tables, back)) ==
        "unexpected frame kind from worker");
  const std::vector<std::byte> skipped = encoded(plain_reply(frame_kind::skipped, 0, 4));
  REQUIRE(parse_reply(skipped, kAllowEverything, tables, back) == nullptr);
  CHECK(back.kind == frame_kind::skipped);
  CHECK(back.slot == 4);
  const auto flagged = resealed(skipped, [](auto& p) {
    const std::uint32_t flags = 8;
    std::memcpy(p.data() + offsetof(reply_header, flags), &flags, 4);
  });
  CHECK(fault_of(parse_reply(flagged, kAllowEverything, tables, back)) ==
        "a reply with unknown flags");
  const auto no_slot = resealed(skipped, [](auto& p) {
    const std::uint32_t slot = kChannelSlots;
    std::memcpy(p.data() + offsetof(reply_header, slot), &slot, 4);
  });
  CHECK(fault_of(parse_reply(no_slot, kAllowEverything, tables, back)) ==
        "reply names a slot that does not exist");
  const auto short_one = resealed(skipped, [](auto& p) { p.resize(sizeof(reply_header) - 1); });
  CHECK(fault_of(parse_reply(short_one, kAllowEverything, tables, back)) ==
        "reply shorter than its header");
  std::vector<std::byte> corrupt = skipped;
  corrupt.back() ^= std::byte{1};
  CHECK(fault_of(parse_reply(corrupt, kAllowEverything, tables, back)) ==
        describe(frame_fault::bad_checksum));
}

TEST_SUITE_END();
