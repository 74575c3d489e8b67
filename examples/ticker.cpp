// ticker: why run_in_executor exists. A ticker coroutine wakes every 100 ms and prints how late
// it woke (the event loop's lag). Phase 1 runs a blocking, CPU-heavy function inline on the loop:
// the lag jumps. Phase 2 runs the same function through run_in_executor on a process pool: the
// loop stays free and the lag stays small. Prints the max lag of each phase.
//
//   ./ticker
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <forkpool/forkpool.hpp>

namespace asio = boost::asio;
using namespace std::chrono;

// A blocking function: about half a second of arithmetic.
long crunch(long n) {
  volatile long acc = 0;
  for (long i = 0; i < n; ++i) acc = acc + (i % 7) * (i % 13);
  return acc;
}
FORKPOOL_TASK(crunch);

struct phase_state {
  bool done = false;
  milliseconds max_lag{0};
};

// Wakes every 100 ms; records how late each wake-up was.
asio::awaitable<void> ticker(const char* phase, phase_state& state) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto next = steady_clock::now() + milliseconds(100);
  while (!state.done) {
    timer.expires_at(next);
    co_await timer.async_wait(asio::use_awaitable);
    const auto lag = duration_cast<milliseconds>(steady_clock::now() - next);
    state.max_lag = std::max(state.max_lag, lag);
    std::printf("  [%s] tick, lag %3lld ms\n", phase, static_cast<long long>(lag.count()));
    next += milliseconds(100);
  }
}

int main(int argc, char** argv) {
  forkpool::init(argc, argv);
  forkpool::process_pool pool({.workers = 2});
  const long n = 150'000'000;

  phase_state inline_phase;
  {
    asio::io_context io;
    asio::co_spawn(io, ticker("inline", inline_phase), asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 2; ++i) crunch(n);  // runs on the loop: nothing else can
          inline_phase.done = true;
          co_return;
        },
        asio::detached);
    io.run();
  }

  phase_state pooled_phase;
  {
    asio::io_context io;
    asio::co_spawn(io, ticker("pooled", pooled_phase), asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 2; ++i) co_await forkpool::run_in_executor(pool, crunch, n);
          pooled_phase.done = true;
        },
        asio::detached);
    io.run();
  }

  std::printf("max lag inline: %lld ms, through run_in_executor: %lld ms\n",
              static_cast<long long>(inline_phase.max_lag.count()),
              static_cast<long long>(pooled_phase.max_lag.count()));
  return 0;
}
