// forkpool's log hook: the events that matter (a worker started, exited, was replaced and why, a
// pool could not start a worker or broke) as one line each, to a handler of the program's.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

namespace forkpool {

enum class log_level { debug, info, warning, error };

/// Receives one event: its level and its line (no trailing newline). Called from the pool's
/// own thread (or a thread waiting on a future), never with a pool lock held: make it quick
/// and thread-safe.
using log_handler = std::function<void(log_level, std::string_view line)>;

/// Replaces where lines go; an empty handler restores the default, which writes
/// "forkpool: LINE" to stderr.
void set_log_handler(log_handler handler);
/// Lines below `level` are not made at all. Default: warning.
void set_log_level(log_level level);
log_level current_log_level() noexcept;

/// "debug", "info", "warning", "error".
std::string_view to_string(log_level level) noexcept;
/// The level named `name` (as to_string spells it), or nullopt.
std::optional<log_level> log_level_named(std::string_view name) noexcept;

}  // namespace forkpool
