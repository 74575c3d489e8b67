// Where a worker encodes a task's result: its reusable buffer while the result fits the response
// ring, else straight into the response bulk area, so a large result is written once, in shared
// memory, where the master decodes it from.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstring>
#include <streambuf>

#include <unistd.h>

#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/spin.hpp"
#include "forkpool/detail/worker_channel.hpp"

namespace forkpool::detail {

class reply_body final : public std::streambuf {
 public:
  /// `ring_room`: the largest body a response frame can carry.
  reply_body(byte_buffer& small, std::size_t ring_room, worker_channel& channel)
      : small_(small), ring_room_(ring_room), channel_(channel) {}

  void reset() {
    small_.clear();
    in_bulk_ = false;
    overflowed_ = false;
    bulk_size_ = 0;
    populated_ = 0;
  }
  /// The body is in the response bulk area (bulk_size() bytes); the busy word is set.
  bool in_bulk() const noexcept { return in_bulk_; }
  std::size_t bulk_size() const noexcept { return bulk_size_; }
  /// The result did not fit even the bulk area; the encoding failed.
  bool overflowed() const noexcept { return overflowed_; }
  /// Gives the bulk area back unused (the result was abandoned).
  void abandon_bulk() {
    if (in_bulk_) channel_.response_bulk_busy().store(0, std::memory_order_release);
    in_bulk_ = false;
  }

 protected:
  std::streamsize xsputn(const char* data, std::streamsize n) override {
    const auto count = static_cast<std::size_t>(n);
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

  bool move_to_bulk() {
    if (channel_.response_bulk().capacity() < small_.size()) {
      overflowed_ = true;
      return false;
    }
    // The master clears the word once it has decoded the previous large result.
    std::atomic<std::uint32_t>& busy = channel_.response_bulk_busy();
    for (unsigned round = 0; busy.load(std::memory_order_acquire) != 0; ++round) {
      if (round < 1000) cpu_relax(); else ::usleep(50);
    }
    busy.store(1, std::memory_order_relaxed);
    in_bulk_ = true;
    const bool ok = write_bulk(reinterpret_cast<const char*>(small_.data()), small_.size());
    small_.clear();
    return ok;
  }

  bool write_bulk(const char* data, std::size_t n) {
    const bulk_area& bulk = channel_.response_bulk();
    if (n > bulk.capacity() - bulk_size_) {
      overflowed_ = true;
      return false;
    }
    if (bulk_size_ + n > populated_) {
      const std::size_t end = std::min(bulk.capacity(), std::max(bulk_size_ + n, populated_ + kPopulateStep));
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
  bool in_bulk_ = false;
  bool overflowed_ = false;
  std::size_t bulk_size_ = 0;
  std::size_t populated_ = 0;
};

}  // namespace forkpool::detail
