// A lambda with captures passed to a process pool.
// expect: a closure \(a lambda with captures, or a function object\) cannot cross into another
// process expect: forkpool::thread_pool
#include <forkpool/forkpool.hpp>

int main() {
  forkpool::process_pool pool;
  const int factor = 3;
  return pool.submit([factor](int x) { return x * factor; }, 2).get();
}
