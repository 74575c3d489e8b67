#include "command_line.hpp"

#include <cctype>
#include <stdexcept>

namespace forkpool::daemon {

const char* const kUsage =
    "usage: forkpool-master --workers N --tasks LIB.so[,LIB.so...] [--socket PATH]\n"
    "                       [--max-tasks-per-worker N] [--max-worker-rss SIZE]\n"
    "                       [--task-timeout DURATION] [--max-retries N]\n"
    "                       [--drain-timeout DURATION]\n"
    "                       [--max-message SIZE] [--message-timeout DURATION]\n"
    "                       [--max-connections-per-user N] [--log-level LEVEL]\n"
    "                       [--metrics HOST:PORT]\n"
    "       forkpool-master status [--json] [--socket PATH]\n"
    "       forkpool-master tasks [--socket PATH]\n"
    "       forkpool-master stop [--timeout DURATION] [--socket PATH]\n"
    "       forkpool-master restart [--socket PATH]\n"
    "       forkpool-master --help | --version\n"
    "\n"
    "Serves the tasks registered (FORKPOOL_TASK) in the shared libraries named by --tasks to\n"
    "forkpool::client programs, over a Unix socket (mode 0600; default $XDG_RUNTIME_DIR/forkpool.sock\n"
    "or /tmp/forkpool-<uid>/forkpool.sock). SIGTERM or SIGINT: finish running jobs (at most\n"
    "--drain-timeout, default 30s; then kill the workers still running jobs) and exit.\n"
    "SIGHUP: restart every worker, rolling.\n"
    "status: the master's pid, version, uptime, workers and totals (--json: one JSON object).\n"
    "tasks: the task names it serves, one a line. stop: as SIGTERM, then waits until the\n"
    "master has exited (at most --timeout, default 60s; else exit code 1).\n"
    "A connection that starts a message must finish it within --message-timeout (default 30s);\n"
    "one uid may hold --max-connections-per-user connections (default 256).\n"
    "Logs one line per event on stderr: workers started, exited (and what they ran), replaced\n"
    "and why, drains, refused clients, loaded plugins. LEVEL: debug, info (default), warning,\n"
    "error. --metrics serves Prometheus' text format at http://HOST:PORT/metrics (off by\n"
    "default; HOST defaults to 127.0.0.1; port 0 picks a free one, logged at start).\n"
    "SIZE: bytes, or with k, M, G. DURATION: seconds, or with ms, s, m, h.\n";

namespace {

std::uint64_t parse_count(const std::string& flag, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument(flag + " needs a whole number, not '" + text + "'");
  return std::stoull(text);
}

// Splits "1.5" style numbers off a unit suffix.
std::pair<double, std::string> split_number(const std::string& text, const char* what) {
  std::size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
    ++end;
  if (end == 0) throw std::invalid_argument(std::string("not a ") + what + ": '" + text + "'");
  double value;
  try {
    value = std::stod(text.substr(0, end));
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string("not a ") + what + ": '" + text + "'");
  }
  return {value, text.substr(end)};
}

}  // namespace

std::uint64_t parse_size(const std::string& text) {
  auto [value, unit] = split_number(text, "size");
  double scale = 1;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "k" || unit == "K" || unit == "KiB")
    scale = 1024.0;
  else if (unit == "M" || unit == "MiB")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB")
    scale = 1024.0 * 1024 * 1024;
  else
    throw std::invalid_argument("unknown size unit '" + unit + "' in '" + text +
                                "' (use k, M or G)");
  return static_cast<std::uint64_t>(value * scale);
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  auto [value, unit] = split_number(text, "duration");
  double ms;
  if (unit.empty() || unit == "s")
    ms = value * 1000;
  else if (unit == "ms")
    ms = value;
  else if (unit == "m" || unit == "min")
    ms = value * 60'000;
  else if (unit == "h")
    ms = value * 3'600'000;
  else
    throw std::invalid_argument("unknown duration unit '" + unit + "' in '" + text +
                                "' (use ms, s, m or h)");
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

command_line parse_command_line(int argc, char** argv) {
  command_line c;
  int i = 1;
  if (argc > 1) {
    const std::string first = argv[1];
    if (first == "status") c.command = command_line::command_t::status;
    if (first == "tasks") c.command = command_line::command_t::tasks;
    if (first == "stop") c.command = command_line::command_t::stop;
    if (first == "restart") c.command = command_line::command_t::restart;
    if (c.command != command_line::command_t::serve) i = 2;
  }
  auto value = [&](const std::string& flag) -> std::string {
    if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
    return argv[++i];
  };
  for (; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      c.command = command_line::command_t::help;
    } else if (flag == "--version") {
      c.command = command_line::command_t::version;
    } else if (flag == "--socket") {
      c.socket = value(flag);
    } else if (flag == "--json" && c.command == command_line::command_t::status) {
      c.json = true;
    } else if (flag == "--timeout" && c.command == command_line::command_t::stop) {
      c.stop_timeout = parse_duration(value(flag));
    } else if (c.command != command_line::command_t::serve) {
      throw std::invalid_argument("unknown option for this command: " + flag);
    } else if (flag == "--workers") {
      c.workers = static_cast<unsigned>(parse_count(flag, value(flag)));
      if (c.workers == 0) throw std::invalid_argument("--workers must be at least 1");
    } else if (flag == "--tasks") {
      std::string list = value(flag);
      for (std::size_t start = 0; start <= list.size();) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        if (comma > start) c.task_libraries.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (flag == "--max-tasks-per-worker") {
      c.max_tasks_per_worker = parse_count(flag, value(flag));
    } else if (flag == "--max-worker-rss") {
      c.max_worker_rss_bytes = parse_size(value(flag));
    } else if (flag == "--task-timeout") {
      c.task_timeout = parse_duration(value(flag));
    } else if (flag == "--max-retries") {
      // Jobs whose worker died or timed out run again: only for idempotent tasks.
      c.max_retries =
          static_cast<unsigned>(std::min<std::uint64_t>(parse_count(flag, value(flag)), 1000));
    } else if (flag == "--metrics") {
      c.metrics = value(flag);
    } else if (flag == "--log-level") {
      const std::string name = value(flag);
      const std::optional<log_level> level = log_level_named(name);
      if (!level)
        throw std::invalid_argument("--log-level: '" + name +
                                    "' is not debug, info, warning or error");
      c.log = *level;
    } else if (flag == "--drain-timeout") {
      c.drain_timeout = parse_duration(value(flag));
    } else if (flag == "--message-timeout") {
      c.message_timeout = parse_duration(value(flag));
      if (c.message_timeout.count() <= 0)
        throw std::invalid_argument("--message-timeout must be positive");
    } else if (flag == "--max-connections-per-user") {
      c.max_connections_per_user = parse_count(flag, value(flag));
      if (c.max_connections_per_user == 0)
        throw std::invalid_argument("--max-connections-per-user must be at least 1");
    } else if (flag == "--max-message") {
      c.max_message_bytes =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(parse_size(value(flag)), 1u << 30));
    } else {
      throw std::invalid_argument("unknown option: " + flag + " (see --help)");
    }
  }
  if (c.command == command_line::command_t::serve && c.task_libraries.empty())
    throw std::invalid_argument("--tasks LIB.so is required (see --help)");
  return c;
}

}  // namespace forkpool::daemon
