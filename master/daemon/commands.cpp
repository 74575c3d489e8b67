#include "commands.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <forkpool/client.hpp>
#include <string>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::daemon {
namespace {

// A JSON string literal: quotes, backslashes and control characters escaped.
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

double seconds_since(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::system_clock::now() - t).count();
}

long long unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

unsigned long long u(std::uint64_t v) { return static_cast<unsigned long long>(v); }

void print_json(const master_info& info, const pool_stats& s) {
  std::string tasks;
  for (const std::string& name : info.tasks)
    tasks += (tasks.empty() ? "" : ",") + json_string(name);
  std::string workers;
  for (const auto& w : s.per_worker) {
    char one[256];
    std::snprintf(one, sizeof one,
                  "{\"pid\":%d,\"tasks_run\":%llu,\"rss_bytes\":%llu,\"started\":%lld}", w.pid,
                  u(w.tasks_run), u(w.rss_bytes), unix_seconds(w.started));
    workers += (workers.empty() ? "" : ",") + std::string(one);
  }
  std::printf(
      "{\"pid\":%d,\"version\":%s,\"started\":%lld,\"uptime_s\":%.1f,\"tasks\":[%s],"
      "\"workers_alive\":%zu,\"workers_retiring\":%zu,\"workers\":[%s],"
      "\"submitted\":%llu,\"completed\":%llu,\"failed\":%llu,\"cancelled\":%llu,"
      "\"queue_depth\":%zu,\"retries\":%llu,\"restarts\":{\"task_count\":%llu,\"memory\":%llu,"
      "\"timeout\":%llu,\"crash\":%llu,\"requested\":%llu}}\n",
      info.pid, json_string(info.version).c_str(), unix_seconds(info.started),
      seconds_since(info.started), tasks.c_str(), s.workers_alive, s.workers_retiring,
      workers.c_str(), u(s.submitted), u(s.completed), u(s.failed), u(s.cancelled), s.queue_depth,
      u(s.retries), u(s.restarts_task_count), u(s.restarts_memory), u(s.restarts_timeout),
      u(s.restarts_crash), u(s.restarts_requested));
}

void print_text(const client& c, const master_info& info, const pool_stats& s) {
  std::printf("forkpool-master %s at %s\n", info.version.c_str(), c.socket_path().c_str());
  std::printf("pid %d, up %.0f s, serving %zu tasks\n", info.pid, seconds_since(info.started),
              info.tasks.size());
  std::printf("workers: %zu alive, %zu retiring\n", s.workers_alive, s.workers_retiring);
  std::printf("%8s %10s %10s\n", "pid", "tasks", "rss MiB");
  for (const auto& w : s.per_worker)
    std::printf("%8d %10llu %10.1f\n", w.pid, u(w.tasks_run), w.rss_bytes / 1048576.0);
  std::printf("jobs: %llu submitted, %llu completed, %llu failed, %llu cancelled, %zu queued\n",
              u(s.submitted), u(s.completed), u(s.failed), u(s.cancelled), s.queue_depth);
  std::printf("restarts: %llu task count, %llu memory, %llu timeout, %llu crash, %llu requested\n",
              u(s.restarts_task_count), u(s.restarts_memory), u(s.restarts_timeout),
              u(s.restarts_crash), u(s.restarts_requested));
  std::printf("retries: %llu\n", u(s.retries));
}

}  // namespace

int print_status(const std::string& socket, bool json) {
  client c(socket);
  const master_info info = c.info();
  const pool_stats s = c.stats();
  if (json)
    print_json(info, s);
  else
    print_text(c, info, s);
  return 0;
}

int print_tasks(const std::string& socket) {
  client c(socket);
  for (const std::string& name : c.info().tasks) std::printf("%s\n", name.c_str());
  return 0;
}

int stop_master(const std::string& socket, std::chrono::milliseconds timeout) {
  pid_t pid;
  {
    client c(socket);
    pid = c.info().pid;
  }  // disconnected: the master's drain does not wait for this connection
  // A pidfd, opened before the signal, becomes readable when that very process exits (a pid
  // reused meanwhile cannot fool it).
  const detail::unique_fd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!exited) {
    std::fprintf(stderr, "forkpool-master: cannot watch pid %d: %s\n", pid, std::strerror(errno));
    return 1;
  }
  if (::kill(pid, SIGTERM) != 0) {
    std::fprintf(stderr, "forkpool-master: cannot signal pid %d: %s\n", pid, std::strerror(errno));
    return 1;
  }
  pollfd watch{exited.get(), POLLIN, 0};
  const int ready = ::poll(&watch, 1, static_cast<int>(timeout.count()));
  if (ready != 1) {
    std::fprintf(stderr, "forkpool-master: pid %d still running after %lld ms\n", pid,
                 static_cast<long long>(timeout.count()));
    return 1;
  }
  std::printf("forkpool-master (pid %d) at %s stopped\n", pid, socket.c_str());
  return 0;
}

}  // namespace forkpool::daemon
