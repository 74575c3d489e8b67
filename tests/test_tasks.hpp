// Tasks shared by the pool tests, registered in test_tasks.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// Everything but <forkpool/event_loop.hpp> (Boost.Asio): the suites that use it include it.
#include <forkpool/any_executor.hpp>
#include <forkpool/client.hpp>
#include <forkpool/errors.hpp>
#include <forkpool/executor.hpp>
#include <forkpool/future.hpp>
#include <forkpool/imap_range.hpp>
#include <forkpool/init.hpp>
#include <forkpool/log.hpp>
#include <forkpool/options.hpp>
#include <forkpool/process_pool.hpp>
#include <forkpool/task.hpp>
#include <forkpool/thread_pool.hpp>
#include <forkpool/version.hpp>
#include <forkpool/wait.hpp>

namespace test_tasks {

struct point {
  int x = 0;
  int y = 0;
  std::string label;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(x, y, label);
  }
  bool operator==(const point&) const = default;
};

/// Counts the copies made of it in this process (moves are free), to check that forkpool hands
/// large values over instead of copying them.
struct copy_counted {
  static inline std::atomic<int> copies{0};
  std::vector<double> values;

  copy_counted() = default;
  explicit copy_counted(std::vector<double> v) : values(std::move(v)) {}
  copy_counted(const copy_counted& other) : values(other.values) { ++copies; }
  copy_counted(copy_counted&&) noexcept = default;
  copy_counted& operator=(const copy_counted& other) {
    values = other.values;
    ++copies;
    return *this;
  }
  copy_counted& operator=(copy_counted&&) noexcept = default;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(values);
  }
};

int square(int x);
double half_of(long x);  ///< x / 2.0: a number to a number of another type
int add(int a, int b);
std::string greet(const std::string& who);
std::vector<int> reversed(std::vector<int> values);
std::map<std::string, int> word_lengths(const std::vector<std::string>& words);
point moved(const point& p, int dx, int dy);
int answer();
void touch(int x);
std::uint64_t sleep_ms(int ms);  ///< sleeps, returns the worker's pid
int pid_of_worker();
int throws_runtime_error(const std::string& message);
int throws_int(int);
int aborts(int);
int segfaults(int);
int exits_with(int status);
std::string big_string(std::size_t bytes);
/// Whether this process may read a child's memory (ptrace rules: Yama, seccomp filters), as a
/// pool's master must to read large results in place; where it may not, results still arrive.
bool can_read_child_memory();
std::string patterned_string(std::size_t bytes, int seed);
/// `pieces` strings, large (`bytes`) and short by turns, each patterned with its own seed.
std::vector<std::string> patterned_pieces(std::size_t pieces, std::size_t bytes);
/// A large string and a large vector of numbers in one result.
std::pair<std::string, std::vector<double>> string_and_numbers(std::size_t bytes);
/// A result whose serialization encodes a temporary (its text, built while saving): never lent.
struct rendered {
  std::size_t bytes = 0;
  int seed = 0;
  template <class Archive>
  void save(Archive& archive) const {
    archive(patterned_string(bytes, seed));
  }
  template <class Archive>
  void load(Archive& archive) {
    std::string text;
    archive(text);
    bytes = text.size();
    seed = text == patterned_string(bytes, 0) ? 0 : -1;  // the only seed the tests use
  }
};
rendered render(std::size_t bytes);
copy_counted ramp(std::size_t count);                       ///< values 0.5, 1.5, 2.5, ...
double sum_of(const copy_counted& numbers);                 ///< content depends on every index
std::uint64_t weighted_sum(const std::string& data);        ///< changes if any byte moves
std::string environment_variable(const std::string& name);  ///< "" when unset
void leak_kib(int kib);                                     ///< allocates, touches and never frees
std::uint64_t ignore_sigterm_and_sleep(int ms);             ///< a task only SIGKILL can stop
int record_run(const std::string& path, int id);            ///< appends "id\n" to path, returns id
/// Appends a line to path, then waits until path has `peers` lines or 30 s have passed; returns
/// the lines it saw: `peers` only if that many calls ran at once.
int waits_for_peers(const std::string& path, int peers);
int fails_at_fifty(int x);     ///< x, but throws std::runtime_error for 50
int doubled_after_ms(int ms);  ///< sleeps ms then returns 2 * ms; for ms < 0 sleeps -ms and throws
/// SIGKILLs its own worker the first time any process runs it for `marker` (a file it creates),
/// then returns x.
int crashes_once(const std::string& marker, int x);
/// Hangs (until killed) the first time any process runs it for `marker`, then returns x.
int hangs_once(const std::string& marker, int x);
void mark_initialized();     ///< an initializer: sets FORKPOOL_TEST_INITIALIZED
void failing_initializer();  ///< an initializer that throws
int master_marker();         ///< a global the master sets before starting a pool
extern int master_marker_value;

/// True in a build with AddressSanitizer, which slows everything down and keeps freed memory
/// in quarantine (so RSS says little about leaks there).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

/// The start method the pool tests run under: FORKPOOL_TEST_START_METHOD (fork, forkserver,
/// spawn), forkserver by default. CTest runs the "pool" suite once per method.
inline forkpool::start_method start_method_under_test() {
  const char* name = std::getenv("FORKPOOL_TEST_START_METHOD");
  const std::string method = name ? name : "forkserver";
  if (method == "fork") return forkpool::start_method::fork;
  if (method == "spawn") return forkpool::start_method::spawn;
  return forkpool::start_method::forkserver;
}

/// Pool options for a test: `workers` workers, under the start method being tested.
inline forkpool::pool_options options(unsigned workers) {
  forkpool::pool_options o;
  o.workers = workers;
  o.start = start_method_under_test();
  return o;
}

/// Waits until the task behind `f` runs. Throws if it finishes first or has not started after
/// 20 s: a test whose premise failed (a stalled machine let a short task end unseen) fails rather
/// than hangs.
template <class Future>
void wait_until_running(const Future& f) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!f.running()) {
    if (f.done()) throw std::runtime_error("the task finished before it was seen running");
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the task has not started after 20 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// Waits until `pool` reports `count` workers with known pids (the fork server reports them a
/// moment after they start). Throws after 20 s: a pool that never gets there is a failure.
template <class Pool>
forkpool::pool_stats wait_for_workers(const Pool& pool, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    forkpool::pool_stats s = pool.stats();
    if (s.workers_alive >= count) return s;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the pool has " + std::to_string(s.workers_alive) +
                               " workers after 20 s, not " + std::to_string(count));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace test_tasks

int cube(int x);  ///< registered with FORKPOOL_TASK (its own name)
