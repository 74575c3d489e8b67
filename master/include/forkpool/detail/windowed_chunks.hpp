// The engine of map, imap and imap_unordered on every pool: reads the input a chunk at a time,
// submits each chunk as one call, keeps at most `window` chunks in flight, and hands the chunks'
// results back in input order or in completion order, with progress and a deadline.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "forkpool/detail/archive.hpp"
#include "forkpool/detail/completion_queue.hpp"
#include "forkpool/detail/task_state.hpp"
#include "forkpool/errors.hpp"
#include "forkpool/future.hpp"
#include "forkpool/imap_range.hpp"
#include "forkpool/options.hpp"

namespace forkpool::detail {

enum class result_order { input, completion };

/// Throws std::invalid_argument for options no batch can run with.
inline void check_map_options(const map_options& options, const char* who) {
  if (options.chunksize == 0)
    throw std::invalid_argument(std::string(who) + ": chunksize must be at least 1");
  if (options.window && *options.window == 0)
    throw std::invalid_argument(std::string(who) + ": window must be at least 1");
  if (options.timeout < std::chrono::steady_clock::duration::zero())
    throw std::invalid_argument(std::string(who) + ": timeout must not be negative");
}

// imap's window for chunks of numbers: a chunk of a thousand ints takes a worker microseconds,
// less than handing it over and back, so a narrow window leaves the workers asleep between the
// chunks the loop frees, each woken through its eventfd (bench/workloads imap, 200k ints in
// chunks of 1000 on 2 workers: 0.42-0.48x map's speed with 4 chunks in flight, 0.61-0.92x with
// 64, 0.82-1.05x with 512). Where inputs and results are both fixed-size numbers the window holds
// up to this many bytes of them: 4 MiB, a bound still, where Python's map reads its whole input.
inline constexpr std::size_t kNumberWindowBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxNumberWindow = 512;

// Whether `Submit` is asked at all is decided first: asking deduces the return type of a generic
// lambda, which instantiates its body, and that body only compiles for the types gated here.
template <class View, class Item, class Submit>
consteval bool chunks_read_in_place() {
  if constexpr (std::ranges::contiguous_range<View> &&
                std::sized_sentinel_for<std::ranges::sentinel_t<View>,
                                        std::ranges::iterator_t<View>> &&
                plain_number<Item> && std::is_same_v<std::ranges::range_value_t<View>, Item>)
    return std::is_invocable_v<Submit&, std::span<const Item>>;
  else
    return false;
}
template <class R, class Chunk, class Submit>
consteval bool results_decode_into_memory() {
  if constexpr (plain_number<R>)
    return std::is_invocable_v<Submit&, const Chunk&, result_slice<std::vector<R>>>;
  else
    return false;
}

/// `View`: the inputs (a std::ranges::view, read once, lazily). `ToItem`: an input to what a
/// chunk holds. `Submit`: a chunk (std::vector of items) to future<std::vector<R>>.
template <class R, class View, class ToItem, class Submit>
class windowed_chunks final : public chunk_source<R> {
  using item = std::decay_t<std::invoke_result_t<ToItem&, std::ranges::range_reference_t<View>>>;

 public:
  using result_type = R;

  windowed_chunks(View inputs, ToItem to_item, Submit submit, const map_options& options,
                  std::size_t window, result_order order)
      : inputs_(std::move(inputs)),
        to_item_(std::move(to_item)),
        submit_(std::move(submit)),
        chunksize_(options.chunksize),
        window_(options.window ? window : widened_for_numbers(window, options.chunksize)),
        order_(order),
        on_progress_(options.on_progress),
        timeout_(options.timeout) {}

  /// Leaving early (or after an error) cancels every chunk not yet started and returns at once.
  ~windowed_chunks() override { cancel_all(); }

  bool next(std::span<R>& out) override {
    if (over_) return false;
    try {
      // The caller has moved past the chunk it read last: its memory takes the next results.
      if (reading_slot_) free_slots_.push_back(std::move(reading_slot_));
      start_once();
      refill();
      if (in_flight_.empty()) {
        over_ = true;
        return false;
      }
      auto chunk = order_ == result_order::input ? wait_for_first() : wait_for_any();
      settle(chunk);
      current_ = std::move(chunk->second.result).get();  // throws the chunk's error
      if (chunk->second.slot) {  // its results are in its slot; current_ is empty
        reading_slot_ = std::move(chunk->second.slot);
        out = std::span<R>(reading_slot_->data(), chunk->second.size);
      } else {  // in current_, or (map) already in the output, current_ empty
        out = current_;
      }
      in_flight_.erase(chunk);
      refill();  // the next chunks run while the caller reads this one
      return true;
    } catch (...) {
      over_ = true;
      cancel_all();
      throw;
    }
  }

  /// Every result in input order (map): submits the whole input, then gathers.
  std::vector<R> collect() {
    if constexpr (decodes_in_place) {
      auto output = std::make_shared<std::vector<R>>(std::ranges::size(inputs_));
      output_ = output;
      std::vector<R> rest;  // the results of chunks that did not fit (see submit)
      for (std::span<R> part; next(part);) rest.insert(rest.end(), part.begin(), part.end());
      // Every chunk is done: none writes to it any more.
      output->resize(placed_);  // shorter where the range yielded fewer than its size() said
      output->insert(output->end(), rest.begin(), rest.end());
      return std::move(*output);
    }
    std::vector<R> all;
    if constexpr (std::ranges::sized_range<View>) all.reserve(std::ranges::size(inputs_));
    for (std::span<R> part; next(part);)
      all.insert(all.end(), std::make_move_iterator(part.begin()),
                 std::make_move_iterator(part.end()));
    return all;
  }

 private:
  struct chunk_in_flight {
    future<std::vector<R>> result;
    std::size_t size = 0;
    bool settled = false;  ///< counted in progress_
    /// Where its results are decoded (from the front), when it has memory of its own.
    std::shared_ptr<std::vector<R>> slot = nullptr;
  };
  using chunk_iterator = typename std::map<std::uint64_t, chunk_in_flight>::iterator;

  void start_once() {
    if (started_) return;
    started_ = true;
    began_ = std::chrono::steady_clock::now();
    if (timeout_.count() > 0) deadline_ = began_ + timeout_;
    if constexpr (std::ranges::sized_range<View>)
      progress_.total = static_cast<std::size_t>(std::ranges::size(inputs_));
    position_.emplace(std::ranges::begin(inputs_));
  }

  /// Numbers already of the item type, side by side in memory: a chunk is a span of them where
  /// they are, encoded by `Submit` in one copy, when `Submit` takes one (process pools do).
  static constexpr bool reads_in_place = chunks_read_in_place<View, item, Submit>();
  using chunk_type = std::conditional_t<reads_in_place, std::span<const item>, std::vector<item>>;
  /// Results that are numbers decode straight into memory that is already there when `Submit`
  /// takes the slice they go to (process pools do): map over a sized input into its output (no
  /// vector per chunk, no copy into the output), imap into a slot of its own that is reused once
  /// the loop has moved past it (no allocation, no copy).
  static constexpr bool decodes_into_memory = results_decode_into_memory<R, chunk_type, Submit>();
  static constexpr bool decodes_in_place = decodes_into_memory && std::ranges::sized_range<View>;

  /// Submits chunks until the window is full or the input is read to its end.
  void refill() {
    while (!input_read_ && in_flight_.size() < window_) {
      auto items = next_items();
      if (*position_ == std::ranges::end(inputs_)) {
        input_read_ = true;
        if (!progress_.total) progress_.total = read_ + items.size();
      }
      if (items.empty()) return;
      read_ += items.size();
      const std::uint64_t number = next_number_++;
      const std::size_t size = items.size();
      chunk_in_flight chunk = submit(std::move(items), read_ - size);
      chunk.result.add_done_callback([finished = finished_, number] { finished->push(number); });
      in_flight_.emplace(number, std::move(chunk));
    }
  }

  /// One chunk to the pool: its results go to output_ from `offset` when collect() set it, else
  /// to a slot where results decode into memory.
  chunk_in_flight submit(chunk_type&& items, [[maybe_unused]] std::size_t offset) {
    const std::size_t count = items.size();
    if constexpr (decodes_in_place) {
      // The output is never resized while chunks are out (their results are written into it
      // meanwhile): the chunks of a range that yields more than its size() said go to slots.
      if (output_ && offset + count <= output_->size()) {
        placed_ = offset + count;
        return {.result = submit_(items, result_slice<std::vector<R>>{output_, offset, count}),
                .size = count};
      }
      output_.reset();
    }
    if constexpr (decodes_into_memory) {
      std::shared_ptr<std::vector<R>> slot = free_slot(count);
      auto result = submit_(items, result_slice<std::vector<R>>{slot, 0, count});
      return {.result = std::move(result), .size = count, .slot = std::move(slot)};
    }
    return {.result = submit_(std::move(items)), .size = count};
  }

  /// Memory for `count` results: a slot the loop has moved past, else a new one. A slot is
  /// shared with its chunk's state, so a chunk still running when the batch ends writes into
  /// memory that is still there; a slot is free only once its chunk is done and read.
  std::shared_ptr<std::vector<R>> free_slot(std::size_t count) {
    if (free_slots_.empty()) return std::make_shared<std::vector<R>>(count);
    std::shared_ptr<std::vector<R>> slot = std::move(free_slots_.back());
    free_slots_.pop_back();
    if (slot->size() < count) slot->resize(count);
    return slot;
  }

  /// How many inputs the next chunk takes, where the distance to the end is known.
  std::ranges::range_difference_t<View> counted_chunk() const {
    using difference = std::ranges::range_difference_t<View>;
    return std::min(static_cast<difference>(chunksize_),
                    static_cast<difference>(std::ranges::end(inputs_) - *position_));
  }

  /// The next chunksize_ inputs (fewer at the end): a span of them in place, or a vector of items.
  auto next_items() {
    if constexpr (reads_in_place) {
      auto& position = *position_;
      const auto count = counted_chunk();
      const std::span<const item> items(std::to_address(position), static_cast<std::size_t>(count));
      position += count;
      return items;
    } else {
      return read_chunk();
    }
  }

  /// The next chunksize_ inputs (fewer at the end), as items.
  std::vector<item> read_chunk() {
    std::vector<item> items;
    auto& position = *position_;
    if constexpr (std::ranges::random_access_range<View> &&
                  std::sized_sentinel_for<std::ranges::sentinel_t<View>,
                                          std::ranges::iterator_t<View>> &&
                  std::is_default_constructible_v<item> && std::is_move_assignable_v<item>) {
      // Counted up front: one allocation and a copy loop with no capacity checks.
      const auto count = counted_chunk();
      items.resize(static_cast<std::size_t>(count));
      std::ranges::transform(position, position + count, items.begin(), std::ref(to_item_));
      position += count;
    } else {
      const auto end = std::ranges::end(inputs_);
      items.reserve(std::min<std::size_t>(chunksize_, 4096));
      for (; items.size() < chunksize_ && position != end; ++position)
        items.push_back(to_item_(*position));
    }
    return items;
  }

  /// The pool's default window, or for numbers to numbers as many chunks as kNumberWindowBytes
  /// hold (at most kMaxNumberWindow).
  static std::size_t widened_for_numbers(std::size_t pool_default, std::size_t chunksize) {
    if constexpr (fixed_codec_v<item> && fixed_codec_v<R>) {
      const std::size_t chunk_bytes = chunksize * (fixed_size<item>() + fixed_size<R>());
      return std::max(pool_default, std::min(kMaxNumberWindow, kNumberWindowBytes / chunk_bytes));
    } else {
      return pool_default;
    }
  }

  chunk_iterator wait_for_first() {
    const chunk_iterator first = in_flight_.begin();
    if (on_progress_) {
      // Reports the later chunks too while the first one runs.
      while (!first->second.result.done()) settle_number(pop_finished());
      settle_finished_so_far();
    } else if (deadline_) {
      if (!first->second.result.wait_until(*deadline_)) time_out();
    } else {
      first->second.result.wait();  // a process pool's waiter reads replies itself: no wake-up
    }
    return first;
  }

  chunk_iterator wait_for_any() {
    for (;;) {
      const auto chunk = in_flight_.find(pop_finished());
      if (chunk != in_flight_.end()) return chunk;
    }
  }

  std::uint64_t pop_finished() {
    const std::optional<std::size_t> number = finished_->pop(deadline_);
    if (!number) time_out();
    return *number;
  }

  [[noreturn]] void time_out() { throw timeout_error(); }

  void settle_finished_so_far() {
    while (const auto number = finished_->pop(std::chrono::steady_clock::time_point{}))
      settle_number(*number);
  }

  void settle_number(std::uint64_t number) {
    const auto chunk = in_flight_.find(number);
    if (chunk != in_flight_.end()) settle(chunk);
  }

  void settle(chunk_iterator chunk) {
    if (chunk->second.settled) return;
    chunk->second.settled = true;
    if (!on_progress_) return;
    progress_.done += chunk->second.size;
    if (chunk->second.result.exception()) progress_.failed += chunk->second.size;
    progress_.elapsed = std::chrono::steady_clock::now() - began_;
    on_progress_(progress_);
  }

  void cancel_all() noexcept {
    for (auto& [number, chunk] : in_flight_) chunk.result.cancel();
    in_flight_.clear();
  }

  View inputs_;
  ToItem to_item_;
  Submit submit_;
  const std::size_t chunksize_;
  const std::size_t window_;
  const result_order order_;
  std::function<void(const progress&)> on_progress_;
  const std::chrono::steady_clock::duration timeout_;

  bool started_ = false;
  bool input_read_ = false;
  bool over_ = false;
  std::optional<std::ranges::iterator_t<View>> position_;  ///< from the first next()
  std::size_t read_ = 0;
  std::uint64_t next_number_ = 0;
  std::map<std::uint64_t, chunk_in_flight> in_flight_;
  std::shared_ptr<completion_queue> finished_ = std::make_shared<completion_queue>();
  std::vector<R> current_;  ///< the results next() handed out last, when they came as a vector
  std::vector<std::shared_ptr<std::vector<R>>> free_slots_;
  std::shared_ptr<std::vector<R>> reading_slot_;  ///< the slot next() handed out last
  std::shared_ptr<std::vector<R>> output_;        ///< map's output, where decodes_in_place
  std::size_t placed_ = 0;                        ///< the results decoded into it end here
  progress progress_;
  std::chrono::steady_clock::time_point began_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

/// A windowed_chunks for these arguments (deduces its types).
template <class R, class Range, class ToItem, class Submit>
auto make_windowed_chunks(Range&& inputs, ToItem to_item, Submit submit, const map_options& options,
                          std::size_t window, result_order order) {
  using view = std::views::all_t<Range>;
  return std::make_unique<windowed_chunks<R, view, ToItem, Submit>>(
      std::views::all(std::forward<Range>(inputs)), std::move(to_item), std::move(submit), options,
      window, order);
}

/// imap's range over these chunks.
template <class Chunks>
auto as_imap_range(std::unique_ptr<Chunks> chunks) {
  return imap_range<typename Chunks::result_type>(std::move(chunks));
}

/// map's whole batch: every chunk submitted at once, as Python's map does.
constexpr std::size_t kUnboundedWindow = std::numeric_limits<std::size_t>::max();

}  // namespace forkpool::detail
