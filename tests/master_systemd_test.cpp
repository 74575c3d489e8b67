// forkpool-master under systemd, tested without systemd itself: readiness, stopping and the
// watchdog through a datagram socket given as NOTIFY_SOCKET, and socket activation through
// systemd-socket-activate.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "eventually.hpp"
#include "master_process.hpp"
#include "test_tasks.hpp"

using namespace forkpool;

namespace {

bool built_with_systemd() {
  if (!FORKPOOL_MASTER_HAS_SYSTEMD)
    MESSAGE("skipped: forkpool-master was built without libsystemd");
  return FORKPOOL_MASTER_HAS_SYSTEMD;
}

// What systemd listens on for sd_notify: a datagram socket at a path.
struct notify_socket {
  temp_dir dir;
  std::string path = (dir.path / "notify").string();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  std::string received;

  notify_socket() {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~notify_socket() { ::close(fd); }
  /// Reads datagrams until one holding `text` has arrived (bounded): all of them are kept.
  bool wait_for(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (received.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      char datagram[4096];
      const ssize_t n = ::recv(fd, datagram, sizeof datagram, 0);
      if (n > 0) received.append(datagram, static_cast<std::size_t>(n)).append("\n");
    }
    return true;
  }
};

}  // namespace

TEST_SUITE_BEGIN("master");

TEST_CASE(
    "master: tells systemd READY=1 once it serves and STOPPING=1 when it drains and pets the "
    "watchdog" *
    doctest::timeout(60)) {
  if (!built_with_systemd()) return;
  notify_socket systemd;
  ::setenv("NOTIFY_SOCKET", systemd.path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);  // 200 ms: pets every 100 ms
  master_process master;
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  REQUIRE(systemd.wait_for("READY=1"));
  CHECK(systemd.received.find("MAINPID=" + std::to_string(master.pid)) != std::string::npos);
  CHECK(systemd.received.find("STATUS=2 workers, listening on " + master.socket) !=
        std::string::npos);
  {
    client c(master.socket);  // ready means serving
    CHECK(c.submit<int>("square", 4).get() == 16);
  }
  CHECK(systemd.wait_for("WATCHDOG=1"));
  CHECK(systemd.received.find("STOPPING=1") == std::string::npos);
  ::kill(master.pid, SIGTERM);
  CHECK(systemd.wait_for("STOPPING=1"));
  CHECK(master.stop() == 0);
}

TEST_CASE("master: serves a socket passed by socket activation and leaves its file to systemd" *
          doctest::timeout(60)) {
  if (!built_with_systemd()) return;
  if (::system("command -v systemd-socket-activate > /dev/null") != 0) {
    MESSAGE("skipped: systemd-socket-activate is not installed (Debian: systemd)");
    return;
  }
  temp_dir dir;
  const std::string socket = (dir.path / "activated.sock").string();
  const pid_t activator = ::fork();
  if (activator == 0) {
    ::execlp("systemd-socket-activate", "systemd-socket-activate", "-l", socket.c_str(),
             FORKPOOL_MASTER_BINARY, "--workers", "2", "--tasks", FORKPOOL_TEST_PLUGIN,
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  REQUIRE(eventually([&] { return can_connect(socket); }));
  {
    client c(socket);  // the first connection starts the master, which takes this connection
    CHECK(c.submit<int>("square", 6).get() == 36);
    CHECK(c.info().pid == activator);  // systemd-socket-activate execs the master in place
  }
  auto [status, output] = run(std::string(FORKPOOL_MASTER_BINARY) + " stop --socket " + socket);
  CHECK(status == 0);
  int exit_status = 0;
  CHECK(::waitpid(activator, &exit_status, 0) == activator);
  CHECK(WIFEXITED(exit_status));
  CHECK(WEXITSTATUS(exit_status) == 0);
  CHECK(fs::exists(socket));  // systemd's, not the master's to remove
}

TEST_SUITE_END();
