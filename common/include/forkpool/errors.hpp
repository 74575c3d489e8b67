// The typed errors of forkpool. Each lands on the one future it concerns; the pool keeps serving.
#pragma once

#include <stdexcept>
#include <string>

namespace forkpool {

/// Base of every error forkpool raises.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The task threw. `type_name()` is the (demangled) type of what it threw, `what()` its message.
class remote_error : public error {
 public:
  remote_error(std::string type_name, const std::string& message);
  const std::string& type_name() const noexcept { return type_name_; }
  /// The original exception's message, without the type prefix `what()` carries.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

/// The worker running the task exited or was killed before answering.
class worker_died : public error {
 public:
  /// `wait_status` is as returned by waitpid().
  worker_died(int pid, int wait_status);
  /// As reported by forkpool-master: the message, pid, signal (0 if none) and exit code (-1).
  worker_died(const std::string& message, int pid, int signal, int exit_code);
  int pid() const noexcept { return pid_; }
  /// The signal that killed the worker, or 0 if it exited.
  int signal() const noexcept { return signal_; }
  /// The worker's exit status, or -1 if it was killed by a signal.
  int exit_code() const noexcept { return exit_code_; }

 private:
  int pid_;
  int signal_;
  int exit_code_;
};

/// The pool's `task_timeout` expired; the worker was killed and replaced.
class task_timeout : public error {
 public:
  using error::error;
};

/// No task is registered under the requested name (or the function was never registered).
class unknown_task : public error {
 public:
  using error::error;
};

/// The arguments (or the requested result type) do not match the task's signature.
class bad_arguments : public error {
 public:
  using error::error;
};

/// `get()` on a cancelled future.
class cancelled_error : public error {
 public:
  cancelled_error();
  explicit cancelled_error(const std::string& why);
};

/// `submit` after `shutdown()`.
class pool_shut_down : public error {
 public:
  pool_shut_down();
};

/// `get(timeout)` or `wait` waited too long; the task keeps running.
class timeout_error : public error {
 public:
  timeout_error();
};

/// A frame failed validation (length, kind or checksum), or a payload did not decode exactly.
class protocol_error : public error {
 public:
  using error::error;
};

/// The pool cannot run calls at all: no worker could be started (out of descriptors, processes
/// or memory, or spawned workers that cannot initialize). `what()` names the cause. Every call
/// still pending and every later one fails with it; a broken pool stays broken (make a new one
/// once the cause is gone), like Python's BrokenProcessPool. Also thrown by the process_pool
/// constructor when it cannot start its workers.
class broken_pool : public error {
 public:
  using error::error;
};

/// A task asked for a forkpool::shared_bytes its worker's shared area has no room for: larger
/// than the area, no run of free pages that long, or as many buffers held as the area allows
/// (shared_bytes::kSharedBuffersPerWorker). Thrown in the task; its call's future fails with it.
/// Callers make room by dropping results they no longer need.
class shared_memory_exhausted : public error {
 public:
  using error::error;
};

/// A client could not reach forkpool-master, or lost its connection (the master went away):
/// every call still waiting on that connection fails with it.
class connection_error : public error {
 public:
  using error::error;
};

}  // namespace forkpool
