// Everything one worker shares with the master: one anonymous shared region holding the task
// state words and two rings, plus two doorbells.
//
//   request ring:  master produces, worker consumes   (calls, stop)
//   response ring: worker produces, master consumes   (results, errors, skips)
//   worker bell:   the master rings it; the worker sleeps on it (new request, or room to reply)
//   master bell:   the worker rings it; the master's event loop waits on it
//   bulk areas:    one per direction, for the one call and the one result at a time that do not
//                  fit a ring (the frame then carries only the size)
//   shared area:   where the worker's tasks allocate forkpool::shared_bytes (shared_area.hpp)
//
// The master holds its end (master_channel), the worker its own (worker_channel): each type has
// only the two rings that side may touch.
//
// A channel serves exactly one worker process for its whole life; a replacement gets a new one,
// so nothing a dying worker left half-done can reach its successor.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "bulk_area.hpp"
#include "doorbell.hpp"
#include "lending_probe.hpp"
#include "shared_region.hpp"
#include "spsc_ring.hpp"
#include "worker_messages.hpp"

namespace forkpool::detail {

class shared_area;

/// The life of one task in a channel, held in its slot's state word as (task_id << 2 | state).
/// The master writes `queued` before sending the call; then exactly one compare-and-swap wins:
/// the worker's queued -> running (it starts the task) or the master's queued -> cancelled.
enum class slot_state : std::uint64_t { free = 0, queued = 1, running = 2, cancelled = 3 };

constexpr std::uint64_t slot_word(std::uint64_t task_id, slot_state state) noexcept {
  return task_id << 2 | static_cast<std::uint64_t>(state);
}

/// What both ends of one worker's channel share: the region and its layout, the bells, the slot
/// words, the bulk areas, the shared area and the lending probe. Each process holds one end,
/// which adds the rings it may touch: master_channel or worker_channel.
class channel_region {
 public:
  /// Tasks a worker can hold at once (running plus queued in its ring).
  static constexpr std::uint32_t kSlots = kChannelSlots;

  channel_region(const channel_region&) = delete;
  channel_region& operator=(const channel_region&) = delete;

  /// State word of a slot (both sides; see slot_state).
  std::atomic<std::uint64_t>& slot(std::uint32_t index) noexcept;

  /// The areas for a call and a result larger than a ring (capacity 0 when the pool has none).
  /// The master writes the request area only while no call of this worker uses it.
  const bulk_area& request_bulk() const noexcept { return request_bulk_; }
  const bulk_area& response_bulk() const noexcept { return response_bulk_; }
  /// The area tasks' shared_bytes come from; null when the pool has none. Held by the blocks
  /// made from it too, so it outlives the channel while a caller holds one.
  const std::shared_ptr<shared_area>& shared() const noexcept { return shared_; }
  /// Set by the worker before it writes a result to the response area or lends part of it
  /// (see lending_probe); cleared by the master once it has decoded that result.
  std::atomic<std::uint32_t>& large_result_busy() noexcept;
  /// Whether the master may read the worker's memory (lending_probe.hpp).
  lending_probe& lending() noexcept { return lending_; }

  const doorbell& worker_bell() const noexcept { return worker_bell_; }
  const doorbell& master_bell() const noexcept { return master_bell_; }
  int region_fd() const noexcept { return region_.fd(); }
  std::size_t ring_bytes() const noexcept { return ring_bytes_; }

 protected:
  channel_region(shared_region region, doorbell worker_bell, doorbell master_bell);
  ~channel_region() = default;
  /// Where the request and the response ring start in the region.
  std::byte* request_ring() noexcept;
  std::byte* response_ring() noexcept;

 private:
  shared_region region_;
  doorbell worker_bell_;
  doorbell master_bell_;
  std::size_t ring_bytes_ = 0;
  bulk_area request_bulk_;
  bulk_area response_bulk_;
  std::shared_ptr<shared_area> shared_;
  lending_probe lending_;
};

/// The master's end: it produces calls, consumes replies and cancels queued tasks.
class master_channel final : public channel_region {
 public:
  /// The bytes each ring of a channel created for `ring_bytes` holds: a power of 2, at least 4096.
  static std::size_t ring_capacity_for(std::size_t ring_bytes) noexcept;
  /// A new channel whose rings hold `ring_bytes` each (see ring_capacity_for) and whose
  /// bulk areas hold `bulk_bytes` each (0: none), of which `kept_bulk_bytes` stay populated
  /// between payloads (and as many of the shared area's), and whose shared area holds
  /// `shared_bytes` (0: none).
  static std::shared_ptr<master_channel> create(std::size_t ring_bytes, std::size_t bulk_bytes = 0,
                                                std::size_t kept_bulk_bytes = 0,
                                                std::size_t shared_bytes = 0);

  ring_producer& requests_out() noexcept { return requests_out_; }
  ring_consumer& responses_in() noexcept { return responses_in_; }
  /// Moves a queued task to cancelled. False if the worker started it first.
  bool try_cancel(std::uint32_t index, std::uint64_t task_id) noexcept;

 private:
  master_channel(shared_region region, doorbell worker_bell, doorbell master_bell);

  ring_producer requests_out_;
  ring_consumer responses_in_;
};

/// The worker's end: it consumes calls, produces replies and starts queued tasks.
class worker_channel final : public channel_region {
 public:
  /// Attaches to the descriptors the master handed over. `on_lost`, if given, is called (and
  /// must not return) when a bell is found gone (doorbell::guarded).
  worker_channel(unique_fd region, unique_fd worker_bell, unique_fd master_bell,
                 doorbell::lost_handler on_lost = nullptr);

  ring_consumer& requests_in() noexcept { return requests_in_; }
  ring_producer& responses_out() noexcept { return responses_out_; }
  /// Moves a queued task to running. False if the master cancelled it.
  bool try_start(std::uint32_t index, std::uint64_t task_id) noexcept;

 private:
  ring_consumer requests_in_;
  ring_producer responses_out_;
};

}  // namespace forkpool::detail
