// future::async_get is defined with Boost.Asio in <forkpool/event_loop.hpp>, so that headers
// without Asio stay light: calling it without that header is a compile error that names it.
// expect: async_get
// expect: before deduction of
#include <forkpool/process_pool.hpp>

int square(int x) { return x * x; }
FORKPOOL_TASK(square);

struct token {};

int main() {
  forkpool::process_pool pool;
  pool.submit(square, 3).async_get(token{});
}
