// A single-producer single-consumer ring of variable-length messages in shared memory.
//
// Ownership: exactly one process produces (ring_producer) and exactly one consumes
// (ring_consumer). Between master and worker: the master produces requests and consumes
// responses; the worker does the reverse. Each message is contiguous in the ring, so a consumer
// decodes it in place and a producer encodes straight into it.
//
// Layout of the data area: each message is [u64 length][bytes][padding to 8]. A length of
// kWrapMarker means "the rest of this lap is unused; continue at offset 0".
//
// Wake-ups: a side that finds nothing to do spins briefly, then sets its "sleeping" flag and
// sleeps on its doorbell. The other side rings that doorbell only if it sees the flag, so while
// both sides are busy no system call is made.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "doorbell.hpp"
#include "forkpool/detail/spin.hpp"

namespace forkpool::detail {

/// Placed at the start of a ring's shared memory, followed by the data area.
struct ring_control {
  // Producer's cache line: it stores, the consumer loads.
  alignas(64) std::atomic<std::uint64_t> write_pos;
  std::atomic<std::uint32_t> producer_sleeping;  ///< producer waits for room
  /// Set by the producer while a consumer spinning for messages would take a CPU that others
  /// need: the consumer's wait then sleeps at once (see ring_producer::ask_consumer_not_to_spin).
  std::atomic<std::uint32_t> consumer_spin_off;
  // Consumer's cache line.
  alignas(64) std::atomic<std::uint64_t> read_pos;
  std::atomic<std::uint32_t> consumer_sleeping;  ///< consumer waits for a message
  // Written once, before the ring is shared.
  alignas(64) std::uint64_t capacity;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free (address-free)");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// Bytes of shared memory a ring with `capacity` data bytes occupies.
std::size_t ring_footprint(std::size_t capacity) noexcept;

/// Initialises a ring in zeroed memory. `capacity` must be a power of two, at least 64.
void ring_init(void* memory, std::size_t capacity) noexcept;

/// The largest message a ring of `capacity` bytes can carry.
constexpr std::size_t ring_max_message(std::size_t capacity) noexcept { return capacity - 8; }

/// The producing end. Not thread-safe: one producer thread at a time.
class ring_producer {
 public:
  ring_producer() = default;
  /// `consumer_bell` wakes the consumer; `own_bell` is what this side sleeps on when full.
  ring_producer(void* memory, const doorbell* consumer_bell, const doorbell* own_bell) noexcept;

  std::size_t max_message() const noexcept { return ring_max_message(capacity_); }

  /// Contiguous room for a message of `size` bytes, or nullptr if there is no room now.
  /// Follow with commit(size) once the bytes are written.
  std::byte* try_reserve(std::size_t size) noexcept;
  /// Like try_reserve, but waits (spin, then sleep) until there is room. `size` <= max_message().
  std::byte* reserve(std::size_t size, adaptive_spin& spin) noexcept;
  /// The message at the last reservation is complete. Visible to the consumer at publish().
  void commit(std::size_t size) noexcept;
  /// Makes committed messages visible; rings the consumer if it sleeps.
  void publish() noexcept;
  /// Whether the consumer's next waits for a message may spin. The producer knows when more
  /// threads of its pool are running than there are CPUs; the consumer alone does not. Writes
  /// the shared word only when the answer changes.
  void ask_consumer_not_to_spin(bool no_spin) noexcept {
    if (no_spin == consumer_spin_off_) return;
    consumer_spin_off_ = no_spin;
    control_->consumer_spin_off.store(no_spin ? 1 : 0, std::memory_order_relaxed);
  }
  /// How far the consumer has read and given back: it moves whenever the consumer releases, so
  /// a position that stays put with messages waiting says the consumer is stuck on one.
  std::uint64_t consumer_position() const noexcept {
    return control_->read_pos.load(std::memory_order_relaxed);
  }

 private:
  bool has_room(std::size_t needed) noexcept;

  ring_control* control_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t write_ = 0;        ///< local write position, ahead of control_->write_pos
  std::uint64_t cached_read_ = 0;  ///< last read_pos seen; reloaded only when short of room
  const doorbell* consumer_bell_ = nullptr;
  const doorbell* own_bell_ = nullptr;
  bool consumer_spin_off_ = false;  ///< what control_->consumer_spin_off says
};

/// The consuming end. Not thread-safe: one consumer thread at a time.
class ring_consumer {
 public:
  enum class status { message, empty, corrupt };

  ring_consumer() = default;
  ring_consumer(void* memory, const doorbell* producer_bell, const doorbell* own_bell) noexcept;

  /// The next message, in place. Valid until pop().
  status try_peek(std::span<const std::byte>& message) noexcept;
  /// Like try_peek, but waits (spin, then sleep on the own bell) while the ring is empty. It does
  /// not spin while the producer asks it not to.
  status peek(std::span<const std::byte>& message, adaptive_spin& spin) noexcept;
  /// Done with the peeked message. Its room returns to the producer at release().
  void pop() noexcept;
  /// Hands consumed room back to the producer; rings it if it waits for room.
  void release() noexcept;

  /// For consumers that sleep elsewhere (an event loop): announce sleep. Returns false, and stays
  /// awake, if a message arrived meanwhile. After true, the producer will ring the own bell.
  bool prepare_sleep() noexcept;
  /// Back from sleep.
  void end_sleep() noexcept;

 private:
  ring_control* control_ = nullptr;
  const std::byte* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t read_ = 0;
  std::uint64_t cached_write_ = 0;
  std::size_t peeked_bytes_ = 0;  ///< ring bytes the peeked message occupies
  const doorbell* producer_bell_ = nullptr;
  const doorbell* own_bell_ = nullptr;
};

}  // namespace forkpool::detail
