// forkpool-master's command line: `serve` (the default), `status`, `tasks`, `stop` and
// `restart`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "forkpool/log.hpp"

namespace forkpool::daemon {

struct command_line {
  enum class command_t {
    serve,
    status,
    tasks,
    stop,
    restart,
    help,
    version
  } command = command_t::serve;
  bool json = false;                              ///< status --json
  std::chrono::milliseconds stop_timeout{60000};  ///< stop --timeout: how long to wait for the exit
  unsigned workers = 0;
  std::vector<std::string> task_libraries;
  std::string socket;  ///< empty: the default path
  std::uint64_t max_tasks_per_worker = 0;
  std::uint64_t max_worker_rss_bytes = 0;
  std::chrono::milliseconds task_timeout{0};
  unsigned max_retries = 0;
  log_level log = log_level::info;  ///< --log-level
  std::string metrics;              ///< --metrics HOST:PORT; empty: off
  std::chrono::milliseconds drain_timeout{30000};
  std::uint32_t max_message_bytes = 64u << 20;
  std::chrono::milliseconds message_timeout{30000};
  std::size_t max_connections_per_user = 256;
};

/// Parses argv; throws std::invalid_argument with a one-line message on any mistake.
command_line parse_command_line(int argc, char** argv);

/// "512M", "2G", "4096", "64k" -> bytes.
std::uint64_t parse_size(const std::string& text);
/// "30s", "500ms", "2m", "1h", "15" (seconds) -> milliseconds.
std::chrono::milliseconds parse_duration(const std::string& text);

extern const char* const kUsage;

}  // namespace forkpool::daemon
