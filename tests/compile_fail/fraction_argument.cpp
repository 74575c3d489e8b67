// submit(fn, 1000.7) to a long parameter would drop .7 without a word.
// expect: would lose its fraction
#include <forkpool/forkpool.hpp>

long twice(long x) { return 2 * x; }
FORKPOOL_TASK(twice);

int main() {
  forkpool::process_pool pool;
  return static_cast<int>(pool.submit(twice, 1000.7).get());
}
