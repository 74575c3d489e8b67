// The pool's log lines: made only when their level is wanted, and handed to the log handler
// after the scheduler lock is released, so that a handler may call into the pool.
#pragma once

#include <string>
#include <vector>

#include "forkpool/detail/log_line.hpp"
#include "forkpool/detail/unique_function.hpp"
#include "scheduler_lock.hpp"

namespace forkpool::detail {

/// Logs the line that `make_line()` returns, if `level` is wanted.
template <class MakeLine>
void report(log_level level, MakeLine make_line) {
  if (!log_enabled(level)) return;
  std::vector<unique_function> later;
  later.emplace_back([level, line = std::string(make_line())] { log_line(level, line); });
  if (!scheduler_lock::defer(later)) later.front()();
}

/// "killed by signal 9 (Killed)" or "exited with status 3", for a waitpid() status.
std::string describe_exit(int wait_status);

}  // namespace forkpool::detail
