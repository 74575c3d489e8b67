#include "forkpool/log.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>

#include "forkpool/detail/log_line.hpp"

namespace forkpool {
namespace {

std::atomic<log_level> threshold{log_level::warning};
std::mutex handler_mutex;
std::shared_ptr<const log_handler> installed;  // null: stderr (handler_mutex)

void to_stderr(std::string_view line) {
  std::fprintf(stderr, "forkpool: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace

void set_log_handler(log_handler handler) {
  auto next = handler ? std::make_shared<const log_handler>(std::move(handler)) : nullptr;
  std::lock_guard lock(handler_mutex);
  installed = std::move(next);
}

void set_log_level(log_level level) { threshold.store(level, std::memory_order_relaxed); }

log_level current_log_level() noexcept { return threshold.load(std::memory_order_relaxed); }

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
  }
  return "unknown";
}

std::optional<log_level> log_level_named(std::string_view name) noexcept {
  for (log_level level : {log_level::debug, log_level::info, log_level::warning, log_level::error})
    if (to_string(level) == name) return level;
  return std::nullopt;
}

namespace detail {

void log_line(log_level level, const std::string& line) {
  std::shared_ptr<const log_handler> handler;
  {
    std::lock_guard lock(handler_mutex);
    handler = installed;
  }
  if (!handler) return to_stderr(line);
  try {
    (*handler)(level, line);
  } catch (...) {
    to_stderr(line);  // a handler that throws loses no line and ends nothing
  }
}

}  // namespace detail
}  // namespace forkpool
