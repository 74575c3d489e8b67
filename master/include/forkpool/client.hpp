// forkpool::client: submits jobs to a running forkpool-master over its Unix socket. Its futures
// are the pools' futures (async_get included). Thread-safe; thousands of jobs may be in flight on
// one connection. If the master goes away, every waiting future fails with connection_error;
// the next submission connects again, and succeeds once a master serves the socket again.
#pragma once

#include <memory>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "forkpool/detail/all_of.hpp"
#include "forkpool/detail/make_call.hpp"
#include "forkpool/detail/windowed_chunks.hpp"
#include "forkpool/future.hpp"
#include "forkpool/options.hpp"

namespace forkpool {

/// Where forkpool-master listens by default: $XDG_RUNTIME_DIR/forkpool.sock, else
/// $TMPDIR/forkpool-<uid>/forkpool.sock ($TMPDIR: /tmp when unset). The directory must be owned
/// by the caller, not a symlink, and mode 0700; client and master refuse it otherwise.
std::string default_socket_path();

class client {
 public:
  /// Connects to the master at default_socket_path(). Throws connection_error, also when the
  /// socket's directory is not private to this user (see default_socket_path()).
  client();
  /// Connects to the master listening at `socket_path`. Throws connection_error, also when the
  /// process listening there runs as another user than this one or root (nothing is sent then).
  explicit client(std::string socket_path);
  /// Closes the connection; futures still waiting fail with connection_error.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Runs the task registered as `name` in the master's workers (argument and result types as for
  /// process_pool::submit<R>(name, ...)). A connection that was lost is made again first;
  /// throws connection_error when no master serves the socket.
  template <class R, class... A>
  future<R> submit(std::string_view name, A&&... args);

  /// Runs `name` on every input, one job each (an input that is a std::tuple is unpacked into
  /// several arguments), results in input order. map_options as for the pools: `timeout`,
  /// `on_progress` (reported every `chunksize` jobs). Throws the first error in input order;
  /// jobs the master has already received still run there.
  template <class R, class Range>
  std::vector<R> map(std::string_view name, const Range& inputs, map_options options = {});

  /// The master's pool statistics.
  pool_stats stats();
  /// The master's pid, version, start time and the task names it serves.
  master_info info();
  /// Rolling restart of the master's workers.
  void restart_workers();

  const std::string& socket_path() const noexcept;

 private:
  struct impl;
  void send_call(const std::shared_ptr<detail::task_state>& task);
  const std::shared_ptr<detail::pool_link>& link() const noexcept;

  std::unique_ptr<impl> impl_;
};

template <class R, class... A>
future<R> client::submit(std::string_view name, A&&... args) {
  auto state = detail::new_named_call<R>(link(), name, std::forward<A>(args)...);
  if (!state->done()) send_call(state);
  return future<R>(std::move(state));
}

namespace detail {
template <class T>
inline constexpr bool is_tuple_v = false;
template <class... T>
inline constexpr bool is_tuple_v<std::tuple<T...>> = true;
}  // namespace detail

template <class R, class Range>
std::vector<R> client::map(std::string_view name, const Range& inputs, map_options options) {
  using input = std::ranges::range_value_t<const Range>;
  detail::check_map_options(options, "client::map");
  auto copy = [](const auto& x) { return input(x); };
  auto submit_group = [this, task = std::string(name)](std::vector<input>&& group) {
    std::vector<future<R>> jobs;
    jobs.reserve(group.size());
    for (auto& arguments : group) {
      if constexpr (detail::is_tuple_v<input>)
        jobs.push_back(std::apply([&](auto&&... a) { return submit<R>(task, std::move(a)...); },
                                  std::move(arguments)));
      else
        jobs.push_back(submit<R>(task, std::move(arguments)));
    }
    return detail::all_of(std::move(jobs), link());
  };
  return detail::make_windowed_chunks<R>(inputs, std::move(copy), std::move(submit_group), options,
                                         detail::kUnboundedWindow, detail::result_order::input)
      ->collect();
}

}  // namespace forkpool
