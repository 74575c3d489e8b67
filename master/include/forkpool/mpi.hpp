// forkpool across hosts, on Open MPI: the same calls as process_pool, run by agents on other
// ranks, each with a process_pool of its own.
//
//   int main(int argc, char** argv) {
//     forkpool::mpi::init(argc, argv);  // every rank; ranks other than 0 serve, then exit
//     forkpool::mpi_pool pool({.workers_per_host = 2});
//     auto f = pool.submit(square, 7);
//   }
//
//   mpiexec -n 3 --bind-to none ./prog    (rank 0 submits; ranks 1 and 2 run the calls)
//
// A task never runs inside an MPI rank: an agent's workers are processes of its local pool, so
// a task that crashes fails with worker_died and the agent replaces the worker. An agent that
// dies or stops answering fails the calls it held with host_lost; the pool keeps serving while
// one host is left (launch with --enable-recovery, or Open MPI ends the job with the rank).
// Link forkpool::mpi.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <ranges>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "forkpool/detail/chunked_calls.hpp"
#include "forkpool/detail/make_call.hpp"
#include "forkpool/errors.hpp"
#include "forkpool/future.hpp"
#include "forkpool/imap_range.hpp"
#include "forkpool/options.hpp"
#include "forkpool/task.hpp"

namespace forkpool {

namespace mpi {

/// The first line of main() in every rank (and forkpool::init's place: do not call both). Starts
/// MPI; on every rank but 0 it then serves calls from rank 0's mpi_pool and leaves the program
/// with exit() when that pool shuts down, never returning. Throws std::runtime_error when MPI
/// cannot start, and std::logic_error when called twice.
void init(int& argc, char**& argv);
/// This process's rank, and how many ranks there are (after init).
int rank();
int size();

}  // namespace mpi

struct mpi_pool_options {
  /// Workers of each agent's pool; 0: that host's CPUs.
  unsigned workers_per_host = 0;
  /// Calls in flight on one host at once; 0: sixteen per worker. The rest wait on rank 0, where
  /// cancel() is exact.
  unsigned credits_per_host = 0;
  /// How often rank 0 and each agent say they are alive when they have nothing else to say.
  std::chrono::milliseconds heartbeat{200};
  /// An agent not heard from for this long is lost: the calls it held fail with host_lost.
  std::chrono::milliseconds host_timeout{5000};
  /// Each agent's local pool: limits, timeouts, start method, retries. Its `workers` is
  /// replaced by workers_per_host; its initializer, if any, must be a registered task.
  pool_options pool{};
};

/// The agent that held the call was lost: it died, or did not answer within host_timeout.
class host_lost : public error {
 public:
  host_lost(const std::string& message, int rank, std::string host);
  int rank() const noexcept { return rank_; }
  const std::string& host() const noexcept { return host_; }

 private:
  int rank_;
  std::string host_;
};

struct host_stats {
  int rank = 0;
  std::string host;  ///< the agent's host name
  int pid = 0;       ///< the agent's process id on that host
  bool lost = false;
  pool_stats stats;  ///< that host's pool, as last reported
};

struct cluster_stats {
  pool_stats total;  ///< every call through this pool; workers summed over the hosts not lost
  std::vector<host_stats> hosts;
  /// The totals, where a pool_stats is wanted (forkpool::executor).
  operator pool_stats() const { return total; }  // NOLINT: implicit on purpose
};

class mpi_pool {
 public:
  /// Rank 0 only, after mpi::init; one at a time. Waits (up to host_timeout) until every agent
  /// has started its pool. Throws std::logic_error elsewhere, broken_pool when no agent answers.
  explicit mpi_pool(mpi_pool_options options = {});
  /// shutdown({.wait = true}).
  ~mpi_pool();
  mpi_pool(const mpi_pool&) = delete;
  mpi_pool& operator=(const mpi_pool&) = delete;

  /// As process_pool::submit: `fn` is a registered task, run by some host's workers.
  template <detail::task_function F, class... A>
  auto submit(F fn, A&&... args) -> future<detail::task_result_t<F>> {
    auto state = detail::new_function_call(link(), fn, std::forward<A>(args)...);
    if (!state->done()) enqueue(state);
    return future<detail::task_result_t<F>>(std::move(state));
  }
  /// As process_pool::submit<R>("name", ...).
  template <class R, class... A>
  future<R> submit(std::string_view name, A&&... args) {
    auto state = detail::new_named_call<R>(link(), name, std::forward<A>(args)...);
    if (!state->done()) enqueue(state);
    return future<R>(std::move(state));
  }
  /// As process_pool::map: chunks of options.chunksize inputs, each one call on one host.
  template <detail::task_function F, class Range>
  auto map(F fn, const Range& inputs, map_options options = {})
      -> std::vector<detail::task_result_t<F>>;
  /// As process_pool::imap: results in input order while the loop moves, with at most
  /// options.window chunks in flight (unset: the hosts' credits together).
  template <detail::task_function F, std::ranges::input_range Range>
  auto imap(F fn, Range&& inputs, map_options options = {})
      -> imap_range<detail::task_result_t<F>> {
    return lazy(fn, std::forward<Range>(inputs), options, detail::result_order::input);
  }
  /// imap, results in the order the chunks finish.
  template <detail::task_function F, std::ranges::input_range Range>
  auto imap_unordered(F fn, Range&& inputs, map_options options = {})
      -> imap_range<detail::task_result_t<F>> {
    return lazy(fn, std::forward<Range>(inputs), options, detail::result_order::completion);
  }

  /// Stops taking calls; with wait, returns once every call is answered and every agent has
  /// shut its pool down. cancel_pending cancels the calls still on rank 0 and those an agent
  /// has not started; kill_running also kills the workers running calls.
  void shutdown(shutdown_options options = {});
  /// Totals, and each host's pool as it last reported (asked for now, answered within
  /// host_timeout).
  cluster_stats stats() const;
  /// The agents (hosts) this pool sends calls to, lost ones included.
  unsigned hosts() const noexcept;

 private:
  void enqueue(std::shared_ptr<detail::task_state> task);
  const std::shared_ptr<detail::pool_link>& link() const noexcept;
  /// imap's chunks in flight when map_options::window is unset: every host's credits.
  std::size_t default_window() const noexcept;
  template <class F, class Range>
  auto chunks_of(F fn, Range&& inputs, const map_options& options, std::size_t window,
                 detail::result_order order) {
    return detail::chunked_calls(
        link(), [this](std::shared_ptr<detail::task_state> call) { enqueue(std::move(call)); }, fn,
        std::forward<Range>(inputs), options, window, order);
  }
  template <class F, class Range>
  auto lazy(F fn, Range&& inputs, const map_options& options, detail::result_order order) {
    return detail::as_imap_range(chunks_of(fn, std::forward<Range>(inputs), options,
                                           options.window.value_or(default_window()), order));
  }

  struct impl;
  std::unique_ptr<impl> impl_;
};

template <detail::task_function F, class Range>
auto mpi_pool::map(F fn, const Range& inputs, map_options options)
    -> std::vector<detail::task_result_t<F>> {
  return chunks_of(fn, inputs, options, detail::kUnboundedWindow, detail::result_order::input)
      ->collect();
}

}  // namespace forkpool
