#include "plugins.hpp"

#include <dlfcn.h>

#include <stdexcept>

#include "forkpool/detail/registry.hpp"

namespace forkpool::daemon {

void load_task_libraries(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    const std::size_t before = detail::registered_task_count();
    // A path without a slash would be looked up in the library path, not the current directory.
    const std::string where = path.find('/') == std::string::npos ? "./" + path : path;
    if (::dlopen(where.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr)
      throw std::runtime_error("cannot load task library " + path + ": " + ::dlerror());
    if (detail::registered_task_count() == before)
      throw std::runtime_error("task library " + path + " registers no task (FORKPOOL_TASK)");
  }
}

}  // namespace forkpool::daemon
