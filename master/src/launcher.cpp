#include "launcher.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <system_error>

#include "fork_server.hpp"
#include "spawn.hpp"

namespace forkpool::detail {
namespace {

namespace asio = boost::asio;

// Workers forked by the fork server, which reports their exits over its socket. The socket is
// non-blocking (the event loop watches it), so spawn requests that do not fit its buffer wait in
// an outbox until it is writable: the pool's thread never blocks on the server, which may itself
// be waiting for the pool to read its events.
class fork_server_launcher final : public launcher {
 public:
  fork_server_launcher(asio::io_context& io, const worker_config& config, launch_events& events,
                       const spawn_command* fresh_run)
      : events_(events), server_(start_fork_server(config, fresh_run)), watch_(io) {
    boost::system::error_code ec;
    watch_.assign(server_.socket.get(), ec);
    if (ec) {
      stop();
      throw std::system_error(ec.value(), std::generic_category(), "watching the fork server");
    }
    server_.socket.release();  // owned by watch_ now
    read_events();
  }

  ~fork_server_launcher() override { stop(); }

  void launch(std::uint64_t worker_id, std::shared_ptr<const master_channel> channel) override {
    outbox_.push_back({worker_id, std::move(channel)});
    send_requests();
  }

  void stop() override {
    if (server_.pid < 0) return;
    boost::system::error_code ignored;
    watch_.close(ignored);  // EOF tells the server to exit
    server_.socket.reset();
    outbox_.clear();
    while (::waitpid(server_.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    server_.pid = -1;
  }

 private:
  void read_events() {
    watch_.async_wait(
        asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
          if (ec) return;  // closed by stop()
          server_event event;
          ssize_t n;
          while ((n = ::recv(watch_.native_handle(), &event, sizeof event, MSG_DONTWAIT)) ==
                 static_cast<ssize_t>(sizeof event)) {
            switch (event.kind) {
              case server_event::spawned: events_.on_spawned(event.worker_id, event.pid); break;
              case server_event::spawn_failed:
                events_.on_spawn_failed(event.worker_id, event.status);
                break;
              case server_event::exited: events_.on_exited(event.pid, event.status); break;
            }
            if (server_.pid < 0) return;  // the event led the pool to stop this launcher
          }
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            lost();
            return;
          }
          read_events();
        });
  }

  void send_requests() {
    while (!outbox_.empty() && watch_.is_open()) {
      const spawn_order& order = outbox_.front();
      const int error =
          request_spawn(watch_.native_handle(), order.worker_id, order.channel->region_fd(),
                        order.channel->worker_bell().fd(), order.channel->master_bell().fd());
      if (error == EAGAIN) {
        if (!waiting_to_send_) {
          waiting_to_send_ = true;
          watch_.async_wait(asio::posix::stream_descriptor::wait_write,
                            [this](boost::system::error_code ec) {
                              waiting_to_send_ = false;
                              if (!ec) send_requests();
                            });
        }
        return;
      }
      if (error != 0) {
        asio::post(watch_.get_executor(),
                   [this, id = order.worker_id, error] { events_.on_spawn_failed(id, error); });
      }
      outbox_.pop_front();
    }
  }

  void lost() {
    boost::system::error_code ignored;
    watch_.close(ignored);
    server_.socket.reset();
    outbox_.clear();  // their workers are buried with the rest
    if (server_.pid >= 0) {
      while (::waitpid(server_.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      server_.pid = -1;
    }
    events_.on_launcher_lost();
  }

  struct spawn_order {
    std::uint64_t worker_id;
    std::shared_ptr<const master_channel> channel;  ///< keeps its descriptors open until sent
  };

  launch_events& events_;
  fork_server_handle server_;
  asio::posix::stream_descriptor watch_;
  std::deque<spawn_order> outbox_;
  bool waiting_to_send_ = false;
};

// Workers that are children of the pool thread itself, forked (start_method::fork) or fresh
// runs of the program (start_method::spawn); their exits are watched through pidfds.
class direct_launcher final : public launcher {
 public:
  direct_launcher(asio::io_context& io, const worker_config& config, launch_events& events,
                  std::optional<spawn_command> exec)
      : io_(io), config_(config), events_(events), exec_(std::move(exec)) {}

  ~direct_launcher() override { stop(); }

  void launch(std::uint64_t worker_id, std::shared_ptr<const master_channel> channel) override {
    int keep[3] = {channel->region_fd(), channel->worker_bell().fd(), channel->master_bell().fd()};
    int error = 0;
    pid_t pid;
    if (exec_) {
      pid = start_fresh_run(*exec_, keep, 3, error);
    } else {
      std::fflush(nullptr);
      const pid_t master = ::getpid();
      pid = ::fork();
      error = errno;
      if (pid == 0) {
        // Only async-signal-safe calls from here on: the master may have other threads.
        prepare_forked_child(keep, 3, /*die_with=*/master);
        run_worker({unique_fd(keep[0]), unique_fd(keep[1]), unique_fd(keep[2])}, config_);
      }
    }
    if (pid < 0) {
      asio::post(io_, [this, worker_id, error] { events_.on_spawn_failed(worker_id, error); });
      return;
    }
    // Every exit must be seen, or the child stays a zombie: a worker that cannot be watched is
    // not kept.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    const int pidfd_error = pidfd < 0 ? errno : 0;
    auto watch = std::make_unique<asio::posix::stream_descriptor>(io_);
    boost::system::error_code ec;
    if (pidfd >= 0) watch->assign(pidfd, ec);
    if (pidfd < 0 || ec) {
      if (pidfd >= 0 && !watch->is_open()) ::close(pidfd);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      const int why = pidfd < 0 ? pidfd_error : ec.value();
      asio::post(io_, [this, worker_id, why] { events_.on_spawn_failed(worker_id, why); });
      return;
    }
    watch->async_wait(asio::posix::stream_descriptor::wait_read,
                      [this, pid](boost::system::error_code ec) {
                        if (ec) return;
                        int status = 0;
                        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                        }
                        watches_.erase(pid);
                        events_.on_exited(pid, status);
                      });
    watches_.emplace(pid, std::move(watch));
    asio::post(io_, [this, worker_id, pid] { events_.on_spawned(worker_id, pid); });
  }

  void stop() override {
    // Every worker has exited by now; reap any that the event loop has not.
    for (auto& [pid, watch] : watches_) {
      boost::system::error_code ignored;
      watch->close(ignored);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    watches_.clear();
  }

 private:
  asio::io_context& io_;
  const worker_config& config_;
  launch_events& events_;
  std::optional<spawn_command> exec_;
  std::map<pid_t, std::unique_ptr<asio::posix::stream_descriptor>> watches_;
};

}  // namespace

std::unique_ptr<launcher> make_launcher(start_method method, asio::io_context& io,
                                        const worker_config& config, launch_events& events,
                                        const std::optional<std::string>& fresh_run_initializer) {
  switch (method) {
    case start_method::fork:
      return std::make_unique<direct_launcher>(io, config, events, std::nullopt);
    case start_method::spawn:
      if (!fresh_run_initializer) throw std::logic_error("start_method::spawn needs a fresh run");
      return std::make_unique<direct_launcher>(io, config, events,
                                               make_spawn_command(config, *fresh_run_initializer));
    case start_method::forkserver: break;
  }
  if (!fresh_run_initializer)
    return std::make_unique<fork_server_launcher>(io, config, events, nullptr);
  const spawn_command server =
      make_spawn_command(config, *fresh_run_initializer, kForkServerMarker);
  return std::make_unique<fork_server_launcher>(io, config, events, &server);
}

}  // namespace forkpool::detail
