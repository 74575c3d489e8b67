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
// A channel serves exactly one worker process for its whole life; a replacement gets a new one,
// so nothing a dying worker left half-done can reach its successor.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "bulk_area.hpp"
#include "doorbell.hpp"
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

class worker_channel {
 public:
  /// Tasks a worker can hold at once (running plus queued in its ring).
  static constexpr std::uint32_t kSlots = kChannelSlots;

  /// Master side: a new channel whose rings hold `ring_bytes` each (rounded up to a power of 2)
  /// and whose bulk areas hold `bulk_bytes` each (0: none), of which `kept_bulk_bytes` stay
  /// populated between payloads (and as many of the shared area's), and whose shared area holds
  /// `shared_bytes` (0: none).
  static std::shared_ptr<worker_channel> create(std::size_t ring_bytes, std::size_t bulk_bytes = 0,
                                                std::size_t kept_bulk_bytes = 0,
                                                std::size_t shared_bytes = 0);
  /// Worker side: attaches to the descriptors the master handed over. `on_lost`, if given, is
  /// called (and must not return) when a bell is found gone (doorbell::guarded).
  worker_channel(unique_fd region, unique_fd worker_bell, unique_fd master_bell,
                 doorbell::lost_handler on_lost = nullptr);

  worker_channel(const worker_channel&) = delete;
  worker_channel& operator=(const worker_channel&) = delete;

  // The master's ends (master process only).
  ring_producer& requests_out() noexcept { return requests_out_; }
  ring_consumer& responses_in() noexcept { return responses_in_; }
  // The worker's ends (worker process only).
  ring_consumer& requests_in() noexcept { return requests_in_; }
  ring_producer& responses_out() noexcept { return responses_out_; }

  /// State word of a slot (both sides; see slot_state).
  std::atomic<std::uint64_t>& slot(std::uint32_t index) noexcept;

  /// Moves a queued task to cancelled (master side). False if the worker started it first.
  bool try_cancel(std::uint32_t index, std::uint64_t task_id) noexcept;
  /// Moves a queued task to running (worker side). False if the master cancelled it.
  bool try_start(std::uint32_t index, std::uint64_t task_id) noexcept;

  /// The areas for a call and a result larger than a ring (capacity 0 when the pool has none).
  /// The master writes the request area only while no call of this worker uses it.
  const bulk_area& request_bulk() const noexcept { return request_bulk_; }
  const bulk_area& response_bulk() const noexcept { return response_bulk_; }
  /// The area tasks' shared_bytes come from; null when the pool has none. Held by the blocks
  /// made from it too, so it outlives the channel while a caller holds one.
  const std::shared_ptr<shared_area>& shared() const noexcept { return shared_; }
  /// Set by the worker before it writes a result to the response area or lends part of it
  /// (see lending()); cleared by the master once it has decoded that result.
  std::atomic<std::uint32_t>& large_result_busy() noexcept;

  /// Whether the master can read this worker's memory (process_vm_readv), so that the worker
  /// may leave a large result's contiguous runs where they are instead of copying them into the
  /// response area. The worker publishes its pid and the address of its own mapping of this
  /// channel; the master reads the channel's magic number through them once and says yes or no.
  /// (The launcher may report a worker's pid later than its first reply.)
  enum class lending_state : std::uint32_t { unknown = 0, allowed = 1, refused = 2 };
  std::atomic<lending_state>& lending() noexcept;
  /// Worker side: publishes what the master's check reads.
  void offer_lending() noexcept;
  /// The pid the worker published with its offer (0 before): known as soon as the worker runs,
  /// which may be before the launcher reports it.
  int offered_pid() noexcept;
  /// Master side: once the worker has offered, tries the read and settles lending(). Returns the
  /// worker's pid if lending is allowed, else 0. `known_pid`, when not 0, must match it.
  int settle_lending(int known_pid) noexcept;

  const doorbell& worker_bell() const noexcept { return worker_bell_; }
  const doorbell& master_bell() const noexcept { return master_bell_; }
  int region_fd() const noexcept { return region_.fd(); }
  std::size_t ring_bytes() const noexcept { return ring_bytes_; }

 private:
  worker_channel(shared_region region, doorbell worker_bell, doorbell master_bell);
  void bind_rings();

  shared_region region_;
  doorbell worker_bell_;
  doorbell master_bell_;
  std::size_t ring_bytes_ = 0;
  ring_producer requests_out_;
  ring_consumer responses_in_;
  ring_consumer requests_in_;
  ring_producer responses_out_;
  bulk_area request_bulk_;
  bulk_area response_bulk_;
  std::shared_ptr<shared_area> shared_;
};

}  // namespace forkpool::detail
