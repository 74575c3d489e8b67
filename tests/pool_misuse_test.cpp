// What a program may do to a pool that the pool must survive without ending the program: destroy
// it from its own done callback, fork() with it alive, stop one of its workers with SIGSTOP,
// hand it an argument whose serialization throws.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "eventually.hpp"

#include <atomic>
#include <future>
#include <memory>
#include <thread>

#include "test_tasks.hpp"

using namespace forkpool;
using namespace test_tasks;

namespace misuse {

/// An argument whose serialization throws while the call is being encoded.
struct bomb {
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("bomb save");
  }
  template <class Archive>
  void load(Archive&) {}
};
int defuse(const bomb&) { return 1; }

/// Closes every descriptor above stderr, as a careless daemonizing library does.
int closes_descriptors(int) {
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  return 1;
}
/// Points every descriptor above stderr at /dev/null.
int nulls_descriptors(int) {
  const int null = ::open("/dev/null", O_RDWR);
  for (int fd = 3; fd < 1024; ++fd)
    if (fd != null) ::dup2(null, fd);
  return 1;
}

}  // namespace misuse

FORKPOOL_TASK_NAMED(misuse::defuse, "misuse.defuse");
FORKPOOL_TASK_NAMED(misuse::closes_descriptors, "misuse.closes_descriptors");
FORKPOOL_TASK_NAMED(misuse::nulls_descriptors, "misuse.nulls_descriptors");

namespace {

// Waits for a child process with a bound; kills it and returns -1 if it does not exit.
int wait_for_child(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(20)) {
  int status = 0;
  if (eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit))
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

}  // namespace

TEST_SUITE_BEGIN("pool");

TEST_CASE("pool: a process pool destroyed from its own done callback shuts down cleanly" *
          doctest::timeout(60)) {
  auto* pool = new process_pool(options(2));
  std::atomic<bool> destroyed{false};
  std::atomic<bool> wait_refused{false};
  std::atomic<bool> ran_here{false};
  const auto caller = std::this_thread::get_id();
  future<int> f = pool->submit(square, 3);
  f.add_done_callback([&] {
    // On a busy machine the call may be done before the callback is added: it then runs at once,
    // on this thread, where waiting for the pool is allowed.
    ran_here = std::this_thread::get_id() == caller;
    try {
      pool->shutdown({.wait = true});  // on the pool's thread: refused, not a hang
    } catch (const std::logic_error&) {
      wait_refused = true;
    }
    delete pool;
    destroyed = true;
  });
  // Nobody waits in get(), so the pool's own thread completes the call and runs the callback.
  CHECK(eventually([&] { return destroyed.load(); }));
  CHECK(f.get() == 9);
  CHECK(wait_refused == !ran_here);  // refused exactly on the pool's own thread
  process_pool next(options(1));     // the program goes on
  CHECK(next.submit(square, 4).get() == 16);
}

TEST_CASE("pool: a thread pool destroyed from one of its own tasks' callbacks shuts down cleanly" *
          doctest::timeout(60)) {
  auto* pool = new thread_pool({.workers = 2});
  std::atomic<bool> destroyed{false};
  future<int> f = pool->submit([] { return 5; });
  f.add_done_callback([&] {
    delete pool;
    destroyed = true;
  });
  CHECK(eventually([&] { return destroyed.load(); }));
  CHECK(f.get() == 5);
}

TEST_CASE("pool: a child made by fork() leaves the parent's pool alone and returns from main" *
          doctest::timeout(60)) {
  auto pool = std::make_unique<process_pool>(options(2));
  CHECK(pool->submit(square, 2).get() == 4);
  future<std::uint64_t> in_flight = pool->submit(sleep_ms, 300);
  wait_until_running(in_flight);
  const pid_t child = ::fork();
  if (child == 0) {
    int code = 0;
    try {
      (void)pool->submit(square, 3);
      code = 1;  // served: the parent's rings were used
    } catch (const std::logic_error&) {
    }
    try {
      (void)pool->stats();
      code = 2;
    } catch (const std::logic_error&) {
    }
    // Waiting here must not read the parent's rings (and so take the parent's result).
    (void)in_flight.wait_for(std::chrono::milliseconds(500));
    pool->shutdown();  // nothing to do in the child
    pool.reset();      // and the destructor returns at once
    ::_exit(code);
  }
  CHECK(wait_for_child(child) == 0);
  CHECK(in_flight.get() > 0);  // the parent got its own result
  CHECK(pool->submit(square, 6).get() == 36);
  const pool_stats s = pool->stats();
  CHECK(s.restarts_crash == 0);
  CHECK(s.failed == 0);
}

TEST_CASE("pool: shutdown kills a stopped idle worker after the grace period" *
          doctest::timeout(60)) {
  process_pool pool(options(2));
  CHECK(pool.submit(square, 2).get() == 4);
  const pool_stats s = wait_for_workers(pool, 2);
  const pid_t stopped = s.per_worker.front().pid;
  REQUIRE(::kill(stopped, SIGSTOP) == 0);
  auto done = std::async(std::launch::async, [&] { pool.shutdown(); });
  CHECK(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(eventually([&] { return ::kill(stopped, 0) != 0; }));  // gone, and reaped
}

TEST_CASE("pool: an argument whose serialization throws fails its future with bad_arguments" *
          doctest::timeout(60)) {
  process_pool pool(options(1));
  future<int> by_function;
  CHECK_NOTHROW(by_function = pool.submit(misuse::defuse, misuse::bomb{}));
  CHECK_THROWS_WITH_AS(by_function.get(), doctest::Contains("bomb save"), bad_arguments);
  future<int> by_name;
  CHECK_NOTHROW(by_name = pool.submit<int>("misuse.defuse", misuse::bomb{}));
  CHECK_THROWS_AS(by_name.get(), bad_arguments);
  std::vector<misuse::bomb> inputs(3);
  CHECK_THROWS_AS(pool.map(misuse::defuse, inputs), bad_arguments);
  CHECK(pool.submit(square, 7).get() == 49);  // still serving
  const pool_stats s = pool.stats();
  CHECK(s.failed >= 2);
  CHECK(s.queue_depth == 0);

  thread_pool threads({.workers = 1});
  future<int> on_thread;
  CHECK_NOTHROW(on_thread = threads.submit<int>("misuse.defuse", misuse::bomb{}));
  CHECK_THROWS_AS(on_thread.get(), bad_arguments);
}

// Whatever the task did to its descriptors, its call ends (with its result, read from the ring,
// or with worker_died), the worker is replaced, and the pool serves on and shuts down.
void check_worker_survives_a_task_that_breaks_its_channel(int (*task)(int)) {
  process_pool pool(options(1));
  CHECK(pool.submit(square, 2).get() == 4);
  future<int> breaker = pool.submit(task, 0);
  try {
    CHECK(breaker.get(std::chrono::seconds(20)) == 1);
  } catch (const worker_died& e) {
    MESSAGE(std::string(e.what()));
  }
  CHECK(eventually([&] { return pool.stats().restarts_crash == 1; }));
  for (int i = 0; i < 20; ++i) CHECK(pool.submit(square, i).get(std::chrono::seconds(20)) == i * i);
  auto done = std::async(std::launch::async, [&] { pool.shutdown(); });
  CHECK(done.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
}

TEST_CASE("pool: a task that closes its descriptors gets its worker replaced and nothing hangs" *
          doctest::timeout(90)) {
  check_worker_survives_a_task_that_breaks_its_channel(misuse::closes_descriptors);
}

TEST_CASE("pool: a task that points its descriptors at /dev/null gets its worker replaced" *
          doctest::timeout(90)) {
  check_worker_survives_a_task_that_breaks_its_channel(misuse::nulls_descriptors);
}

TEST_SUITE_END();
