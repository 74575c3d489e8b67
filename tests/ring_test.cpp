// The shared-memory SPSC ring on its own: wrap-around, a full ring, every frame size, and two
// processes hammering one ring.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "checksum.hpp"
#include "eventually.hpp"
#include "forkpool/detail/frame.hpp"
#include "shared_region.hpp"
#include "spsc_ring.hpp"

using namespace forkpool::detail;

namespace {

// A ring in its own anonymous shared region, with both doorbells.
struct test_ring {
  explicit test_ring(std::size_t capacity)
      : region(shared_region::create(ring_footprint(capacity), "ring-test")),
        consumer_bell(doorbell::create(false)),
        producer_bell(doorbell::create(false)) {
    ring_init(region.data(), capacity);
  }
  ring_producer producer() { return ring_producer(region.data(), &consumer_bell, &producer_bell); }
  ring_consumer consumer() { return ring_consumer(region.data(), &producer_bell, &consumer_bell); }

  shared_region region;
  doorbell consumer_bell;
  doorbell producer_bell;
};

void write_message(ring_producer& p, std::byte* room, std::size_t size, unsigned seed) {
  for (std::size_t i = 0; i < size; ++i) room[i] = static_cast<std::byte>((seed + i * 31) & 0xff);
  p.commit(size);
}

bool message_matches(std::span<const std::byte> m, std::size_t size, unsigned seed) {
  if (m.size() != size) return false;
  for (std::size_t i = 0; i < size; ++i)
    if (m[i] != static_cast<std::byte>((seed + i * 31) & 0xff)) return false;
  return true;
}

}  // namespace

// The producer can tell the consumer's waits not to spin (its pool has more threads running
// than CPUs): with a spin budget of a minute, the consumer still goes to sleep at once, and a
// message published afterwards wakes it.
TEST_CASE("ring: a consumer asked not to spin sleeps at once and wakes for a message" *
          doctest::timeout(30)) {
  test_ring ring(4096);
  ring_producer p = ring.producer();
  ring_consumer c = ring.consumer();
  const auto* control = reinterpret_cast<const ring_control*>(ring.region.data());
  p.ask_consumer_not_to_spin(true);
  CHECK(control->consumer_spin_off.load() == 1);
  adaptive_spin minute(std::chrono::seconds(60), adaptive_spin::fixed);
  std::atomic<bool> got{false};
  std::thread consumer([&] {
    std::span<const std::byte> m;
    if (c.peek(m, minute) == ring_consumer::status::message && message_matches(m, 24, 5))
      got = true;
  });
  CHECK(eventually([&] { return control->consumer_sleeping.load() == 1; }));
  write_message(p, p.try_reserve(24), 24, 5);
  p.publish();
  consumer.join();
  CHECK(got);
  // Asking again with the same answer writes nothing; the other answer clears the word.
  p.ask_consumer_not_to_spin(false);
  CHECK(control->consumer_spin_off.load() == 0);
}

TEST_CASE("ring: an empty ring has nothing to peek" * doctest::timeout(10)) {
  test_ring ring(4096);
  ring_consumer c = ring.consumer();
  std::span<const std::byte> m;
  CHECK(c.try_peek(m) == ring_consumer::status::empty);
}

TEST_CASE("ring: messages are invisible until published and then arrive in order" *
          doctest::timeout(10)) {
  test_ring ring(4096);
  ring_producer p = ring.producer();
  ring_consumer c = ring.consumer();
  for (unsigned i = 0; i < 5; ++i) write_message(p, p.try_reserve(10 + i), 10 + i, i);
  std::span<const std::byte> m;
  CHECK(c.try_peek(m) == ring_consumer::status::empty);
  p.publish();
  for (unsigned i = 0; i < 5; ++i) {
    REQUIRE(c.try_peek(m) == ring_consumer::status::message);
    CHECK(message_matches(m, 10 + i, i));
    c.pop();
  }
  CHECK(c.try_peek(m) == ring_consumer::status::empty);
}

TEST_CASE("ring: wraps around many laps with sizes that straddle the end" * doctest::timeout(10)) {
  test_ring ring(1024);
  ring_producer p = ring.producer();
  ring_consumer c = ring.consumer();
  std::span<const std::byte> m;
  for (unsigned i = 0; i < 10000; ++i) {
    const std::size_t size = (i * 37) % 300;  // odd sizes: records do not divide the ring
    std::byte* room = p.try_reserve(size);
    REQUIRE(room != nullptr);
    write_message(p, room, size, i);
    p.publish();
    REQUIRE(c.try_peek(m) == ring_consumer::status::message);
    REQUIRE(message_matches(m, size, i));
    c.pop();
    c.release();
  }
}

TEST_CASE("ring: a full ring refuses a reservation and accepts it once room is released" *
          doctest::timeout(10)) {
  test_ring ring(1024);
  ring_producer p = ring.producer();
  ring_consumer c = ring.consumer();
  unsigned written = 0;
  while (std::byte* room = p.try_reserve(100)) write_message(p, room, 100, written++);
  p.publish();
  CHECK(written == 1024 / (8 + 104));  // each record: length word + payload padded to 8
  CHECK(p.try_reserve(100) == nullptr);
  std::span<const std::byte> m;
  REQUIRE(c.try_peek(m) == ring_consumer::status::message);
  c.pop();
  CHECK(p.try_reserve(100) == nullptr);  // popped but not yet released
  c.release();
  std::byte* room = p.try_reserve(100);
  REQUIRE(room != nullptr);
  write_message(p, room, 100, written++);
  p.publish();
  for (unsigned i = 1; i < written; ++i) {
    REQUIRE(c.try_peek(m) == ring_consumer::status::message);
    CHECK(message_matches(m, 100, i));
    c.pop();
  }
}

TEST_CASE("ring: every message size from 0 bytes to the maximum passes intact" *
          doctest::timeout(30)) {
  const std::size_t capacity = 4096;
  test_ring ring(capacity);
  ring_producer p = ring.producer();
  ring_consumer c = ring.consumer();
  CHECK(p.max_message() == ring_max_message(capacity));
  CHECK(p.try_reserve(p.max_message() + 1) == nullptr);
  std::span<const std::byte> m;
  // Twice over, so that large messages also start at awkward offsets.
  for (int round = 0; round < 2; ++round) {
    for (std::size_t size = 0; size <= p.max_message(); ++size) {
      std::byte* room = p.try_reserve(size);
      if (room == nullptr) {
        // Too large for the rest of this lap: the producer left a wrap marker, and the room
        // behind it frees once the consumer has passed it.
        REQUIRE(c.try_peek(m) == ring_consumer::status::empty);
        c.release();
        room = p.try_reserve(size);
      }
      REQUIRE(room != nullptr);
      write_message(p, room, size, static_cast<unsigned>(size));
      p.publish();
      REQUIRE(c.try_peek(m) == ring_consumer::status::message);
      REQUIRE(message_matches(m, size, static_cast<unsigned>(size)));
      c.pop();
      c.release();
    }
  }
}

TEST_CASE("ring: a damaged length is reported as corrupt and never read past" *
          doctest::timeout(10)) {
  test_ring ring(1024);
  ring_producer p = ring.producer();
  ring_consumer c = ring.consumer();
  write_message(p, p.try_reserve(16), 16, 1);
  p.publish();
  // Overwrite the length word (the first 8 bytes of the data area) with nonsense.
  const std::uint64_t nonsense = 5000;
  std::memcpy(ring.region.data() + sizeof(ring_control), &nonsense, sizeof nonsense);
  std::span<const std::byte> m;
  CHECK(c.try_peek(m) == ring_consumer::status::corrupt);
}

TEST_CASE("ring: two processes pass a million checksummed frames through a small ring" *
          doctest::timeout(120)) {
  // A small ring keeps it full most of the time, so the producer waits and wakes constantly.
  test_ring ring(16384);
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kFrames = 250'000;  // a fifth: AddressSanitizer's checks on every byte
#else
  constexpr std::uint64_t kFrames = 1'000'000;
#endif
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ring_producer p = ring.producer();
    adaptive_spin room_spin(std::chrono::microseconds(20));
    std::vector<std::byte> payload(600);
    for (std::uint64_t i = 0; i < kFrames; ++i) {
      const std::size_t size = (i * 7919) % payload.size();
      for (std::size_t k = 0; k < size; ++k) payload[k] = static_cast<std::byte>((i + k) & 0xff);
      std::byte* room = p.reserve(frame_size(size), room_spin);
      std::memcpy(room + sizeof(frame_header), payload.data(), size);
      seal_frame(room, size, frame_kind::result, i);
      p.commit(frame_size(size));
      if (i % 8 == 7) p.publish();  // publish in small batches, as the pool does
    }
    p.publish();
    ::_exit(0);
  }
  ring_consumer c = ring.consumer();
  adaptive_spin message_spin(std::chrono::microseconds(20));
  std::uint64_t received = 0, bad = 0, out_of_order = 0;
  while (received < kFrames) {
    std::span<const std::byte> m;
    const auto status = c.peek(m, message_spin);
    REQUIRE(status == ring_consumer::status::message);
    frame_view f;
    if (parse_frame(m, f) != frame_fault::none) ++bad;
    if (f.task_id != received) ++out_of_order;
    const std::size_t expected_size = (received * 7919) % 600;
    if (f.payload.size() != expected_size) ++bad;
    for (std::size_t k = 0; k < f.payload.size(); ++k)
      if (f.payload[k] != static_cast<std::byte>((received + k) & 0xff)) {
        ++bad;
        break;
      }
    c.pop();
    c.release();
    ++received;
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(received == kFrames);
  CHECK(bad == 0);
  CHECK(out_of_order == 0);
}
