// FORKPOOL_TASK inside a function would register only once the function runs: never, in a
// spawned worker. It must be at namespace scope.
// expect: forkpool_task_must_be_at_namespace_scope
// expect: FORKPOOL_TASK
#include <forkpool/forkpool.hpp>

int square(int x) { return x * x; }

int main() {
  FORKPOOL_TASK(square);
  forkpool::process_pool pool;
  return pool.submit(square, 3).get();
}
