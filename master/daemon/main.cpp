// forkpool-master: a worker farm that client programs submit jobs to.
//
//   forkpool-master --workers 4 --tasks ./libmytasks.so [--socket PATH] ...
//   forkpool-master status [--json] | tasks | stop | restart [--socket PATH]
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <forkpool/forkpool.hpp>
#include <forkpool/version.hpp>
#include <optional>
#include <stdexcept>

#include "command_line.hpp"
#include "commands.hpp"
#include "forkpool/detail/client_protocol.hpp"
#include "forkpool/detail/registry.hpp"
#include "master_log.hpp"
#include "metrics_server.hpp"
#include "metrics_text.hpp"
#include "plugins.hpp"
#include "server.hpp"
#include "socket_file.hpp"
#include "systemd.hpp"

namespace asio = boost::asio;
using namespace forkpool;

namespace {

std::string socket_of(const daemon::command_line& options) {
  return options.socket.empty() ? default_socket_path() : options.socket;
}

// The path a listening Unix socket is bound to ("" if it has none).
std::string bound_path(int fd) {
  sockaddr_un address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0 ||
      size <= offsetof(sockaddr_un, sun_path) || address.sun_path[0] == '\0')
    return "";
  return std::string(address.sun_path);
}

int serve(const daemon::command_line& options) {
  // Socket activation: systemd (or systemd-socket-activate) made the socket and owns its file.
  const std::optional<int> activated = daemon::activated_socket();
  if (activated) ::fcntl(*activated, F_SETFD, FD_CLOEXEC);
  const std::string socket = activated ? bound_path(*activated) : socket_of(options);
  daemon::start_master_log(options.log);
  // Everything that can be wrong is checked before anything is forked.
  std::optional<asio::ip::tcp::endpoint> metrics_address;
  if (!options.metrics.empty()) metrics_address = daemon::parse_metrics_address(options.metrics);
  daemon::load_task_libraries(options.task_libraries);
  // What clients may call, where an operator looks first when one gets unknown_task.
  std::string names;
  for (const std::string& name : detail::registered_task_names())
    names += (names.empty() ? "" : ", ") + name;
  daemon::say(log_level::info, "tasks: " + names);
  if (!activated) daemon::prepare_socket_path(socket, options.socket.empty());

  pool_options pool_settings;
  pool_settings.workers = options.workers;
  pool_settings.max_tasks_per_worker = options.max_tasks_per_worker;
  pool_settings.max_worker_rss_bytes = options.max_worker_rss_bytes;
  pool_settings.task_timeout = options.task_timeout;
  pool_settings.max_retries = options.max_retries;
  // Rings are pre-faulted shared memory, so they are sized for typical calls; larger ones go
  // through the workers' bulk areas. A result must still fit a message a client accepts: a larger
  // one fails that job alone, in the pool, with protocol_error, instead of being sent and breaking
  // the client's connection. The margin is for the response's own header.
  pool_settings.ring_bytes = 4u << 20;
  pool_settings.max_payload_bytes = detail::kDefaultMaxMessage - 4096;
  // Results go on to clients in other processes: a task's shared_bytes travel by copy.
  pool_settings.shared_bytes_per_worker = 0;
  process_pool pool(pool_settings);

  asio::io_context io;
  master_info info{::getpid(), FORKPOOL_VERSION_STRING, std::chrono::system_clock::now(),
                   detail::registered_task_names()};
  std::sort(info.tasks.begin(), info.tasks.end());
  const daemon::server_limits limits{.max_message_bytes = options.max_message_bytes,
                                     .message_timeout = options.message_timeout,
                                     .max_connections_per_uid = options.max_connections_per_user};
  daemon::server server = activated ? daemon::server(io, pool, *activated, limits, std::move(info))
                                    : daemon::server(io, pool, socket, limits, std::move(info));
  if (!activated) daemon::restrict_socket(socket);
  std::optional<daemon::metrics_server> metrics;
  if (metrics_address) {
    metrics.emplace(io, *metrics_address, [&pool] { return daemon::metrics_text(pool.stats()); });
    const auto where = metrics->local_endpoint();
    daemon::say(log_level::info,
                "metrics at http://" +
                    (where.address().is_v6() ? "[" + where.address().to_string() + "]"
                                             : where.address().to_string()) +
                    ":" + std::to_string(where.port()) + "/metrics");
  }
  server.start();
  const std::string serving =
      std::to_string(pool_settings.workers ? pool_settings.workers
                                           : std::thread::hardware_concurrency()) +
      " workers, listening on " + socket + (activated ? " (socket activation)" : "");
  daemon::say(log_level::info, serving);
  daemon::notify_ready(serving);
  daemon::watchdog watchdog(io);

  asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  asio::signal_set hangup(io, SIGHUP);
  asio::steady_timer drain_timer(io);
  std::function<void()> watch_hangup = [&] {
    hangup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      daemon::say(log_level::info, "SIGHUP: restarting the workers, rolling");
      pool.restart_workers();
      watch_hangup();
    });
  };
  watch_hangup();
  // Draining: poll the in-flight count; replies are written on this loop as jobs complete.
  std::chrono::steady_clock::time_point drain_until;
  bool cancelled_the_rest = false;
  std::function<void()> check_drained = [&] {
    if (server.jobs_in_flight() != 0 && !cancelled_the_rest &&
        std::chrono::steady_clock::now() >= drain_until) {
      // Jobs never started are answered cancelled_error, not left to a closed connection; the
      // running ones get a moment for their replies.
      cancelled_the_rest = true;
      pool.shutdown({.wait = false, .cancel_pending = true});
      drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    }
    if (server.jobs_in_flight() == 0 || std::chrono::steady_clock::now() >= drain_until) {
      if (server.jobs_in_flight() == 0 && !cancelled_the_rest)
        daemon::say(log_level::info, "drain finished: every job answered");
      else
        daemon::say(log_level::warning,
                    "drain timed out (--drain-timeout): jobs not started "
                    "were cancelled, " +
                        std::to_string(server.jobs_in_flight()) + " running jobs left unanswered");
      // Let the last replies leave the sockets, then stop.
      drain_timer.expires_after(std::chrono::milliseconds(50));
      drain_timer.async_wait([&](boost::system::error_code) {
        server.close_all();
        io.stop();
      });
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(10));
    drain_timer.async_wait([&](boost::system::error_code e) {
      if (!e) check_drained();
    });
  };
  stop_signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    daemon::say(log_level::info, "signal " + std::to_string(signal) + ": draining, finishing " +
                                     std::to_string(server.jobs_in_flight()) + " jobs");
    daemon::notify_stopping();
    server.stop_accepting();
    if (metrics) metrics->stop();
    hangup.cancel();
    drain_until = std::chrono::steady_clock::now() + options.drain_timeout;
    check_drained();
  });
  io.run();
  watchdog.stop();
  if (!activated) daemon::remove_socket(socket);
  // After a drain that timed out, the jobs still running are stopped, not waited for: the drain
  // timeout bounds how long the master takes to exit.
  pool.shutdown({.wait = true, .cancel_pending = true, .kill_running = cancelled_the_rest});
  daemon::say(log_level::info, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  try {
    const daemon::command_line options = daemon::parse_command_line(argc, argv);
    switch (options.command) {
      case daemon::command_line::command_t::help: std::fputs(daemon::kUsage, stdout); return 0;
      case daemon::command_line::command_t::version:
        std::printf("forkpool-master %s\n", FORKPOOL_VERSION_STRING);
        return 0;
      case daemon::command_line::command_t::status:
        return daemon::print_status(socket_of(options), options.json);
      case daemon::command_line::command_t::tasks: return daemon::print_tasks(socket_of(options));
      case daemon::command_line::command_t::stop:
        return daemon::stop_master(socket_of(options), options.stop_timeout);
      case daemon::command_line::command_t::restart: {
        client c(socket_of(options));
        c.restart_workers();
        std::printf("restarting the workers of the forkpool-master at %s\n",
                    c.socket_path().c_str());
        return 0;
      }
      case daemon::command_line::command_t::serve: return serve(options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "forkpool-master: %s\n", e.what());
    return 2;
  }
  return 0;
}
