// Helpers for the tests that run the real forkpool-master binary: a private temporary
// directory, a command runner, a master child process on its own socket, raw connections.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "eventually.hpp"
#include "proc_status.hpp"

namespace fs = std::filesystem;

namespace master_test {

// A private directory under /tmp, removed with everything in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    char pattern[] = "/tmp/forkpool-test-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { fs::remove_all(path); }
};

// Runs a command, returns its exit status and what it wrote to stdout and stderr.
inline std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, p)) output += buffer;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

inline bool can_connect(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A forkpool-master child process on a private socket; stopped (SIGTERM) at the end.
struct master_process {
  temp_dir dir;
  std::string socket = (dir.path / "master.sock").string();
  std::string log_path = (dir.path / "master.log").string();
  pid_t pid = -1;

  struct settings {
    int descriptor_limit = 0;  ///< RLIMIT_NOFILE for the master; 0: inherited
    bool capture_log = false;  ///< its stderr to log_path instead of the test's
  };

  explicit master_process(std::vector<std::string> extra = {})
      : master_process(extra, settings{}) {}
  master_process(std::vector<std::string> extra, settings how) {
    std::vector<std::string> args{FORKPOOL_MASTER_BINARY, "--workers", "2",   "--tasks",
                                  FORKPOOL_TEST_PLUGIN,   "--socket",  socket};
    args.insert(args.end(), extra.begin(), extra.end());
    // A --socket among the extra arguments wins (the last one given): wait for that one.
    for (std::size_t i = 0; i + 1 < extra.size(); ++i)
      if (extra[i] == "--socket") socket = extra[i + 1];
    pid = ::fork();
    if (pid == 0) {
      if (how.descriptor_limit > 0) {
        const rlimit limit{static_cast<rlim_t>(how.descriptor_limit),
                           static_cast<rlim_t>(how.descriptor_limit)};
        ::setrlimit(RLIMIT_NOFILE, &limit);
      }
      if (how.capture_log) {
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 1000 && !can_connect(socket); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  /// What the master wrote to stderr so far (with settings::capture_log).
  std::string log() const {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  int stop(int signal = SIGTERM) {
    if (pid < 0) return 0;
    ::kill(pid, signal);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  ~master_process() { stop(); }
};

// A raw connection, for speaking nonsense to the master.
struct raw_connection {
  int fd;
  explicit raw_connection(const std::string& path)
      : fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~raw_connection() { ::close(fd); }
  void send(const void* data, std::size_t size) {
    REQUIRE(::send(fd, data, size, MSG_NOSIGNAL) == static_cast<ssize_t>(size));
  }
  // True once the master has closed its end (after any replies it sent).
  bool closed_by_master(int timeout_ms = 5000) {
    char buffer[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EINTR;
    }
    return false;
  }
};

/// The resident set of process `pid`, in bytes (0 once it is gone).
inline std::uint64_t rss_of(pid_t pid) {
  const long long kib = status_field(pid, "VmRSS:");
  return kib < 0 ? 0 : static_cast<std::uint64_t>(kib) * 1024;
}

}  // namespace master_test

using namespace master_test;
