// The memory a worker's tasks allocate forkpool::shared_bytes from, and the caller reads in place.
//
// One per channel, after the two bulk areas in the channel's memfd: a control page of release
// words, then the data pages. The life of a block:
//
//   worker  allocate(): first fit, whole pages, populated for writing; the task fills it
//   worker  hand_over(): the reply encoder names it (slot, generation, offset, size) in the
//           reply's table of shared blocks; commit_reply() once the reply is sent
//   master  receive(): maps the named pages into a block the caller's shared_bytes own
//   master  dropping the last copy: the pages beyond the kept ones go back to the kernel, then
//           the block's generation is written into its slot's release word
//   worker  the block is free again once released and no copy in the worker refers to it
//
// The master touches nothing but the release words, so a worker that dies, or lies, cannot make
// the master read outside the area; a block the caller holds outlives its worker (the mapping
// is shared by the blocks, not by the channel).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <streambuf>
#include <vector>

#include <boost/interprocess/mapped_region.hpp>

#include "worker_messages.hpp"

namespace forkpool::detail {

/// What a forkpool::shared_bytes owns: its bytes, wherever they live.
struct shared_block {
  shared_block(std::byte* bytes, std::size_t bytes_size) : data(bytes), size(bytes_size) {}
  virtual ~shared_block() = default;
  shared_block(const shared_block&) = delete;
  shared_block& operator=(const shared_block&) = delete;
  std::byte* data;
  std::size_t size;
};

/// The blocks one reply names, made ready by the master before the result is decoded; those the
/// decoding does not claim are released when the receipt goes.
struct shared_receipt {
  std::vector<std::shared_ptr<shared_block>> blocks;
};

/// What a pool's callers hold of its workers' areas, its retired workers' included
/// (pool_stats::shared_buffers_held, shared_bytes_held).
struct shared_usage {
  std::atomic<std::uint64_t> buffers{0};
  std::atomic<std::uint64_t> bytes{0};
};

class shared_area : public std::enable_shared_from_this<shared_area> {
 public:
  /// Maps `bytes` of `fd` at `offset` (page aligned; a control page, then the data); after a
  /// release, the first `kept` bytes of the data stay populated.
  static std::shared_ptr<shared_area> map(int fd, std::size_t offset, std::size_t bytes,
                                          std::size_t kept);
  /// The size of the data part for an area of `bytes` (0 when there is no room for data).
  static std::size_t data_bytes(std::size_t bytes) noexcept;

  std::size_t capacity() const noexcept { return capacity_; }

  // ---- worker side ----
  /// A block of `size` bytes, populated for writing. Throws forkpool::shared_memory_exhausted
  /// when it is larger than the area, or the area has no run of free pages or no free slot.
  std::shared_ptr<shared_block> allocate(std::size_t size);
  /// Names `block` in the reply being encoded: its index in the reply's table. Empty when the
  /// block is not this area's, was handed over by an earlier reply, or the table is full: the
  /// encoder then copies the bytes instead.
  std::optional<std::uint32_t> hand_over(const shared_block& block);
  /// The table of the reply being encoded.
  std::span<const shared_token> reply_table() const noexcept { return pending_; }
  /// The reply was sent: its blocks are the master's until it releases them.
  void commit_reply();
  /// The reply was not sent (an error went instead): its blocks are the worker's again.
  void cancel_reply();

  // ---- master side ----
  /// Counts the blocks received from here on in `usage` (set before the worker starts).
  void count_into(std::shared_ptr<shared_usage> usage) noexcept { usage_ = std::move(usage); }
  /// The block a reply names. Throws decode_failure when the token does not lie in the area.
  std::shared_ptr<shared_block> receive(const shared_token& token);

  shared_area(const shared_area&) = delete;
  shared_area& operator=(const shared_area&) = delete;
  ~shared_area();

 private:
  enum class holder : std::uint8_t { none, worker, handing_over, master };
  struct record {
    std::size_t offset = 0;
    std::size_t pages = 0;
    std::uint32_t generation = 0;
    holder held_by = holder::none;
    bool worker_copies = false;  ///< a shared_bytes in the worker still refers to it
  };
  class worker_block;
  class master_block;

  shared_area(boost::interprocess::mapped_region mapping, std::size_t kept);
  std::atomic<std::uint32_t>& release_word(std::uint32_t slot) noexcept;
  std::byte* data() const noexcept;
  void reclaim_released();                                                  // with mutex_
  [[noreturn]] void throw_exhausted(std::size_t size, bool no_slot) const;  // with mutex_
  std::optional<std::size_t> first_fit(std::size_t pages) const;
  void worker_dropped(std::uint32_t slot) noexcept;
  void master_dropped(const shared_token& token) noexcept;

  boost::interprocess::mapped_region mapping_;
  std::size_t capacity_ = 0;
  std::size_t kept_ = 0;
  std::mutex mutex_;  // the worker's records: a task may allocate from several threads
  std::array<record, kSharedBlocks> records_{};
  std::vector<shared_token> pending_;
  std::vector<std::uint32_t> pending_slots_;
  std::shared_ptr<shared_usage> usage_;
};

/// The worker process's area and the stream its replies are encoded into, set by the worker
/// before its first task; empty in any other process.
struct worker_sharing {
  std::shared_ptr<shared_area> area;
  const std::streambuf* reply_sink = nullptr;
};
worker_sharing& this_worker_sharing() noexcept;

}  // namespace forkpool::detail
