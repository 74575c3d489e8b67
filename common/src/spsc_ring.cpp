#include "spsc_ring.hpp"

#include <cstring>
#include <new>

#include "forkpool/detail/spin.hpp"

namespace forkpool::detail {
namespace {

constexpr std::uint64_t kWrapMarker = ~std::uint64_t{0};
constexpr std::size_t kLengthWord = 8;

constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }
constexpr std::size_t record_size(std::size_t message) noexcept {
  return kLengthWord + align8(message);
}

std::byte* data_area(void* memory) noexcept {
  return static_cast<std::byte*>(memory) + sizeof(ring_control);
}

}  // namespace

std::size_t ring_footprint(std::size_t capacity) noexcept {
  return sizeof(ring_control) + capacity;
}

void ring_init(void* memory, std::size_t capacity) noexcept {
  auto* control = new (memory) ring_control{};
  control->capacity = capacity;
}

// ---- producer -------------------------------------------------------------------------------

ring_producer::ring_producer(void* memory, const doorbell* consumer_bell,
                             const doorbell* own_bell) noexcept
    : control_(static_cast<ring_control*>(memory)),
      data_(data_area(memory)),
      capacity_(control_->capacity),
      write_(control_->write_pos.load(std::memory_order_relaxed)),
      cached_read_(control_->read_pos.load(std::memory_order_acquire)),
      consumer_bell_(consumer_bell),
      own_bell_(own_bell) {}

bool ring_producer::has_room(std::size_t needed) noexcept {
  if (capacity_ - (write_ - cached_read_) >= needed) return true;
  // Acquire: the consumer's reads of the room it hands back happen before we overwrite it.
  cached_read_ = control_->read_pos.load(std::memory_order_acquire);
  return capacity_ - (write_ - cached_read_) >= needed;
}

std::byte* ring_producer::try_reserve(std::size_t size) noexcept {
  if (size > max_message()) return nullptr;
  const std::size_t needed = record_size(size);
  const std::size_t offset = write_ & (capacity_ - 1);
  const std::size_t to_end = capacity_ - offset;
  if (needed > to_end) {
    // The message would straddle the end: skip the rest of this lap with a marker. Room for the
    // marker alone is enough to write it; the consumer then frees the lap behind it.
    if (!has_room(to_end)) return nullptr;
    std::memcpy(data_ + offset, &kWrapMarker, kLengthWord);
    write_ += to_end;
    if (!has_room(needed)) {
      publish();  // the consumer must see the marker to free the room we wait for
      return nullptr;
    }
    return data_ + kLengthWord;
  }
  if (!has_room(needed)) return nullptr;
  return data_ + offset + kLengthWord;
}

std::byte* ring_producer::reserve(std::size_t size, adaptive_spin& spin) noexcept {
  if (std::byte* room = try_reserve(size)) return room;
  publish();  // never wait with unpublished messages: the consumer could be waiting for them
  spinner spinning(spin);
  for (;;) {
    if (std::byte* room = try_reserve(size)) {
      spinning.answered();
      return room;
    }
    if (spinning.keep_spinning()) continue;
    control_->producer_sleeping.store(1, std::memory_order_relaxed);
    // Pairs with the fence in ring_consumer::release(): either it sees our flag, or we see its
    // new read_pos.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (std::byte* room = try_reserve(size)) {
      control_->producer_sleeping.store(0, std::memory_order_relaxed);
      return room;
    }
    own_bell_->wait();
    control_->producer_sleeping.store(0, std::memory_order_relaxed);
  }
}

void ring_producer::commit(std::size_t size) noexcept {
  const std::uint64_t length = size;
  std::memcpy(data_ + (write_ & (capacity_ - 1)), &length, kLengthWord);
  write_ += record_size(size);
}

void ring_producer::publish() noexcept {
  if (control_->write_pos.load(std::memory_order_relaxed) == write_) return;
  // Release: the message bytes are visible before the position that announces them.
  control_->write_pos.store(write_, std::memory_order_release);
  // Pairs with the fence in the consumer's sleep: either it sees write_pos, or we see its flag.
  // Clearing the flag as we ring means one ring per sleep: until the consumer is up again, the
  // messages published after this one need no system call of their own.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (control_->consumer_sleeping.load(std::memory_order_relaxed) != 0 &&
      control_->consumer_sleeping.exchange(0, std::memory_order_relaxed) != 0)
    consumer_bell_->ring();
}

// ---- consumer -------------------------------------------------------------------------------

ring_consumer::ring_consumer(void* memory, const doorbell* producer_bell,
                             const doorbell* own_bell) noexcept
    : control_(static_cast<ring_control*>(memory)),
      data_(data_area(memory)),
      capacity_(control_->capacity),
      read_(control_->read_pos.load(std::memory_order_relaxed)),
      cached_write_(read_),
      producer_bell_(producer_bell),
      own_bell_(own_bell) {}

ring_consumer::status ring_consumer::try_peek(std::span<const std::byte>& message) noexcept {
  for (;;) {
    if (cached_write_ == read_) {
      // Acquire: pairs with the producer's release store; the bytes below are complete.
      cached_write_ = control_->write_pos.load(std::memory_order_acquire);
      if (cached_write_ == read_) return status::empty;
    }
    const std::size_t offset = read_ & (capacity_ - 1);
    std::uint64_t length;
    std::memcpy(&length, data_ + offset, kLengthWord);
    if (length == kWrapMarker) {
      read_ += capacity_ - offset;
      continue;
    }
    // A length the producer could not have written means the ring is damaged: say so, never
    // read past it.
    if (length > ring_max_message(capacity_) || record_size(length) > capacity_ - offset ||
        record_size(length) > cached_write_ - read_)
      return status::corrupt;
    message = {data_ + offset + kLengthWord, static_cast<std::size_t>(length)};
    peeked_bytes_ = record_size(length);
    return status::message;
  }
}

ring_consumer::status ring_consumer::peek(std::span<const std::byte>& message,
                                          adaptive_spin& spin) noexcept {
  status s = try_peek(message);
  if (s != status::empty) return s;
  release();  // hand back room before waiting, or a waiting producer could never fill us
  const bool spin_off = control_->consumer_spin_off.load(std::memory_order_relaxed) != 0;
  spinner spinning(spin, spin_off ? std::chrono::nanoseconds(0) : std::chrono::nanoseconds::max());
  for (;;) {
    if ((s = try_peek(message)) != status::empty) {
      spinning.answered();
      return s;
    }
    if (spinning.keep_spinning()) continue;
    if (prepare_sleep()) own_bell_->wait();
    end_sleep();
  }
}

void ring_consumer::pop() noexcept {
  read_ += peeked_bytes_;
  peeked_bytes_ = 0;
}

void ring_consumer::release() noexcept {
  if (control_->read_pos.load(std::memory_order_relaxed) == read_) return;
  // Release: our reads of the consumed bytes happen before the producer may overwrite them.
  control_->read_pos.store(read_, std::memory_order_release);
  // Pairs with the fence in ring_producer::reserve(). One ring per sleep, as in publish().
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (control_->producer_sleeping.load(std::memory_order_relaxed) != 0 &&
      control_->producer_sleeping.exchange(0, std::memory_order_relaxed) != 0)
    producer_bell_->ring();
}

bool ring_consumer::prepare_sleep() noexcept {
  control_->consumer_sleeping.store(1, std::memory_order_relaxed);
  // Pairs with the fence in ring_producer::publish().
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (control_->write_pos.load(std::memory_order_acquire) != read_) {
    control_->consumer_sleeping.store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ring_consumer::end_sleep() noexcept {
  // A thread that reads replies in a loop calls this on every pass: write only when needed, so
  // the producer's cache line is not taken from it each time.
  if (control_->consumer_sleeping.load(std::memory_order_relaxed) != 0)
    control_->consumer_sleeping.store(0, std::memory_order_relaxed);
}

}  // namespace forkpool::detail
