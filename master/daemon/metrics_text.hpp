// The pool's figures in Prometheus' text exposition format (version 0.0.4).
#pragma once

#include <string>

#include "forkpool/options.hpp"

namespace forkpool::daemon {

/// Every metric with its # HELP and # TYPE lines; every restart reason, 0 included.
std::string metrics_text(const pool_stats& stats);

}  // namespace forkpool::daemon
