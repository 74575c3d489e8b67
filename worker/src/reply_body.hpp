// Where a worker encodes a task's result: its reusable buffer while the result fits the response
// ring, else straight into the response bulk area, so a large result is written once, in shared
// memory, where the master decodes it from.
//
// Better still, when the master can read this process's memory (lending_probe.hpp), a
// contiguous run of kLendAtLeast bytes or more (a large string's or vector's data) is not copied
// at all: the body records where it is, and the master copies it once, from the task's own
// result into the caller's. That memory must outlive the master's read: the body keeps the
// result (lending_sink), and the worker publishes the reply, waits for the master's read
// (await_master_read) and only then lets the result go (reset).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <streambuf>
#include <vector>

#include <unistd.h>

#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/spin.hpp"
#include "forkpool/detail/wire.hpp"
#include "shared_area.hpp"
#include "worker_channel.hpp"

namespace forkpool::detail {

class reply_body final : public lending_sink {
 public:
  /// `ring_room`: the largest body a response frame can carry.
  /// `spin`: how long to busy-wait for the master's read before sleeping between looks.
  reply_body(byte_buffer& small, std::size_t ring_room, worker_channel& channel,
             std::chrono::nanoseconds spin)
      : small_(small), ring_room_(ring_room), channel_(channel), spin_(spin) {
    lent_.reserve(kMaxLentRuns);
  }

  void reset() {
    small_.clear();
    in_bulk_ = false;
    overflowed_ = false;
    bulk_size_ = 0;
    populated_ = 0;
    lent_.clear();
    lent_bytes_ = 0;
    busy_claimed_ = false;
    drop_kept();
  }
  /// The body is in the response bulk area (bulk_size() bytes); the busy word is set.
  bool in_bulk() const noexcept { return in_bulk_; }
  std::size_t bulk_size() const noexcept { return bulk_size_; }
  /// The result did not fit even the bulk area; the encoding failed.
  bool overflowed() const noexcept { return overflowed_; }
  /// Runs of the result left where they are, for the master to read (in order of `at`).
  const std::vector<lent_run>& lent() const noexcept { return lent_; }
  /// After the reply that lends runs has been published: returns once the master has read
  /// them, so the result they are in may go.
  void await_master_read() {
    await_master();
    busy_claimed_ = false;
  }
  /// Makes room in front of a body that stays in the ring for the tables of its shared blocks
  /// and lent runs, moving the body to the bulk area if need be. False if it does not fit there
  /// either (overflowed()).
  bool fit_tables() {
    const std::size_t shared = channel_.shared() ? channel_.shared()->reply_table().size() : 0;
    std::size_t tables = 0;
    if (shared != 0) tables += sizeof(reply_table_header) + shared * sizeof(shared_token);
    if (!lent_.empty()) tables += sizeof(reply_table_header) + lent_.size() * sizeof(lent_run);
    return in_bulk_ || small_.size() + tables <= ring_room_ || move_to_bulk();
  }
  /// Gives the bulk area back unused (the result was abandoned).
  void abandon_bulk() {
    if (busy_claimed_) channel_.large_result_busy().store(0, std::memory_order_release);
    busy_claimed_ = false;
    in_bulk_ = false;
    lent_.clear();
    lent_bytes_ = 0;
    drop_kept();
  }

 protected:
  bool lent_any() const noexcept override { return !lent_.empty(); }
  std::streamsize xsputn(const char* data, std::streamsize n) override {
    const auto count = static_cast<std::size_t>(n);
    if (count >= kLendAtLeast && lending() && lent_.size() < kMaxLentRuns &&
        channel_.lending().state() == lending_state::allowed)
      return lend(data, count) ? n : 0;
    if (!in_bulk_) {
      if (small_.size() + count <= ring_room_) {
        const auto* bytes = reinterpret_cast<const std::byte*>(data);
        small_.insert(small_.end(), bytes, bytes + count);
        return n;
      }
      if (!move_to_bulk()) return 0;
    }
    return write_bulk(data, count) ? n : 0;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }

 private:
  // Populated ahead of the writer in steps this large: one system call per step, not a fault
  // per page.
  static constexpr std::size_t kPopulateStep = std::size_t{8} << 20;

  // Waits until the master has decoded the last large result (it clears the word).
  void await_master() const {
    const std::atomic<std::uint32_t>& busy = channel_.large_result_busy();
    spinner spin(spin_);
    while (busy.load(std::memory_order_acquire) != 0)
      if (!spin.keep_spinning()) ::usleep(50);
  }
  void claim_busy() {
    if (busy_claimed_) return;
    await_master();
    channel_.large_result_busy().store(1, std::memory_order_relaxed);
    busy_claimed_ = true;
  }

  bool lend(const char* data, std::size_t n) {
    // Lent bytes count against max_payload_bytes like copied ones: the limit means the same.
    const std::size_t copied = in_bulk_ ? bulk_size_ : small_.size();
    if (n > channel_.response_bulk().capacity() -
                std::min(channel_.response_bulk().capacity(), copied + lent_bytes_)) {
      overflowed_ = true;
      return false;
    }
    claim_busy();
    lent_.push_back({copied, reinterpret_cast<std::uintptr_t>(data), n});
    lent_bytes_ += n;
    return true;
  }

  bool move_to_bulk() {
    if (channel_.response_bulk().capacity() < small_.size()) {
      overflowed_ = true;
      return false;
    }
    claim_busy();
    in_bulk_ = true;
    const bool ok = write_bulk(reinterpret_cast<const char*>(small_.data()), small_.size());
    small_.clear();
    return ok;
  }

  bool write_bulk(const char* data, std::size_t n) {
    const bulk_area& bulk = channel_.response_bulk();
    if (n > bulk.capacity() - std::min(bulk.capacity(), bulk_size_ + lent_bytes_)) {
      overflowed_ = true;
      return false;
    }
    if (bulk_size_ + n > populated_) {
      const std::size_t end =
          std::min(bulk.capacity(), std::max(bulk_size_ + n, populated_ + kPopulateStep));
      bulk.prepare_write(populated_, end);
      populated_ = end;
    }
    std::memcpy(bulk.data() + bulk_size_, data, n);
    bulk_size_ += n;
    return true;
  }

  byte_buffer& small_;
  std::size_t ring_room_;
  worker_channel& channel_;
  std::chrono::nanoseconds spin_;
  bool in_bulk_ = false;
  bool overflowed_ = false;
  std::size_t bulk_size_ = 0;
  std::size_t populated_ = 0;
  std::vector<lent_run> lent_;
  std::size_t lent_bytes_ = 0;
  bool busy_claimed_ = false;  ///< this result set large_result_busy
};

}  // namespace forkpool::detail
