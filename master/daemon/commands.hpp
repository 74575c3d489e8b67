// forkpool-master's commands that talk to a running master: status (text or JSON), tasks, stop.
#pragma once

#include <chrono>
#include <string>

namespace forkpool::daemon {

/// Prints the master's pid, version, uptime, workers and totals; one JSON object with `json`.
int print_status(const std::string& socket, bool json);
/// Prints the task names the master serves, one a line.
int print_tasks(const std::string& socket);
/// Sends the master SIGTERM and returns once it has exited: 0, or 1 if it is still running
/// after `timeout`.
int stop_master(const std::string& socket, std::chrono::milliseconds timeout);

}  // namespace forkpool::daemon
