// The fork server: a small single-threaded process the master starts once, at pool construction.
// Forking a multi-threaded master is unsafe, so every later worker is forked by this process
// instead, on request over a SOCK_SEQPACKET socket:
//
//   master -> server: spawn_request + SCM_RIGHTS [region, worker bell, master bell]
//   server -> master: server_event {spawned | exited | spawn_failed}
//
// The server is the parent of every worker, so it reaps them and reports each exit status. When
// the master's end of the socket closes (the master exited or was killed), the server kills its
// workers and exits; workers also die with the server (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "forkpool/detail/unique_fd.hpp"
#include "spawn.hpp"
#include "worker_loop.hpp"

namespace forkpool::detail {

struct spawn_request {
  std::uint64_t worker_id;
};

struct server_event {
  enum kind_t : std::uint32_t { spawned = 1, exited = 2, spawn_failed = 3 } kind;
  std::int32_t pid;
  std::int32_t status;  ///< exited: as from waitpid; spawn_failed: errno
  std::uint32_t reserved;
  std::uint64_t worker_id;  ///< spawned / spawn_failed: the request's worker_id
};

/// The master's handle on its fork server.
struct fork_server_handle {
  pid_t pid = -1;
  unique_fd socket;  ///< the master's end
};

/// Starts the fork server. With `fresh_run` (made by make_spawn_command with kForkServerMarker),
/// it is a fresh run of the program, which holds none of the master's heap, so neither do the
/// workers it forks. Without, it is forked from the master and sees `config` through the fork,
/// which must then stay valid at this address; use this when a fresh run would not know every
/// task, or the initializer is a closure.
fork_server_handle start_fork_server(const worker_config& config,
                                     const spawn_command* fresh_run = nullptr);

/// In a fork server started as a fresh run: serve on `socket` until the master goes.
[[noreturn]] void run_fork_server(unique_fd socket, const worker_config& config);

/// Sends one spawn request with the channel's descriptors, without blocking. Returns 0, or the
/// errno: EAGAIN when the socket's buffer is full (send again once it is writable), another one
/// when the server is gone.
int request_spawn(int socket, std::uint64_t worker_id, int region, int worker_bell,
                  int master_bell);

}  // namespace forkpool::detail
