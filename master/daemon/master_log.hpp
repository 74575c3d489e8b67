// forkpool-master's log: the library's events and the daemon's own, one line each on stderr
// (journald keeps it), filtered by --log-level.
#pragma once

#include <string>

#include "forkpool/detail/log_line.hpp"

namespace forkpool::daemon {

/// Sends every line at `level` and above to stderr as "forkpool-master: [LEVEL: ]LINE" (the
/// level is written for warnings and errors).
void start_master_log(log_level level);

/// One of the daemon's own lines.
inline void say(log_level level, const std::string& line) {
  if (detail::log_enabled(level)) detail::log_line(level, line);
}

}  // namespace forkpool::daemon
