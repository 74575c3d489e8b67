#include "master_log.hpp"

#include <cstdio>
#include <string_view>

namespace forkpool::daemon {

void start_master_log(log_level level) {
  set_log_level(level);
  set_log_handler([](log_level at, std::string_view line) {
    // One write per line: lines from the pool's thread and the main loop never interleave.
    std::string text = "forkpool-master: ";
    if (at >= log_level::warning) text += std::string(to_string(at)) + ": ";
    text.append(line);
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
  });
}

}  // namespace forkpool::daemon
