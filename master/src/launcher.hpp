// How worker processes come to be: forked by the fork server, or forked directly by the master's
// pool thread. Either way the pool learns each worker's pid and, later, its exit status.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "forkpool/options.hpp"
#include "worker_channel.hpp"
#include "worker_loop.hpp"

namespace forkpool::detail {

/// What a launcher reports, on the pool's thread.
class launch_events {
 public:
  virtual void on_spawned(std::uint64_t worker_id, pid_t pid) = 0;
  virtual void on_spawn_failed(std::uint64_t worker_id, int error) = 0;
  virtual void on_exited(pid_t pid, int wait_status) = 0;
  /// The launcher itself is gone (the fork server died): every worker it started is gone too.
  virtual void on_launcher_lost() = 0;

 protected:
  ~launch_events() = default;
};

class launcher {
 public:
  virtual ~launcher() = default;
  /// Starts a worker on `channel`; on_spawned or on_spawn_failed follows, from a later handler.
  /// Never throws. Pool thread only.
  virtual void launch(std::uint64_t worker_id, std::shared_ptr<const master_channel> channel) = 0;
  /// Stops the launcher, waiting for its own process if it has one. Pool thread only, after
  /// every worker has exited.
  virtual void stop() = 0;
};

/// `config` must outlive the launcher; forked processes see it at the same address.
/// `fresh_run_initializer` is set when a fresh run of the program can start workers (spawn) or
/// the fork server (forkserver, which then carries none of the master's heap): it names the
/// registered task those runs call as the initializer, empty for none. spawn requires it.
std::unique_ptr<launcher> make_launcher(start_method method, boost::asio::io_context& io,
                                        const worker_config& config, launch_events& events,
                                        const std::optional<std::string>& fresh_run_initializer);

}  // namespace forkpool::detail
