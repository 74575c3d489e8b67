// A task plugin whose static initializer throws (a configuration it cannot read, say):
// forkpool-master must refuse it with one line and exit code 2, as any other bad plugin.
#include <forkpool/task.hpp>
#include <stdexcept>

namespace {
struct configuration {
  configuration() { throw std::runtime_error("cannot read /etc/example.conf"); }
};
const configuration loaded;
int square(int x) { return x * x; }
}  // namespace

FORKPOOL_TASK_NAMED(square, "throwing.square");
