// The rest of the executor pattern: force_sync, set_default_executor, any_executor.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>

#include <forkpool/event_loop.hpp>
#include "eventually.hpp"

#include "test_tasks.hpp"

using namespace forkpool;
namespace asio = boost::asio;

namespace {

// The pid of the process that ran it, after `ms` milliseconds: which pool a call ran on.
int pid_after_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}

asio::awaitable<int> doubled_async(int x) { co_return 2 * x; }

std::atomic<int> void_coroutine_runs{0};
asio::awaitable<void> count_async() {
  ++void_coroutine_runs;
  co_return;
}

asio::awaitable<int> failing_async(int) {
  throw std::runtime_error("the coroutine failed");
  co_return 0;
}

std::set<int> worker_pids(process_pool& pool) {
  std::set<int> pids;
  for (const auto& w : test_tasks::wait_for_workers(pool, pool.options().workers).per_worker)
    pids.insert(w.pid);
  return pids;
}

}  // namespace

FORKPOOL_TASK(pid_after_ms);

static_assert(executor<any_executor>);

TEST_CASE("asio: force_sync returns a coroutine's value" * doctest::timeout(30)) {
  auto doubled = force_sync(doubled_async);
  CHECK(doubled(21) == 42);
  CHECK(doubled(-4) == -8);
}

TEST_CASE("asio: force_sync runs an awaitable of void and rethrows the coroutine's exception" *
          doctest::timeout(30)) {
  const int before = void_coroutine_runs.load();
  force_sync(count_async)();
  CHECK(void_coroutine_runs.load() == before + 1);
  auto failing = force_sync(failing_async);
  CHECK_THROWS_WITH_AS(failing(1), "the coroutine failed", std::runtime_error);
}

TEST_CASE("asio: force_sync on an executor runs there and refuses that executor's own thread" *
          doctest::timeout(30)) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::atomic<std::thread::id> ran_on{};
  auto where_async = [&](int x) -> asio::awaitable<int> {
    ran_on = std::this_thread::get_id();
    co_return x + 1;
  };
  auto on_io = force_sync(io.get_executor(), where_async);
  CHECK(on_io(41) == 42);
  CHECK(ran_on.load() == runner.get_id());
  // From io's own thread the wait could never end: refused, not a hang.
  std::promise<std::string> refusal;
  asio::post(io, [&] {
    try {
      on_io(1);
      refusal.set_value("no error");
    } catch (const std::logic_error& e) {
      refusal.set_value(e.what());
    }
  });
  CHECK(refusal.get_future().get().find("would wait for itself forever") != std::string::npos);
  // The same through a type-erased executor.
  auto erased = force_sync(asio::any_io_executor(io.get_executor()), where_async);
  CHECK(erased(1) == 2);
  work.reset();
  runner.join();
}

TEST_CASE(
    "executor: an any_executor switched between pools while calls run keeps each call where it started" *
    doctest::timeout(60)) {
  thread_pool threads(pool_options{.workers = 2});
  process_pool processes(test_tasks::options(2));
  const std::set<int> workers = worker_pids(processes);
  const int here = static_cast<int>(::getpid());
  any_executor ex(threads);
  CHECK_FALSE(ex.holds_process_pool());
  future<int> on_threads = ex.submit(pid_after_ms, 300);
  ex.set_executor(processes);
  CHECK(ex.holds_process_pool());
  future<int> on_processes = ex.submit(pid_after_ms, 300);
  future<int> by_name = ex.submit<int>("pid_after_ms", 0);
  ex.set_executor(threads);
  future<int> back_on_threads = ex.submit(pid_after_ms, 0);
  CHECK(on_threads.get() == here);
  CHECK(workers.count(on_processes.get()) == 1);
  CHECK(workers.count(by_name.get()) == 1);
  CHECK(back_on_threads.get() == here);
  ex.set_executor(processes);
  const std::vector<int> pids = ex.map(pid_after_ms, std::vector<int>{0, 0, 0});
  for (int pid : pids) CHECK(workers.count(pid) == 1);
  CHECK(ex.stats().workers_alive == 2);
  CHECK(ex.stats().completed >= 5);
}

TEST_CASE(
    "executor: an any_executor holding a process_pool refuses a closure with invalid_argument" *
    doctest::timeout(60)) {
  thread_pool threads(pool_options{.workers = 1});
  process_pool processes(test_tasks::options(1));
  any_executor ex(processes);
  const int factor = 3;
  auto closure = [factor](int x) { return x * factor; };
  try {
    (void)ex.submit(closure, 2);
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("cannot cross into another process") != std::string::npos);
  }
  CHECK_THROWS_AS((void)ex.map(closure, std::vector<int>{1}), std::invalid_argument);
  CHECK(ex.submit(test_tasks::square, 5).get() == 25);  // a registered task still runs
  ex.set_executor(threads);
  CHECK(ex.submit(closure, 2).get() == 6);
  // shutdown reaches the pool held now, and only that one.
  ex.shutdown();
  CHECK_THROWS_AS((void)threads.submit(closure, 1), pool_shut_down);
  CHECK(processes.submit(test_tasks::square, 4).get() == 16);
}

TEST_CASE("asio: set_default_executor from two threads while calls run" * doctest::timeout(90)) {
  thread_pool threads(pool_options{.workers = 2});
  process_pool processes(test_tasks::options(2));
  const std::set<int> workers = worker_pids(processes);
  const int here = static_cast<int>(::getpid());
  // A call started on one default finishes there after the default changes.
  set_default_executor(processes);
  auto offload = force_async(pid_after_ms);  // goes to the default of each call's moment
  std::future<int> in_flight =
      std::async(std::launch::async, [&] { return force_sync(offload)(300); });
  CHECK(eventually([&] { return processes.stats().queue_depth == 1; }));
  set_default_executor(threads);
  CHECK(workers.count(in_flight.get()) == 1);
  CHECK(force_sync(offload)(0) == here);

  std::atomic<bool> stop{false};
  auto switcher = [&](bool to_processes) {
    for (int i = 0; i < 200 && !stop; ++i) {
      if ((i % 2 == 0) == to_processes) {
        set_default_executor(processes);
      } else {
        set_default_executor(threads);
      }
      std::this_thread::yield();
    }
  };
  std::thread a(switcher, true), b(switcher, false);
  int on_threads = 0, on_processes = 0, elsewhere = 0;
  for (int i = 0; i < 200; ++i) {
    const int pid = force_sync(offload)(0);
    if (pid == here)
      ++on_threads;
    else if (workers.count(pid) == 1)
      ++on_processes;
    else
      ++elsewhere;
  }
  stop = true;
  a.join();
  b.join();
  CHECK(elsewhere == 0);
  CHECK(on_threads + on_processes == 200);
  set_default_executor(default_executor());  // before these pools go
}
