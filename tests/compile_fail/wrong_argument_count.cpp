// expect: wrong number of arguments for this task
#include <forkpool/forkpool.hpp>

int add(int a, int b) { return a + b; }
FORKPOOL_TASK(add);

int main() {
  forkpool::process_pool pool;
  return pool.submit(add, 1).get();
}
