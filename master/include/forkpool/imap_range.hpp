// forkpool::imap_range<R>: the lazy results of a pool's imap / imap_unordered, like the
// iterator Python's multiprocessing.Pool.imap returns.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <span>
#include <utility>

namespace forkpool {

namespace detail {
/// Where an imap_range gets its results from, a chunk at a time (see windowed_chunks.hpp).
template <class R>
class chunk_source {
 public:
  virtual ~chunk_source() = default;
  /// The next chunk's results as `out`, in memory the source owns until the next call (the
  /// results may be moved from); false once every chunk has been read. Throws the batch's first
  /// error, timeout_error, or what the input range threw.
  virtual bool next(std::span<R>& out) = 0;
};
}  // namespace detail

/// An input range of results, read as the loop advances: `for (R& r : pool.imap(fn, inputs))`.
/// The first error (a task's, timeout_error, or what the input range threw) is thrown by the
/// increment that reaches the item, and the calls not yet started are cancelled; the range
/// then ends. Destroying it early (break, an exception) cancels what is queued and returns at
/// once; calls already running finish in their workers and their results are dropped.
/// Move-only; one pass.
template <class R>
class imap_range {
 public:
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    /// The current result; it may be moved from.
    R& operator*() const { return *range_->at_; }
    iterator& operator++() {
      // Within a chunk an increment is a pointer's: the loop over a chunk of numbers runs at
      // nearly the speed of one over a vector.
      if (++range_->at_ == range_->chunk_end_) range_->next_chunk();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    friend class imap_range;
    explicit iterator(imap_range* range) : range_(range) {}
    bool at_end() const { return range_->at_ == nullptr; }
    imap_range* range_ = nullptr;
  };

  explicit imap_range(std::unique_ptr<detail::chunk_source<R>> source)
      : source_(std::move(source)) {}
  imap_range(imap_range&&) noexcept = default;
  imap_range& operator=(imap_range&&) noexcept = default;

  /// Starts reading the input and submitting (the first window of chunks) on the first call.
  iterator begin() {
    if (!started_) {
      started_ = true;
      next_chunk();
    }
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  /// Moves to the first result of the next chunk that has any, or to the end.
  void next_chunk() {
    at_ = nullptr;  // the end, unless a chunk with results comes
    std::span<R> chunk;
    while (chunk.empty()) {  // a chunk has a result per input: this skips only an empty one
      if (!source_->next(chunk)) return;
    }
    at_ = chunk.data();
    chunk_end_ = chunk.data() + chunk.size();
  }

  std::unique_ptr<detail::chunk_source<R>> source_;
  R* at_ = nullptr;  ///< the current result, in the source's current chunk; null at the end
  R* chunk_end_ = nullptr;
  bool started_ = false;
};

}  // namespace forkpool
