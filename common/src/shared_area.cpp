#include "shared_area.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "forkpool/detail/archive.hpp"
#include "forkpool/detail/pages.hpp"
#include "forkpool/detail/wire.hpp"
#include "forkpool/errors.hpp"
#include "shared_region.hpp"

namespace forkpool::detail {

// The control page: one release word per slot, written by the master only.
constexpr std::size_t kControlBytes = kPageBytes;
static_assert(kSharedBlocks * sizeof(std::atomic<std::uint32_t>) <= kControlBytes);

class shared_area::worker_block final : public shared_block {
 public:
  worker_block(std::shared_ptr<shared_area> area, std::uint32_t slot, std::byte* bytes,
               std::size_t size)
      : shared_block(bytes, size), area_(std::move(area)), slot_(slot) {}
  ~worker_block() override { area_->worker_dropped(slot_); }

  const shared_area* area() const noexcept { return area_.get(); }
  std::uint32_t slot() const noexcept { return slot_; }

 private:
  std::shared_ptr<shared_area> area_;
  std::uint32_t slot_;
};

class shared_area::master_block final : public shared_block {
 public:
  master_block(std::shared_ptr<shared_area> area, const shared_token& token)
      : shared_block(area->data() + token.offset, token.size),
        area_(std::move(area)),
        token_(token) {}
  ~master_block() override { area_->master_dropped(token_); }

 private:
  std::shared_ptr<shared_area> area_;
  shared_token token_;
};

std::size_t shared_area::data_bytes(std::size_t bytes) noexcept {
  bytes = page_floor(bytes);
  return bytes > kControlBytes ? bytes - kControlBytes : 0;
}

std::shared_ptr<shared_area> shared_area::map(int fd, std::size_t offset, std::size_t bytes,
                                              std::size_t kept) {
  boost::interprocess::mapped_region mapping(
      descriptor_mappable(fd), boost::interprocess::read_write,
      static_cast<boost::interprocess::offset_t>(offset), page_floor(bytes));
  return std::shared_ptr<shared_area>(new shared_area(std::move(mapping), kept));
}

shared_area::shared_area(boost::interprocess::mapped_region mapping, std::size_t kept)
    : mapping_(std::move(mapping)),
      capacity_(data_bytes(mapping_.get_size())),
      kept_(std::min(page_ceil(kept), capacity_)) {
  pending_.reserve(kSharedBlocks);
  pending_slots_.reserve(kSharedBlocks);
}

shared_area::~shared_area() = default;

std::atomic<std::uint32_t>& shared_area::release_word(std::uint32_t slot) noexcept {
  return std::launder(static_cast<std::atomic<std::uint32_t>*>(mapping_.get_address()))[slot];
}

std::byte* shared_area::data() const noexcept {
  return static_cast<std::byte*>(mapping_.get_address()) + kControlBytes;
}

std::shared_ptr<shared_block> shared_area::allocate(std::size_t size) {
  const std::size_t pages = page_ceil(size) / kPageBytes;
  if (size > capacity_)
    throw shared_memory_exhausted("forkpool::shared_bytes of " + std::to_string(size) +
                                  " bytes is larger than this worker's shared area (" +
                                  std::to_string(capacity_) +
                                  " bytes: pool_options::shared_bytes_per_worker)");
  std::uint32_t slot = kSharedBlocks;
  std::size_t offset = 0;
  {
    std::lock_guard lock(mutex_);
    reclaim_released();
    for (std::uint32_t i = 0; i < kSharedBlocks && slot == kSharedBlocks; ++i)
      if (records_[i].held_by == holder::none) slot = i;
    const std::optional<std::size_t> found =
        slot == kSharedBlocks ? std::nullopt : first_fit(pages);
    if (!found) throw_exhausted(size, slot == kSharedBlocks);
    offset = *found;
    record& chosen = records_[slot];
    chosen = {offset, pages, chosen.generation + 1 == 0 ? 1 : chosen.generation + 1, holder::worker,
              true};
  }
  populate(data() + offset, pages * kPageBytes, populate_for::writing);
  return std::make_shared<worker_block>(shared_from_this(), slot, data() + offset, size);
}

// Only when an allocation fails: what is held, so the caller knows what to drop.
void shared_area::throw_exhausted(std::size_t size, bool no_slot) const {
  std::size_t held = 0, held_bytes = 0;
  for (const record& r : records_) {
    if (r.held_by == holder::none) continue;
    ++held;
    held_bytes += r.pages * kPageBytes;
  }
  const std::string holding = std::to_string(held) + " buffers of " + std::to_string(held_bytes) +
                              " bytes are held (results not yet dropped by their callers, or "
                              "still in the worker)";
  if (no_slot)
    throw shared_memory_exhausted("forkpool::shared_bytes: this worker's shared area holds " +
                                  std::to_string(kSharedBlocks) + " buffers at most, and " +
                                  holding);
  throw shared_memory_exhausted("forkpool::shared_bytes of " + std::to_string(size) +
                                " bytes does not fit this worker's shared area of " +
                                std::to_string(capacity_) + " bytes: " + holding);
}

void shared_area::reclaim_released() {
  for (std::uint32_t i = 0; i < kSharedBlocks; ++i) {
    record& r = records_[i];
    if (r.held_by != holder::master ||
        release_word(i).load(std::memory_order_acquire) != r.generation)
      continue;
    r.held_by = r.worker_copies ? holder::worker : holder::none;
  }
}

std::optional<std::size_t> shared_area::first_fit(std::size_t pages) const {
  std::array<const record*, kSharedBlocks> used{};
  std::size_t count = 0;
  for (const record& r : records_)
    if (r.held_by != holder::none) used[count++] = &r;
  std::sort(used.begin(), used.begin() + count,
            [](const record* a, const record* b) { return a->offset < b->offset; });
  const std::size_t wanted = pages * kPageBytes;
  std::size_t gap_start = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (used[i]->offset - gap_start >= wanted) return gap_start;
    gap_start = used[i]->offset + used[i]->pages * kPageBytes;
  }
  if (capacity_ - gap_start >= wanted) return gap_start;
  return std::nullopt;
}

std::optional<std::uint32_t> shared_area::hand_over(const shared_block& block) {
  const auto* ours = dynamic_cast<const worker_block*>(&block);
  if (ours == nullptr || ours->area() != this) return std::nullopt;
  std::lock_guard lock(mutex_);
  reclaim_released();  // a block the caller has dropped since may go out in place again
  record& r = records_[ours->slot()];
  if (r.held_by == holder::handing_over) {
    for (std::uint32_t i = 0; i < pending_slots_.size(); ++i)
      if (pending_slots_[i] == ours->slot()) return i;
  }
  if (r.held_by != holder::worker || pending_.size() == kSharedBlocks) return std::nullopt;
  // A new generation for each hand-over: the master's release of an earlier one must not free
  // this one.
  r.generation = r.generation + 1 == 0 ? 1 : r.generation + 1;
  r.held_by = holder::handing_over;
  pending_.push_back({ours->slot(), r.generation, r.offset, block.size});
  pending_slots_.push_back(ours->slot());
  return static_cast<std::uint32_t>(pending_.size() - 1);
}

void shared_area::commit_reply() {
  std::lock_guard lock(mutex_);
  for (const std::uint32_t slot : pending_slots_) records_[slot].held_by = holder::master;
  pending_.clear();
  pending_slots_.clear();
}

void shared_area::cancel_reply() {
  std::lock_guard lock(mutex_);
  for (const std::uint32_t slot : pending_slots_) {
    record& r = records_[slot];
    r.held_by = r.worker_copies ? holder::worker : holder::none;
  }
  pending_.clear();
  pending_slots_.clear();
}

void shared_area::worker_dropped(std::uint32_t slot) noexcept {
  std::lock_guard lock(mutex_);
  record& r = records_[slot];
  r.worker_copies = false;
  if (r.held_by == holder::worker) r.held_by = holder::none;
}

std::shared_ptr<shared_block> shared_area::receive(const shared_token& token) {
  if (token.slot >= kSharedBlocks || token.size == 0 || token.size > capacity_ ||
      token.offset % kPageBytes != 0 || token.offset > capacity_ - token.size)
    throw decode_failure("a shared buffer that does not lie in its worker's area");
  populate(data() + token.offset, page_ceil(token.size), populate_for::reading);
  auto block = std::make_shared<master_block>(shared_from_this(), token);
  if (usage_) {
    usage_->buffers.fetch_add(1, std::memory_order_relaxed);
    usage_->bytes.fetch_add(token.size, std::memory_order_relaxed);
  }
  return block;
}

void shared_area::master_dropped(const shared_token& token) noexcept {
  // The pages beyond the kept ones go back now, before the worker may use them again.
  const std::size_t begin = std::max<std::size_t>(token.offset, kept_);
  const std::size_t end = token.offset + page_ceil(token.size);
  if (end > begin) ::madvise(data() + begin, end - begin, MADV_REMOVE);
  release_word(token.slot).store(token.generation, std::memory_order_release);
  if (usage_) {
    usage_->buffers.fetch_sub(1, std::memory_order_relaxed);
    usage_->bytes.fetch_sub(token.size, std::memory_order_relaxed);
  }
}

namespace {
// At namespace scope, not a function-local static: the master reads it too, and a worker forked
// while another thread was first initializing a function-local static would wait on its guard
// for good.
constinit worker_sharing this_workers_sharing{};
}  // namespace

worker_sharing& this_worker_sharing() noexcept { return this_workers_sharing; }

}  // namespace forkpool::detail
