// The socket's trust rules, tried as another local user would attack them: a default socket
// directory made first by someone else, a symlink in its place, an impostor listening.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <forkpool/forkpool.hpp>

#include "master_process.hpp"

using namespace forkpool;

namespace {

constexpr uid_t kNobody = 65534;

// These attacks need a second uid, which only root can become; elsewhere they say so and skip.
bool can_act_as_another_user() {
  if (::getuid() == 0) return true;
  MESSAGE("skipped: needs root to act as another user");
  return false;
}

// A server run as uid nobody: makes `directory` (mode 0777) if asked, listens at `socket`, and
// reports how many bytes anyone sent it. The impostor of these tests.
struct impostor {
  pid_t pid = -1;
  int stop_pipe[2] = {-1, -1};
  int report_pipe[2] = {-1, -1};

  impostor(const std::string& directory, const std::string& socket) {
    REQUIRE(::pipe(stop_pipe) == 0);
    REQUIRE(::pipe(report_pipe) == 0);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid = ::fork();
    if (pid == 0) {
      if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(3);
      if (!directory.empty()) {
        ::mkdir(directory.c_str(), 0777);
        ::chmod(directory.c_str(), 0777);
      }
      const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, socket.c_str(), sizeof a.sun_path - 1);
      if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
          ::listen(listener, 8) != 0)
        ::_exit(4);
      ::chmod(socket.c_str(), 0777);
      (void)!::write(ready[1], "r", 1);
      long received = 0;
      std::vector<int> peers;
      for (;;) {
        std::vector<pollfd> fds{{listener, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        for (int p : peers) fds.push_back({p, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), 10000) <= 0 || fds[1].revents) break;
        if (fds[0].revents & POLLIN) peers.push_back(::accept(listener, nullptr, nullptr));
        for (std::size_t i = 2; i < fds.size(); ++i) {
          char buffer[4096];
          if (!(fds[i].revents & POLLIN)) continue;
          const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
          if (n > 0) {
            received += n;
            // The forged reply of the attack: square(7) = 1337, if anyone asks.
            const std::uint8_t forged[] = {0};
            (void)!::write(fds[i].fd, forged, sizeof forged);
          }
        }
      }
      (void)!::write(report_pipe[1], &received, sizeof received);
      ::_exit(0);
    }
    char byte;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    ::close(ready[1]);
  }

  // Stops the impostor; returns the bytes it received.
  long bytes_received() {
    (void)!::write(stop_pipe[1], "s", 1);
    long received = -1;
    (void)!::read(report_pipe[0], &received, sizeof received);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
    return received;
  }

  ~impostor() {
    if (pid > 0) bytes_received();
    for (int fd : {stop_pipe[0], stop_pipe[1], report_pipe[0], report_pipe[1]}) ::close(fd);
  }
};

// A shared scratch directory, like /tmp: anyone may create entries in it.
struct shared_tmp : temp_dir {
  shared_tmp() { ::chmod(path.c_str(), 01777); }
  std::string env() const { return "env -u XDG_RUNTIME_DIR TMPDIR=" + path.string() + " "; }
  std::string default_directory() const {
    return (path / ("forkpool-" + std::to_string(::getuid()))).string();
  }
};

}  // namespace

TEST_SUITE_BEGIN("master");

TEST_CASE("master: a default socket directory made first by another user is refused" *
          doctest::timeout(60)) {
  if (!can_act_as_another_user()) return;
  shared_tmp tmp;
  const std::string directory = tmp.default_directory();
  impostor fake(directory, directory + "/forkpool.sock");
  auto [status, output] = run(tmp.env() + FORKPOOL_MASTER_BINARY + " status");
  CHECK(status != 0);
  CHECK(output.find("belongs to uid 65534") != std::string::npos);
  auto [serve_status, serve_output] =
      run(tmp.env() + FORKPOOL_MASTER_BINARY + " --workers 1 --tasks " + FORKPOOL_TEST_PLUGIN);
  CHECK(serve_status == 2);
  CHECK(serve_output.find("belongs to uid 65534") != std::string::npos);
  CHECK(fake.bytes_received() == 0);  // the client sent it nothing
}

TEST_CASE("master: a symlink in place of the default socket directory is refused" *
          doctest::timeout(60)) {
  if (!can_act_as_another_user()) return;
  shared_tmp tmp;
  temp_dir victims_own;  // mode 0700, owned by this user: passes every check if followed
  const std::string directory = tmp.default_directory();
  const pid_t child = ::fork();
  if (child == 0) {  // the other user plants the link
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(3);
    ::_exit(::symlink(victims_own.path.c_str(), directory.c_str()) == 0 ? 0 : 1);
  }
  int planted;
  ::waitpid(child, &planted, 0);
  REQUIRE(WEXITSTATUS(planted) == 0);
  auto [serve_status, output] =
      run(tmp.env() + FORKPOOL_MASTER_BINARY + " --workers 1 --tasks " + FORKPOOL_TEST_PLUGIN);
  CHECK(serve_status == 2);
  CHECK(output.find("symbolic link") != std::string::npos);
  CHECK_FALSE(fs::exists(victims_own.path / "forkpool.sock"));
  auto [status, status_output] = run(tmp.env() + FORKPOOL_MASTER_BINARY + " status");
  CHECK(status != 0);
  CHECK(status_output.find("symbolic link") != std::string::npos);
}

TEST_CASE("master: the default socket directory is made private and served" *
          doctest::timeout(60)) {
  shared_tmp tmp;
  const std::string directory = tmp.default_directory();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::unsetenv("XDG_RUNTIME_DIR");
    ::setenv("TMPDIR", tmp.path.c_str(), 1);
    ::execl(FORKPOOL_MASTER_BINARY, FORKPOOL_MASTER_BINARY, "--workers", "1", "--tasks",
            FORKPOOL_TEST_PLUGIN, nullptr);
    ::_exit(127);
  }
  const std::string socket = directory + "/forkpool.sock";
  for (int i = 0; i < 1000 && !can_connect(socket); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  struct stat st {};
  REQUIRE(::lstat(directory.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 0777) == 0700);
  auto [status, output] = run(tmp.env() + FORKPOOL_MASTER_BINARY + " status");
  CHECK(status == 0);
  CHECK(output.find("workers:") != std::string::npos);
  ::kill(pid, SIGTERM);
  int exit_status;
  ::waitpid(pid, &exit_status, 0);
  CHECK(WIFEXITED(exit_status));
  CHECK_FALSE(fs::exists(directory));  // it made the directory, and removes it
}

TEST_CASE("client: a socket served by another user is refused before anything is sent" *
          doctest::timeout(60)) {
  if (!can_act_as_another_user()) return;
  shared_tmp tmp;
  const std::string socket = (tmp.path / "master.sock").string();
  impostor fake("", socket);
  bool refused = false;
  try {
    client c(socket);
    (void)c.submit<int>("square", 7);
  } catch (const connection_error& e) {
    refused = true;
    CHECK(std::string(e.what()).find("runs as uid 65534") != std::string::npos);
  }
  CHECK(refused);
  CHECK(fake.bytes_received() == 0);
}

TEST_SUITE_END();
