// Loading task plugins: shared libraries whose FORKPOOL_TASK registrations run when loaded.
#pragma once

#include <string>
#include <vector>

namespace forkpool::daemon {

/// Loads each library (RTLD_NOW | RTLD_GLOBAL). Throws std::runtime_error with a one-line
/// message if one cannot be loaded or registers no task. Workers forked later inherit them.
void load_task_libraries(const std::vector<std::string>& paths);

}  // namespace forkpool::daemon
