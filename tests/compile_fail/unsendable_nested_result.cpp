// The type that cannot be sent is found inside a std::map result, and named.
// expect: cannot be sent to a worker
// expect: with T = widget\]
#include <forkpool/forkpool.hpp>

#include <map>

struct widget {
  int size = 0;
};
std::map<int, widget> widgets() { return {}; }
FORKPOOL_TASK(widgets);
