#include "worker_channel.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <new>
#include <stdexcept>

#include "forkpool/detail/pages.hpp"
#include "shared_area.hpp"

namespace forkpool::detail {
namespace {

// Region layout: [header][slot words][request ring][response ring], each part 64-byte aligned,
// then, page aligned and never populated up front, the request and the response bulk areas and
// the shared area.
struct channel_header {
  std::uint64_t magic;
  std::uint64_t ring_bytes;
  std::uint64_t bulk_bytes;
  std::uint64_t shared_area_bytes;  ///< its control page included; 0: none
  std::uint64_t kept_bulk_bytes;
  std::atomic<std::uint32_t> large_result_busy;
  lending_words lending;
};
constexpr std::uint64_t kChannelMagic = 0x666f726b706f6f6cull;  // "forkpool"

constexpr std::size_t align64(std::size_t n) noexcept { return (n + 63) & ~std::size_t{63}; }
constexpr std::size_t kSlotsOffset = align64(sizeof(channel_header));
constexpr std::size_t kRequestsOffset =
    align64(kSlotsOffset + channel_region::kSlots * sizeof(std::atomic<std::uint64_t>));

std::size_t responses_offset(std::size_t ring_bytes) noexcept {
  return kRequestsOffset + align64(ring_footprint(ring_bytes));
}
std::size_t region_size(std::size_t ring_bytes) noexcept {
  return page_ceil(responses_offset(ring_bytes) + align64(ring_footprint(ring_bytes)));
}

// The header's plain fields, read through the descriptor before anything is mapped.
struct channel_sizes {
  std::uint64_t magic;
  std::uint64_t ring_bytes;
  std::uint64_t bulk_bytes;
  std::uint64_t shared_area_bytes;
};

channel_sizes read_header(int fd) {
  channel_sizes header{};
  if (::pread(fd, &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header) ||
      header.magic != kChannelMagic || header.ring_bytes == 0 ||
      header.ring_bytes > (std::size_t{1} << 40) || header.bulk_bytes > (std::size_t{1} << 44) ||
      header.shared_area_bytes > (std::size_t{1} << 44))
    throw std::runtime_error("forkpool: not a worker channel region");
  return header;
}

// A fresh page of shared memory costs about 2 µs to allocate and zero here, so populating the
// whole rings (2 MiB by default) took 1 ms per worker: half of a pool's start-up. A channel is
// made, and attached, with only what the first calls touch populated: the header, the slot
// words and the front of each ring. The rest faults in as the rings first wrap through it, once,
// spread over the first megabytes of calls. (Populating it on the pool's thread while the worker
// started cost the start-up 0.6-0.9 ms of the CPU time the new worker needed, and bursts and
// round trips measured the same either way.)
constexpr std::size_t kEagerRingBytes = 64 * 1024;

void populate_front(const shared_region& region, std::size_t ring_bytes) noexcept {
  const std::size_t eager = std::min(align64(ring_footprint(ring_bytes)), kEagerRingBytes);
  populate(region.data(), page_ceil(kRequestsOffset + eager), populate_for::writing);
  const std::size_t responses = page_floor(responses_offset(ring_bytes));
  populate(region.data() + responses,
           std::min(region.size(), page_ceil(responses_offset(ring_bytes) + eager)) - responses,
           populate_for::writing);
}

// Maps the rings' part of a channel region; the header says how large it is.
shared_region attach_region(unique_fd fd) {
  const std::size_t ring_bytes = read_header(fd.get()).ring_bytes;
  shared_region region = shared_region::attach(std::move(fd), region_size(ring_bytes));
  populate_front(region, ring_bytes);
  return region;
}

}  // namespace

std::size_t master_channel::ring_capacity_for(std::size_t ring_bytes) noexcept {
  return std::bit_ceil(std::max<std::size_t>(ring_bytes, 4096));
}

std::shared_ptr<master_channel> master_channel::create(std::size_t ring_bytes,
                                                       std::size_t bulk_bytes,
                                                       std::size_t kept_bulk_bytes,
                                                       std::size_t shared_bytes) {
  ring_bytes = ring_capacity_for(ring_bytes);
  bulk_bytes = page_ceil(bulk_bytes);
  const std::size_t shared_area_bytes =
      shared_bytes == 0 ? 0 : page_ceil(shared_bytes) + kPageBytes;
  shared_region region =
      shared_region::create(region_size(ring_bytes), "forkpool-worker",
                            region_size(ring_bytes) + 2 * bulk_bytes + shared_area_bytes);
  populate_front(region, ring_bytes);
  std::byte* base = region.data();
  new (base) channel_header{kChannelMagic,
                            ring_bytes,
                            bulk_bytes,
                            shared_area_bytes,
                            kept_bulk_bytes,
                            {0},
                            {{lending_state::unknown}, {0}, {0}}};
  for (std::uint32_t i = 0; i < kSlots; ++i)
    new (base + kSlotsOffset + i * sizeof(std::atomic<std::uint64_t>))
        std::atomic<std::uint64_t>(0);
  ring_init(base + kRequestsOffset, ring_bytes);
  ring_init(base + responses_offset(ring_bytes), ring_bytes);
  // The worker bell blocks (the worker sleeps in read); the master bell is read by the event loop.
  return std::shared_ptr<master_channel>(
      new master_channel(std::move(region), doorbell::create(false), doorbell::create(true)));
}

namespace {
channel_header& header_of(const shared_region& region) noexcept {
  return *std::launder(reinterpret_cast<channel_header*>(region.data()));
}
// Before anything else reads the region: the lending probe is built from its header.
const shared_region& checked(const shared_region& region) {
  if (region.size() < sizeof(channel_header) || header_of(region).magic != kChannelMagic ||
      region_size(header_of(region).ring_bytes) != region.size())
    throw std::runtime_error("forkpool: not a worker channel region");
  return region;
}
}  // namespace

channel_region::channel_region(shared_region region, doorbell worker_bell, doorbell master_bell)
    : region_(std::move(region)),
      worker_bell_(std::move(worker_bell)),
      master_bell_(std::move(master_bell)),
      lending_(header_of(checked(region_)).lending, region_.data(), kChannelMagic) {
  const channel_header& header = header_of(region_);
  ring_bytes_ = header.ring_bytes;
  const std::size_t bulk_bytes = header.bulk_bytes;
  if (bulk_bytes != 0) {
    const std::size_t kept = header.kept_bulk_bytes;
    request_bulk_ = bulk_area(region_.fd(), region_.size(), bulk_bytes, kept);
    response_bulk_ = bulk_area(region_.fd(), region_.size() + bulk_bytes, bulk_bytes, kept);
  }
  if (header.shared_area_bytes != 0)
    shared_ = shared_area::map(region_.fd(), region_.size() + 2 * bulk_bytes,
                               header.shared_area_bytes, header.kept_bulk_bytes);
}

std::byte* channel_region::request_ring() noexcept { return region_.data() + kRequestsOffset; }
std::byte* channel_region::response_ring() noexcept {
  return region_.data() + responses_offset(ring_bytes_);
}

master_channel::master_channel(shared_region region, doorbell worker_bell, doorbell master_bell)
    : channel_region(std::move(region), std::move(worker_bell), std::move(master_bell)),
      requests_out_(request_ring(), &this->worker_bell(), &this->master_bell()),
      responses_in_(response_ring(), &this->worker_bell(), &this->master_bell()) {}

worker_channel::worker_channel(unique_fd region, unique_fd worker_bell, unique_fd master_bell,
                               doorbell::lost_handler on_lost)
    : channel_region(attach_region(std::move(region)),
                     on_lost ? doorbell::guarded(std::move(worker_bell), on_lost)
                             : doorbell(std::move(worker_bell)),
                     on_lost ? doorbell::guarded(std::move(master_bell), on_lost)
                             : doorbell(std::move(master_bell))),
      requests_in_(request_ring(), &this->master_bell(), &this->worker_bell()),
      responses_out_(response_ring(), &this->master_bell(), &this->worker_bell()) {}

std::atomic<std::uint64_t>& channel_region::slot(std::uint32_t index) noexcept {
  return *std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(
      region_.data() + kSlotsOffset + index * sizeof(std::atomic<std::uint64_t>)));
}

std::atomic<std::uint32_t>& channel_region::large_result_busy() noexcept {
  return header_of(region_).large_result_busy;
}

bool master_channel::try_cancel(std::uint32_t index, std::uint64_t task_id) noexcept {
  std::uint64_t expected = slot_word(task_id, slot_state::queued);
  return slot(index).compare_exchange_strong(expected, slot_word(task_id, slot_state::cancelled),
                                             std::memory_order_acq_rel);
}

bool worker_channel::try_start(std::uint32_t index, std::uint64_t task_id) noexcept {
  std::uint64_t expected = slot_word(task_id, slot_state::queued);
  return slot(index).compare_exchange_strong(expected, slot_word(task_id, slot_state::running),
                                             std::memory_order_acq_rel);
}

}  // namespace forkpool::detail
