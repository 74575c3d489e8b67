#include "plugins.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "forkpool/detail/registry.hpp"
#include "forkpool/detail/type_name.hpp"
#include "master_log.hpp"

namespace forkpool::daemon {
namespace {

// The library being loaded, for the terminate handler below.
const char* loading = nullptr;

// C++ ends the program through std::terminate when a static initializer throws ([basic.start]);
// dlopen cannot pass the exception on. While a plugin loads, that end is the same one-line
// error and exit code 2 that every other bad plugin gets, instead of an abort.
[[noreturn]] void refuse_throwing_plugin() {
  std::string why = "an exception";
  if (const std::exception_ptr thrown = std::current_exception()) {
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      why = detail::demangle(typeid(e).name()) + ": " + e.what();
    } catch (...) {
      why = "an exception that is not a std::exception";
    }
  }
  std::fprintf(stderr,
               "forkpool-master: cannot load task library %s: its static initializer threw %s\n",
               loading, why.c_str());
  std::fflush(stderr);
  ::_exit(2);
}

}  // namespace

void load_task_libraries(const std::vector<std::string>& paths) {
  std::vector<std::string> known = detail::registered_task_names();
  for (const std::string& path : paths) {
    const std::size_t before = detail::registered_task_count();
    // A path without a slash would be looked up in the library path, not the current directory.
    const std::string where = path.find('/') == std::string::npos ? "./" + path : path;
    loading = path.c_str();
    const std::terminate_handler previous = std::set_terminate(refuse_throwing_plugin);
    void* library = ::dlopen(where.c_str(), RTLD_NOW | RTLD_GLOBAL);
    std::set_terminate(previous);
    loading = nullptr;
    if (library == nullptr)
      throw std::runtime_error("cannot load task library " + path + ": " + ::dlerror());
    if (detail::registered_task_count() == before)
      throw std::runtime_error("task library " + path + " registers no task (FORKPOOL_TASK)");
    std::string names;  // the ones this library added
    for (const std::string& name : detail::registered_task_names())
      if (std::find(known.begin(), known.end(), name) == known.end())
        names += (names.empty() ? "" : ", ") + name;
    say(log_level::info, "loaded task library " + path + ": " + names);
    known = detail::registered_task_names();
  }
}

}  // namespace forkpool::daemon
