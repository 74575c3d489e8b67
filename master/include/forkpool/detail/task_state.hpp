// The shared state behind a forkpool::future: the call as it will be sent, and its outcome.
// Shared by the user's futures (any thread) and the pool's event loop (the master's pool thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "forkpool/detail/call_arguments.hpp"
#include "forkpool/detail/sendable.hpp"
#include "forkpool/detail/serialize.hpp"
#include "forkpool/detail/unique_function.hpp"
#include "forkpool/detail/word_lock.hpp"

namespace forkpool::detail {

class master_channel;
struct pool_link;  // master/src/pool_link.hpp

/// What a call carries: one call's arguments, or a map chunk's (a vector of argument tuples).
enum class call_kind : std::uint8_t { single, map_chunk };

class task_state {
 public:
  explicit task_state(std::shared_ptr<pool_link> link) : link_(std::move(link)) {}
  virtual ~task_state() = default;
  task_state(const task_state&) = delete;
  task_state& operator=(const task_state&) = delete;

  // ---- the call, filled in before the task is queued ----
  std::uint64_t id = 0;
  std::string name;
  call_kind kind = call_kind::single;
  std::uint64_t argument_signature = 0;
  std::uint64_t result_signature = 0;
  /// A call by name: the text of the types it sent and asked for, made only for an error that
  /// says the task's types differ.
  std::string (*sent_argument_types)() = nullptr;
  std::string (*asked_result_type)() = nullptr;
  call_arguments arguments;  ///< cereal-encoded
  /// call_options::timeout: overrides the pool's task_timeout when not 0.
  std::chrono::milliseconds timeout{0};
  /// Times the pool has run the call again after losing its worker (pool_options::max_retries).
  unsigned retries = 0;
  /// forkpool::future objects sharing this state (maintained by future itself).
  std::atomic<std::uint32_t> future_handles{0};

  // ---- user side: any thread ----
  bool done() const;
  bool cancelled() const;
  bool running() const;
  /// True if the task is now cancelled (it had not started); false if it runs or has finished.
  bool cancel();
  void wait() const;
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  /// Waits; the task's error (cancelled_error if cancelled), or null on success.
  std::exception_ptr exception() const;
  /// Waits; throws what exception() returns.
  void rethrow_if_failed() const;
  /// Runs `callback` once the task is done: at once (on this thread) if it already is, else on
  /// the thread that finishes it. Exceptions it throws are reported on stderr and dropped.
  void add_done_callback(unique_function callback);

  // ---- pool side (the rest is task_engine's, master/src/task_engine.hpp) ----
  /// Finishes with an error (unless it is done already).
  void fail(std::exception_ptr error);
  /// Fails a call that was never sent (its arguments could not be encoded), counted as
  /// submitted and failed.
  void fail_before_sending(std::exception_ptr error);

 protected:
  /// Finishes successfully with the value already stored.
  void succeed();
  /// Decodes and stores the result (before it is published to waiters). Throws decode_failure.
  virtual void store_value(const payload_view& encoded) = 0;

 private:
  friend class task_engine;
  enum class status : std::uint8_t { pending, finished, cancelled };
  void finish(status outcome, std::exception_ptr error);
  /// Records the outcome (status_ is pending, `lock` held), wakes waiters, runs callbacks unlocked.
  void complete(std::unique_lock<word_lock>& lock, status outcome, std::exception_ptr error);
  /// Before a wait sleeps, for a moment (the pool's learned spin, never past `deadline`): a
  /// process pool's task does the pool's work on this thread until the task is done; another
  /// pool's watches for the task to be done.
  void help_until_done(std::chrono::steady_clock::time_point deadline) const;

  std::shared_ptr<pool_link> link_;
  mutable word_lock mutex_;
  /// Written under mutex_; read without it by done().
  std::atomic<status> status_{status::pending};
  /// Set once a thread sleeps in a wait (in the parking spot of this task's address): only then
  /// does finishing the task take that spot's mutex and notify.
  mutable std::atomic<bool> sleepers_{false};
  bool started_on_thread_ = false;
  // Where the call sits while it is in a worker's ring.
  std::uint32_t slot_ = 0;
  std::shared_ptr<master_channel> channel_;
  std::exception_ptr error_;
  std::vector<unique_function> callbacks_;
};

/// Runs done callbacks in order; one that throws is reported on stderr and the rest still run.
void run_done_callbacks(std::vector<unique_function>& callbacks) noexcept;

/// Where a map chunk's results go instead of a vector of their own: `count` numbers from
/// `offset` in `whole` (map's output, shared so that a chunk still running when map gives up
/// writes into memory that is still there). Only results that are vectors of numbers have one.
template <class T>
struct result_slice {};
template <plain_number N>
struct result_slice<std::vector<N>> {
  std::shared_ptr<std::vector<N>> whole;
  std::size_t offset = 0;
  std::size_t count = 0;
};

template <class T>
class future_state final : public task_state {
 public:
  using task_state::task_state;

  /// The result; only after a successful wait. Moves it out when `take` is set. A result of a
  /// move-only type (std::unique_ptr) is moved out by the first call; a later one throws
  /// std::logic_error.
  T value(bool take) {
    if constexpr (std::is_copy_constructible_v<T>) {
      if (take) return std::move(*value_);
      return *value_;
    } else {
      if (taken_.exchange(true, std::memory_order_acq_rel))
        throw std::logic_error(
            "forkpool: this future's result has a move-only type and was taken already by "
            "an earlier get()");
      return std::move(*value_);
    }
  }
  /// Finishes with a result computed in this process (thread_pool).
  void succeed_with(T value) {
    value_.emplace(std::move(value));
    succeed();
  }
  /// Before the call is sent: decode the result into `slice`; the value is then an empty vector.
  void decode_into(result_slice<T> slice)
    requires requires { slice.whole; }
  {
    slice_ = std::move(slice);
  }

 protected:
  void store_value(const payload_view& encoded) override {
    if constexpr (requires { slice_.whole; }) {
      if (slice_.whole) {
        decode_numbers_into(encoded, std::span(slice_.whole->data() + slice_.offset, slice_.count));
        value_.emplace();
        return;
      }
    }
    // thread_pool results need not be serializable: only process results are ever decoded.
    if constexpr (sendable_v<T>) {
      T value{};
      decode_exact(encoded, value);
      value_.emplace(std::move(value));
    } else {
      throw decode_failure("this result type cannot be decoded");
    }
  }

 private:
  std::optional<T> value_;
  std::atomic<bool> taken_{false};  ///< move-only T: value() has moved it out
  [[no_unique_address]] result_slice<T> slice_;
};

template <>
class future_state<void> final : public task_state {
 public:
  using task_state::task_state;
  void value(bool) {}
  void succeed_with() { succeed(); }

 protected:
  void store_value(const payload_view& encoded) override { decode_exact(encoded); }
};

}  // namespace forkpool::detail
