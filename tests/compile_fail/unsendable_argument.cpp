// A user type without serialization, as a task's parameter: forkpool's one error names it.
// expect: cannot be sent to a worker
// expect: with T = widget
// expect: void serialize\(Archive& a\)
#include <forkpool/forkpool.hpp>

struct widget {
  int size = 0;
};
int size_of(widget w) { return w.size; }
FORKPOOL_TASK(size_of);
