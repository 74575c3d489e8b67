// The task plugin the forkpool-master tests load.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <forkpool/task.hpp>
#include <stdexcept>
#include <string>
#include <thread>

namespace plugin {
int square(int x) { return x * x; }
std::string shout(const std::string& s) { return s + "!"; }
int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}
std::string blob(int bytes) { return std::string(static_cast<std::size_t>(bytes), 'b'); }
int fail(int) { throw std::logic_error("plugin task failed"); }
int crash(int) {
  ::raise(SIGKILL);
  return 0;
}
}  // namespace plugin

FORKPOOL_TASK_NAMED(plugin::square, "square");
FORKPOOL_TASK_NAMED(plugin::shout, "shout");
FORKPOOL_TASK_NAMED(plugin::nap, "nap");
FORKPOOL_TASK_NAMED(plugin::blob, "blob");
FORKPOOL_TASK_NAMED(plugin::fail, "fail");
FORKPOOL_TASK_NAMED(plugin::crash, "crash");
