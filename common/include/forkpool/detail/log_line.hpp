// Making a log line inside forkpool: check the level first, so a line nobody wants costs nothing.
#pragma once

#include <string>

#include "forkpool/log.hpp"

namespace forkpool::detail {

inline bool log_enabled(log_level level) noexcept { return level >= current_log_level(); }
/// Sends `line` to the handler (the caller has checked log_enabled).
void log_line(log_level level, const std::string& line);

}  // namespace forkpool::detail
