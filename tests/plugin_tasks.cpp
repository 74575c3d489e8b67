// The task plugin the forkpool-master tests load.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <forkpool/shared_bytes.hpp>
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
// Through forkpool-master a shared buffer reaches the client as a copy.
forkpool::shared_bytes shared_blob(int bytes) {
  forkpool::shared_bytes out(static_cast<std::size_t>(bytes));
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = static_cast<std::byte>(i % 251);
  return out;
}
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
FORKPOOL_TASK_NAMED(plugin::shared_blob, "shared_blob");
FORKPOOL_TASK_NAMED(plugin::fail, "fail");
FORKPOOL_TASK_NAMED(plugin::crash, "crash");
