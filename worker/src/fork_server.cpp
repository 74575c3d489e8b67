#include "fork_server.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <unordered_set>

namespace forkpool::detail {
namespace {

constexpr int kDescriptorsPerSpawn = 3;

bool send_event(int socket, const server_event& event) {
  ssize_t n;
  while ((n = ::send(socket, &event, sizeof event, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n == static_cast<ssize_t>(sizeof event);
}

// One spawn request as a socket message: the request's bytes, and room for its descriptors.
struct spawn_message {
  spawn_request request{};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kDescriptorsPerSpawn)] = {};
  iovec io{&request, sizeof request};
  msghdr header{};

  spawn_message() {
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  spawn_message(const spawn_message&) = delete;  // it points into itself
  spawn_message& operator=(const spawn_message&) = delete;
};

// Receives one spawn request; returns 0 on EOF, -1 on error, 1 with fds filled, or -EMFILE for a
// request whose descriptors did not all arrive (this process is out of descriptors): that one
// request fails, the server serves on.
int receive_request(int socket, spawn_request& request, int (&fds)[kDescriptorsPerSpawn]) {
  spawn_message message;
  msghdr& msg = message.header;
  ssize_t n;
  while ((n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  request = message.request;
  if (n == 0) return 0;
  if (n < 0) return -1;
  int received = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (received < kDescriptorsPerSpawn) {
        fds[received++] = fd;
      } else {
        ::close(fd);
      }
    }
  }
  if (n != sizeof request || received != kDescriptorsPerSpawn) {
    for (int i = 0; i < received; ++i) ::close(fds[i]);
    if (n == sizeof request && (msg.msg_flags & MSG_CTRUNC) != 0) return -EMFILE;
    return -1;
  }
  return 1;
}

[[noreturn]] void serve(unique_fd socket, const worker_config& config) {
  ::prctl(PR_SET_NAME, kForkServerTitle);  // what ps -o comm shows
  // SIGCHLD arrives through a signalfd so that one poll() waits for requests and exits alike.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  unique_fd children(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  std::unordered_set<pid_t> workers;

  auto reap = [&] {
    int status;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      workers.erase(pid);
      send_event(socket.get(), {server_event::exited, pid, status, 0, 0});
    }
  };
  auto shut_down = [&] [[noreturn]] {
    for (pid_t pid : workers) ::kill(pid, SIGKILL);
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
    ::_exit(0);
  };

  for (;;) {
    pollfd fds[2] = {{socket.get(), POLLIN, 0}, {children.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      shut_down();
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(children.get(), &info, sizeof info) > 0) {
      }
      reap();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      spawn_request request{};
      int received[kDescriptorsPerSpawn];
      const int got = receive_request(socket.get(), request, received);
      if (got == -EMFILE) {
        send_event(socket.get(), {server_event::spawn_failed, -1, EMFILE, 0, request.worker_id});
        continue;
      }
      if (got <= 0) shut_down();  // the master is gone
      const pid_t server = ::getpid();
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
        prepare_forked_child(received, kDescriptorsPerSpawn, /*die_with=*/server);
        run_worker({unique_fd(received[0]), unique_fd(received[1]), unique_fd(received[2])},
                   config);
      }
      for (int fd : received) ::close(fd);
      if (pid < 0) {
        send_event(socket.get(), {server_event::spawn_failed, -1, errno, 0, request.worker_id});
      } else {
        workers.insert(pid);
        send_event(socket.get(), {server_event::spawned, pid, 0, 0, request.worker_id});
      }
    }
  }
}

}  // namespace

void run_fork_server(unique_fd socket, const worker_config& config) {
  serve(std::move(socket), config);
}

fork_server_handle start_fork_server(const worker_config& config, const spawn_command* fresh_run) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair");
  unique_fd master_end(pair[0]), server_end(pair[1]);
  if (fresh_run != nullptr) {
    const int keep[1] = {server_end.get()};
    int error = 0;
    const pid_t pid = start_fresh_run(*fresh_run, keep, 1, error);
    if (pid < 0)
      throw std::system_error(error, std::generic_category(), "starting the fork server");
    return {pid, std::move(master_end)};
  }
  std::fflush(nullptr);  // or the server's copy of unwritten output could be written twice
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    master_end.reset();
    // Keep only the socket. The server notices the master's death by EOF on it, not by
    // PR_SET_PDEATHSIG, which would fire when the *thread* that forked it exits.
    int keep[1] = {server_end.release()};
    prepare_forked_child(keep, 1, /*die_with=*/0);
    serve(unique_fd(keep[0]), config);
  }
  return {pid, std::move(master_end)};
}

int request_spawn(int socket, std::uint64_t worker_id, int region, int worker_bell,
                  int master_bell) {
  spawn_message message;
  message.request.worker_id = worker_id;
  const int fds[kDescriptorsPerSpawn] = {region, worker_bell, master_bell};
  msghdr& msg = message.header;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t n;
  while ((n = ::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EINTR) {
  }
  if (n < 0) return errno == EWOULDBLOCK ? EAGAIN : errno;
  return n == static_cast<ssize_t>(sizeof message.request) ? 0 : EPIPE;
}

}  // namespace forkpool::detail
